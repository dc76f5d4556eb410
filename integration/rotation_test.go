package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
)

// kidOf reads the kid of a compact JWS.
func kidOf(t *testing.T, raw string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct{ Kid string }
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	return header.Kid
}

func publishedKids(t *testing.T) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(send(t, http.MethodGet, "/.well-known/jwks.json", "", nil).Body, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

// TestKeyRotationWithoutRestart rotates the signing key on the running
// stack the way docs/deploy.md tells an operator to (the previous alias
// keeps the current key, the current alias moves to a new key) and checks,
// without recycling any function, that new tokens are signed with the new
// key within the refresh interval and verify everywhere, that tokens of the
// old key keep verifying, and that the JWKS publishes both.
func TestKeyRotationWithoutRestart(t *testing.T) {
	ctx := context.Background()
	const interval = time.Second
	for _, d := range env.svc.Deps {
		d.Signer.(*kmssigner.Signer).ResolveEvery = interval
	}
	t.Cleanup(func() {
		for _, d := range env.svc.Deps {
			d.Signer.(*kmssigner.Signer).ResolveEvery = 5 * time.Minute
		}
	})
	alias := env.svc.Resources.KeyAlias
	old := adminToken(t)
	oldKid := kidOf(t, old)
	// local-kms, unlike KMS, moves an alias only between keys of one type.
	current, err := env.svc.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(env.svc.Resources.KeyARN)})
	if err != nil {
		t.Fatal(err)
	}
	created, err := env.svc.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: current.KeyMetadata.KeySpec, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	point := func(alias string, keyID *string) {
		t.Helper()
		if _, err := env.svc.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: keyID}); err != nil {
			t.Fatal(err)
		}
	}
	// The previous alias already points at the current key (a new stack's
	// state); the rotation is one alias update.
	point(alias, created.KeyMetadata.KeyId)
	t.Cleanup(func() {
		// Rotate back the same way: the previous alias keeps the key
		// that signed meanwhile, the current one returns to the first.
		point(alias+"-previous", created.KeyMetadata.KeyId)
		point(alias, aws.String(env.svc.Resources.KeyARN))
		time.Sleep(interval + 100*time.Millisecond)
		for _, d := range env.svc.Deps {
			if _, err := d.Signer.Keys(ctx); err != nil {
				t.Error(err)
			}
		}
	})
	time.Sleep(interval + 100*time.Millisecond)

	fresh := adminToken(t)
	newKid := kidOf(t, fresh)
	if newKid == oldKid {
		t.Fatalf("still signing with %s after the refresh interval", oldKid)
	}
	for name, tok := range map[string]string{"new key": fresh, "old key": old} {
		if r := send(t, http.MethodGet, "/v1/clients", tok, nil); r.Status != http.StatusOK {
			t.Errorf("token of the %s: %s", name, r)
		}
	}
	if kids := publishedKids(t); !slices.Contains(kids, oldKid) || !slices.Contains(kids, newKid) {
		t.Errorf("JWKS %v, want both %s and %s", kids, oldKid, newKid)
	}
}

// TestUnknownKidsDoNotDriveKMS: forged tokens naming unknown keys make a
// function read its keys again at most once per retry interval, however
// many arrive.
func TestUnknownKidsDoNotDriveKMS(t *testing.T) {
	tok := adminToken(t)
	parts := strings.Split(tok, ".")
	env.calls.reset()
	for i := range 30 {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"forged-` + strings.Repeat("k", i) + `"}`))
		if r := send(t, http.MethodGet, "/v1/clients", header+"."+parts[1]+"."+parts[2], nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("forged kid: %s", r)
		}
	}
	// One forced refresh: the current and the previous alias.
	if n := env.calls.snapshot()["KMS:GetPublicKey"]; n > 2 {
		t.Errorf("%d GetPublicKey calls for 30 unknown kids, want at most 2", n)
	}
}
