package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokensForResourceServers: RFC 8707 resources become aud, each must be
// one of the client's allowedAudiences (else invalid_target); a client's
// lifetime and claims go into its tokens; such a token is not one for the
// management API; a client without the new fields gets what it got before.
func TestTokensForResourceServers(t *testing.T) {
	admin := adminToken(t)
	body := clientBody("resource-client", "api", "services.iam")
	body["allowedAudiences"] = []string{"https://api.example.test", "https://b.example.test/v1"}
	body["accessTokenLifetime"] = 600
	body["tokenClaims"] = map[string]string{"team": "erp", "tier": "gold"}
	r := send(t, http.MethodPost, "/v1/clients", admin, body)
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	created := r.json(t)
	cid := created["clientId"].(string)
	if created["accessTokenLifetime"] != 600.0 || len(created["allowedAudiences"].([]any)) != 2 || created["tokenClaims"].(map[string]any)["team"] != "erp" {
		t.Fatalf("created %v", created)
	}
	secret := "resource-secret-1"
	send(t, http.MethodPost, "/v1/clients/"+cid+"/secrets", admin, map[string]string{"value": secret, "description": "x"})
	token := func(resources ...string) response {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {secret}}
		if len(resources) > 0 {
			form["resource"] = resources
		}
		return send(t, http.MethodPost, "/connect/token", "", form)
	}

	one := token("https://api.example.test")
	if one.Status != http.StatusOK || one.json(t)["expires_in"] != 600.0 {
		t.Fatal(one)
	}
	c := claimsOf(t, one.json(t)["access_token"].(string))
	if c["aud"] != "https://api.example.test" || c["exp"].(float64)-c["iat"].(float64) != 600 || c["team"] != "erp" || c["tier"] != "gold" || c["sub"] != "client-"+cid {
		t.Errorf("claims %v", c)
	}
	both := claimsOf(t, token("https://b.example.test/v1", "https://api.example.test").json(t)["access_token"].(string))
	if aud, ok := both["aud"].([]any); !ok || len(aud) != 2 {
		t.Errorf("two resources: aud %v", both["aud"])
	}
	all := claimsOf(t, token().json(t)["access_token"].(string))
	if aud, ok := all["aud"].([]any); !ok || len(aud) != 2 {
		t.Errorf("no resource: aud %v, want the allowed audiences", all["aud"])
	}
	for _, bad := range [][]string{{"https://other.example.test"}, {"/relative"}, {"https://api.example.test#f"}, {"https://api.example.test", "https://other.example.test"}} {
		r := token(bad...)
		if r.Status != http.StatusBadRequest || r.json(t)["error"] != "invalid_target" {
			t.Errorf("resource %v: %s", bad, r)
		}
	}
	// A token for another API is not a token for this one.
	assertProblem(t, send(t, http.MethodGet, "/v1/clients/"+cid, one.json(t)["access_token"].(string), nil), http.StatusUnauthorized)

	// Aritma-shaped clients: no new fields on the wire, the default aud.
	plain, plainSecret := newClient(t, admin, "plain-client", "api")
	got := send(t, http.MethodGet, "/v1/clients/"+plain, admin, nil).json(t)
	for _, f := range []string{"allowedAudiences", "accessTokenLifetime", "tokenClaims"} {
		if _, ok := got[f]; ok {
			t.Errorf("a client without %s shows it: %v", f, got)
		}
	}
	pc := claimsOf(t, tokenFor(t, tenant.Default, plain, plainSecret, ""))
	if pc["aud"] != env.base+"/resources" || pc["exp"].(float64)-pc["iat"].(float64) != 3600 {
		t.Errorf("plain client's claims %v", pc)
	}
	if r := send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {plain},
		"client_secret": {plainSecret}, "resource": {"https://api.example.test"}}); r.Status != http.StatusBadRequest || r.json(t)["error"] != "invalid_target" {
		t.Errorf("a client with no audiences asking for one: %s", r)
	}
}

func TestResourceFieldsValidation(t *testing.T) {
	admin := adminToken(t)
	for name, mod := range map[string]map[string]any{
		"reserved claim":      {"tokenClaims": map[string]string{"sub": "x"}},
		"scope claim":         {"tokenClaims": map[string]string{"Scope": "owner"}},
		"scp claim":           {"tokenClaims": map[string]string{"scp": "api"}},
		"bad claim name":      {"tokenClaims": map[string]string{"1x": "y"}},
		"lifetime too short":  {"accessTokenLifetime": 30},
		"lifetime too long":   {"accessTokenLifetime": 86401},
		"audience fragment":   {"allowedAudiences": []string{"https://a.example.test#x"}},
		"audience relative":   {"allowedAudiences": []string{"api"}},
		"audience twice":      {"allowedAudiences": []string{"https://a.example.test", "https://a.example.test"}},
		"audience with query": {"allowedAudiences": []string{"https://a.example.test/?x=1"}},
		"audience port":       {"allowedAudiences": []string{"https://a.example.test:999999"}},
		"redirect port":       {"redirectUris": []string{"http://localhost:999999/cb"}},
		"redirect empty port": {"redirectUris": []string{"https://a.example.test:/cb"}},
	} {
		t.Run(name, func(t *testing.T) {
			body := clientBody("invalid-resource-client")
			for k, v := range mod {
				body[k] = v
			}
			assertProblem(t, send(t, http.MethodPost, "/v1/clients", admin, body), http.StatusBadRequest)
		})
	}
}

// TestAudiencesAndClaimsAreHeld: a delegated client manager can give a
// client only audiences and claims it has itself.
func TestAudiencesAndClaimsAreHeld(t *testing.T) {
	admin := adminToken(t)
	c := newCaller(t, admin, "audience-manager")
	grant(t, admin, c.subject, "iam.client.manage", "/clients")
	body := clientBody("given-audiences", "api")
	body["allowedAudiences"] = []string{"https://payments.example.test"}
	assertLacks(t, send(t, http.MethodPost, "/v1/clients", c.token(t), body), "audience https://payments.example.test")
	body = clientBody("given-claims", "api")
	body["tokenClaims"] = map[string]string{"role": "admin"}
	assertLacks(t, send(t, http.MethodPost, "/v1/clients", c.token(t), body), "token claim role=admin")
	// Its own record: widening is the same.
	// A client that calls the management API and other APIs lists the
	// service's own audience among its allowed ones.
	self := clientBody("audience-manager", "services.iam", "api")
	self["allowedAudiences"] = []string{"https://payments.example.test", env.base + "/resources"}
	assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+c.id, c.token(t), self), "audience https://payments.example.test")
	if r := send(t, http.MethodPut, "/v1/clients/"+c.id, admin, self); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	body = clientBody("given-audiences", "api")
	body["allowedAudiences"] = []string{"https://payments.example.test"}
	if r := send(t, http.MethodPost, "/v1/clients", c.token(t), body); r.Status != http.StatusCreated {
		t.Fatalf("an audience it holds: %s", r)
	}
}

// TestClearingAudiencesIsHeld: clearing another client's audiences hands
// its tokens the management API's audience back, so its policies work
// there again; only a caller holding them may.
func TestClearingAudiencesIsHeld(t *testing.T) {
	admin := adminToken(t)
	c := newCaller(t, admin, "audience-clearer")
	grant(t, admin, c.subject, "iam.client.update", "/clients")
	body := clientBody("fenced", "services.iam")
	body["allowedAudiences"] = []string{"https://api.example.test"}
	fenced := send(t, http.MethodPost, "/v1/clients", admin, body).json(t)["clientId"].(string)
	grant(t, admin, "client-"+fenced, "iam.policy.manage", "/")
	// The caller holds the audience it removes (and keeps its own API
	// access), so only the reopened management API is in question.
	own := clientBody("audience-clearer", "services.iam", "api")
	own["allowedAudiences"] = []string{"https://api.example.test", env.base + "/resources"}
	if r := send(t, http.MethodPut, "/v1/clients/"+c.id, admin, own); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+fenced, c.token(t), clientBody("fenced", "services.iam")), "iam.policy.manage on /")
	if r := send(t, http.MethodPut, "/v1/clients/"+fenced, admin, clientBody("fenced", "services.iam")); r.Status != http.StatusOK {
		t.Fatalf("the owner clears them: %s", r)
	}
}

// TestTokenSizeBounds: what a client adds to its tokens is bounded in
// total, so its largest token (every audience, every claim) still passes
// this service's own guard, which refuses bearer tokens over 8 KiB.
func TestTokenSizeBounds(t *testing.T) {
	admin := adminToken(t)
	// fill returns n strings of total bytes, each starting with head(i).
	fill := func(n, total int, head func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			size := total / n
			if i < total%n {
				size++
			}
			out[i] = head(i) + strings.Repeat("x", size-len(head(i)))
		}
		return out
	}
	tooMany := clientBody("oversized-claims")
	claims := map[string]string{}
	for i := range client.MaxTokenClaims {
		claims[fmt.Sprintf("claim%d", i)] = strings.Repeat("v", client.MaxClaimValueLength)
	}
	tooMany["tokenClaims"] = claims
	r := send(t, http.MethodPost, "/v1/clients", admin, tooMany)
	assertProblem(t, r, http.StatusBadRequest)
	if errs, _ := r.json(t)["errors"].(map[string]any); errs["tokenClaims"] == nil {
		t.Errorf("ten 256-character claims: %s", r)
	}
	wide := clientBody("oversized-audiences")
	wide["allowedAudiences"] = fill(client.MaxAudiences, client.MaxAudiencesSize+1, func(i int) string { return fmt.Sprintf("https://api%02d.example.test/", i) })
	assertProblem(t, send(t, http.MethodPost, "/v1/clients", admin, wide), http.StatusBadRequest)

	largest := clientBody("largest-tokens", "services.iam", "api")
	own := env.base + "/resources"
	largest["allowedAudiences"] = append([]string{own}, fill(client.MaxAudiences-1, client.MaxAudiencesSize-len(own),
		func(i int) string { return fmt.Sprintf("https://api%02d.example.test/", i) })...)
	claims = map[string]string{}
	values := fill(client.MaxTokenClaims, client.MaxTokenClaimsSize-64*client.MaxTokenClaims, func(int) string { return "" })
	for i, v := range values {
		claims[fmt.Sprintf("claim%02d", i)+strings.Repeat("n", 57)] = v
	}
	largest["tokenClaims"] = claims
	r = send(t, http.MethodPost, "/v1/clients", admin, largest)
	if r.Status != http.StatusCreated {
		t.Fatalf("a client at the bounds: %s", r)
	}
	id := r.json(t)["clientId"].(string)
	secret := "largest-token-secret"
	send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]string{"value": secret, "description": "x"})
	tok := tokenFor(t, tenant.Default, id, secret, "")
	if aud, _ := claimsOf(t, tok)["aud"].([]any); len(aud) != client.MaxAudiences || len(tok) >= 8192 {
		t.Fatalf("%d bytes, aud %v", len(tok), aud)
	}
	// Not 401: the guard reads the token; the client may do nothing yet.
	assertProblem(t, send(t, http.MethodGet, "/v1/clients/"+id, tok, nil), http.StatusForbidden)
}
