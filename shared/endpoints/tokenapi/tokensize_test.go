package tokenapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/apis"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// everyTenant serves its one client in whichever tenant is asked.
type everyTenant struct{ *memoryCredentials }

func (e everyTenant) GetCredentials(ctx context.Context, _, key, address string, window time.Time) (store.CredentialRecord, error) {
	return e.memoryCredentials.GetCredentials(ctx, "default", key, address, window)
}

// largestSpec is the valid client whose tokens are the largest: every scope
// of the catalog, the most audiences and claims, each set at its total
// bound, with characters JSON escapes (each counts as its escape).
func largestSpec(scopes *oauthscope.Catalog) client.Spec {
	s := client.Spec{Name: "largest", Description: "the largest token", GrantTypes: []string{client.GrantClientCredentials},
		Scopes: scopes.Names(), RedirectURIs: []string{}, TokenClaims: map[string]string{}}
	// fill returns n strings that start with prefix and total size bytes
	// of JSON.
	fill := func(prefix string, n, total int) []string {
		out := make([]string, n)
		for i := range out {
			size := total / n
			if i < total%n {
				size++
			}
			head := fmt.Sprintf("%s%02d/&", prefix, i) // "&" is \u0026 in JSON: 6 bytes
			b, _ := json.Marshal(head)
			out[i] = head + strings.Repeat("a", size-(len(b)-2))
		}
		return out
	}
	s.Audiences = fill("https://api.example.com/", client.MaxAudiences, client.MaxAudiencesSize)
	const name = 64 // the longest claim name
	for i, v := range fill("<", client.MaxTokenClaims, client.MaxTokenClaimsSize-client.MaxTokenClaims*name) {
		s.TokenClaims[fmt.Sprintf("c%02d%s", i, strings.Repeat("x", name-3))] = v
	}
	return s
}

// TestLargestTokenFitsInAHeader mints, through the token endpoint, the
// largest token this service can: the largest valid client (largestSpec),
// the longest issuer (the longest base URL and tenant name), every scope,
// every audience, the longest lifetime, RS256. It must fit where gateways
// and this service's own guard take bearer tokens: under 8 KiB with
// "Bearer ".
func TestLargestTokenFitsInAHeader(t *testing.T) {
	scopes := access.NewCatalogs(apis.Builtin(), noAPIs{}).Builtin().Scopes
	spec := largestSpec(scopes)
	if errs := spec.Validate(scopes, 24*time.Hour); errs != nil {
		t.Fatalf("the largest spec must be valid: %v", errs)
	}
	// One byte more is refused: the spec is at the bounds, not below them.
	over := largestSpec(scopes)
	over.Audiences[0] += "a"
	for k := range over.TokenClaims {
		over.TokenClaims[k] += "a"
		break
	}
	if errs := over.Validate(scopes, 24*time.Hour); len(errs["allowedAudiences"]) == 0 || len(errs["tokenClaims"]) == 0 {
		t.Fatalf("one byte over the bounds must be refused: %v", errs)
	}

	svc := newTestService(t)
	creds := svc.Credentials.(*memoryCredentials)
	creds.client.Scopes, creds.client.Audiences, creds.client.TokenClaims = spec.Scopes, spec.Audiences, spec.TokenClaims
	creds.client.TokenLifetime = 24 * time.Hour
	svc.Credentials = everyTenant{creds}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := signer.NewLocal(priv)
	svc.Minter = &token.Minter{Signer: sig, Lifetime: time.Hour, Now: time.Now}
	base := "https://" + strings.Repeat("h", tenant.MaxBaseURLLength-len("https://"))
	svc.IssuerBase = func(*http.Request) string { return base }
	ten := strings.Repeat("t", 63)

	r := httptest.NewRequest(http.MethodPost, "/"+ten+"/connect/token", strings.NewReader(
		"grant_type=client_credentials&client_id="+knownID+"&client_secret="+knownSecret))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	svc.Handler().ServeHTTP(w, r)
	var body struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	claims := claimsOfToken(t, body.AccessToken)
	if aud, _ := claims["aud"].([]any); len(aud) != client.MaxAudiences || len(strings.Fields(body.Scope)) != len(scopes.Names()) ||
		claims["iss"] != base+"/"+ten || len(claims) != 10+client.MaxTokenClaims {
		t.Fatalf("not the largest token: scope %q, claims %v", body.Scope, claims)
	}
	header := "Bearer " + body.AccessToken
	t.Logf("largest token: %d bytes (Authorization header %d of %d)", len(body.AccessToken), len(header), access.MaxTokenLength)
	if len(body.AccessToken) >= 8192 || len(header) > access.MaxTokenLength {
		t.Fatalf("the largest token is %d bytes; it must fit in %d with %q", len(body.AccessToken), access.MaxTokenLength, "Bearer ")
	}
}

// claimsOfToken decodes a JWT's payload without verifying it.
func claimsOfToken(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
