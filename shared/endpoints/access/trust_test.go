package access

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// trustedGrants is a GrantsReader for which client-x, whose tokens may
// carry https://id.example.com/other, is trusted for that audience by a
// client of another tenant, and holds nothing itself.
type trustedGrants struct{}

func (trustedGrants) Grants(_ context.Context, _, subjectID string) (policy.Grants, error) {
	if subjectID == "client-x" {
		return policy.Grants{TokenRights: policy.TokenRights{Audiences: []string{"https://id.example.com/other"}}}, nil
	}
	return policy.Grants{}, nil
}

func (trustedGrants) TokenRevoked(context.Context, string, string, string) (bool, error) {
	return false, nil
}

func (trustedGrants) TrustedBy(_ context.Context, _, clientID string, audiences []string) ([]string, error) {
	if clientID == "x" && slices.Contains(audiences, "https://id.example.com/other") {
		return []string{"other/client-y"}, nil
	}
	return nil, nil
}

// TestTrustChainsCountInHoldings: what a client trusted by another
// tenant's client holds, to whoever would confer or take it, includes
// owner on / (standing for the trusting client's holdings); to itself, and
// as what a caller holds, it does not.
func TestTrustChainsCountInHoldings(t *testing.T) {
	a := &Policies{Grants: trustedGrants{}, Catalogs: NewCatalogs(apis.Builtin(), noAPIs{}), DefaultLifetime: time.Hour}
	other := WithPrincipal(context.Background(), Principal{Tenant: "t", Subject: "client-admin"})
	g, err := a.Holdings(other, "t", "client-x")
	if err != nil || len(policy.Evaluate(a.Catalogs.Builtin().Actions, g, action.Owner, "/")) == 0 {
		t.Fatalf("holdings of a trusted client seen by another caller = %+v, %v: want owner on /", g, err)
	}
	self := WithPrincipal(context.Background(), Principal{Tenant: "t", Subject: "client-x"})
	if g, _ := a.Holdings(self, "t", "client-x"); len(g.Direct) != 0 {
		t.Errorf("the trusted client's own holdings = %+v, want none", g)
	}
	if lacking, _ := a.Lacks(self, Principal{Tenant: "t", Subject: "client-x"}, policy.Grants{Direct: []policy.Policy{{Subject: "client-z", Action: "iam.client.read", Scope: "/"}}}); len(lacking) == 0 {
		t.Error("a trusted client was counted as holding what it would confer")
	}
}

// noAPIs is a tenant that registered no APIs.
type noAPIs struct{}

func (noAPIs) ListAPIs(context.Context, string) ([]apis.API, error) { return nil, nil }
