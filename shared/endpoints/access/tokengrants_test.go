package access

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// killedGrants is a TokenGrantsReader whose one client's kill switch was
// pulled at killedAt and whose token "revoked" was revoked.
type killedGrants struct{ killedAt time.Time }

func (k killedGrants) Grants(context.Context, string, string) (policy.Grants, error) {
	return policy.Grants{Revocation: policy.Revocation{KilledAt: k.killedAt}}, nil
}

func (killedGrants) TokenRevoked(_ context.Context, _, _, jti string) (bool, error) {
	return jti == "revoked", nil
}

// TestTokenGrantsAppliesEveryRevocation: a token issued before the kill
// switch does not count, with a jti or without one; a revoked jti does not
// count; a later token does; and without a token only the grants count.
func TestTokenGrantsAppliesEveryRevocation(t *testing.T) {
	killedAt := time.Unix(1_800_000_000, 0)
	r := killedGrants{killedAt: killedAt}
	ctx := context.Background()
	for name, c := range map[string]struct {
		tok  *TokenRef
		want error
	}{
		"issued before the kill switch":             {&TokenRef{ClientID: "c", ID: "t1", IssuedAt: killedAt.Add(-time.Second)}, ErrRevoked},
		"issued before the kill switch, no jti":     {&TokenRef{ClientID: "c", IssuedAt: killedAt.Add(-time.Second)}, ErrRevoked},
		"revoked itself":                            {&TokenRef{ClientID: "c", ID: "revoked", IssuedAt: killedAt.Add(time.Second)}, ErrRevoked},
		"issued after the kill switch":              {&TokenRef{ClientID: "c", ID: "t2", IssuedAt: killedAt.Add(time.Second)}, nil},
		"no token (a decision asked by subject id)": {nil, nil},
	} {
		if _, err := TokenGrants(ctx, r, "t", "client-c", c.tok); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
