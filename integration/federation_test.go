package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-jose/go-jose/v4"

	"github.com/machine-iam/machine-iam/local/ststest"
	"github.com/machine-iam/machine-iam/shared/oauth/stsidentity"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
)

// stsRoles are the principals the STS stand-in knows.
var stsRoles = []ststest.Identity{
	{
		Credentials: aws.Credentials{AccessKeyID: "ASIAORDERSDEPLOY0001", SecretAccessKey: "ordersdeploysecret000000000000000000001", SessionToken: "orders-session"},
		Arn:         "arn:aws:sts::123456789012:assumed-role/orders-deploy/lambda-orders",
		UserID:      "AROAORDERSDEPLOYROLE1:lambda-orders", Account: "123456789012",
	},
	{
		Credentials: aws.Credentials{AccessKeyID: "ASIABILLINGJOB000001", SecretAccessKey: "billingjobsecret0000000000000000000001", SessionToken: "billing-session"},
		Arn:         "arn:aws:sts::123456789012:assumed-role/billing-job/lambda-billing",
		UserID:      "AROABILLINGJOBROLE001:lambda-billing", Account: "123456789012",
	},
}

// testIssuer is an OIDC issuer on this machine serving GitHub
// Actions-shaped tokens: a discovery document, a key set, and a signing
// key, with a hook to misbehave.
type testIssuer struct {
	*httptest.Server
	key       *rsa.PrivateKey
	kid       string
	jwksCalls atomic.Int64
	misbehave atomic.Value // func(http.ResponseWriter, *http.Request) bool
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{key: key, kid: "gh-1"}
	is.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m, ok := is.misbehave.Load().(func(http.ResponseWriter, *http.Request) bool); ok && m(w, r) {
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/.well-known/jwks",
				"id_token_signing_alg_values_supported": []string{"RS256"}})
		case "/.well-known/jwks":
			is.jwksCalls.Add(1)
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(is.Close)
	return is
}

// job returns the claims of a GitHub Actions job token for acme/orders'
// production deployment from main, for audience aud.
func (is *testIssuer) job(aud string) map[string]any { return jobClaims(is.URL, aud) }

func jobClaims(iss, aud string) map[string]any {
	now := env.clock.Now()
	return map[string]any{
		"iss": iss, "aud": aud, "sub": "repo:acme/orders:environment:production",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "job-" + now.Format("150405.000000"),
		"repository": "acme/orders", "repository_owner": "acme", "repository_owner_id": "4242", "ref": "refs/heads/main",
		"environment": "production", "job_workflow_ref": "acme/orders/.github/workflows/deploy.yml@refs/heads/main",
		"event_name": "push", "runner_environment": "github-hosted",
	}
}

// sign signs claims with the issuer's key, or with key and kid.
func (is *testIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	return signWith(t, is.key, is.kid, jose.RS256, claims)
}

func signWith(t *testing.T, key any, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	return assertionSigner{key: key, alg: alg, kid: kid}.sign(t, claims)
}

// federatedToken asks for a token of client cid with a federated assertion,
// from hc's address.
func federatedToken(t *testing.T, hc *http.Client, ten, cid, assertionType, assertion string) response {
	t.Helper()
	return sendVia(t, hc, http.MethodPost, tokenPath(ten), "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cid},
		"client_assertion_type": {assertionType}, "client_assertion": {assertion}})
}

func assertInvalidClient(t *testing.T, what string, r response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `"invalid_client"`) {
		t.Errorf("%s: %s, want 401 invalid_client", what, r)
	}
}

// newFederatedClient creates a client without a secret and gives it the
// credential body, returning both ids.
func newFederatedClient(t *testing.T, admin, name string, cred map[string]any, scopes ...string) (cid, credID string) {
	t.Helper()
	r := send(t, http.MethodPost, "/v1/clients", admin, clientBody(name, scopes...))
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	cid = r.json(t)["clientId"].(string)
	c := send(t, http.MethodPost, "/v1/clients/"+cid+"/federated-credentials", admin, cred)
	if c.Status != http.StatusCreated {
		t.Fatalf("create federated credential: %s", c)
	}
	return cid, c.json(t)["id"].(string)
}

// TestFederatedGitHubActions: a client without a secret gets tokens for a
// GitHub Actions job's OIDC token that matches its credential in full, and
// for nothing else: expired, for another audience, another subject (a pull
// request), another owner, an unknown key, a tampered signature, a
// lifetime past the maximum, a symmetric algorithm.
func TestFederatedGitHubActions(t *testing.T) {
	admin := adminToken(t)
	is := newTestIssuer(t)
	cid, credID := newFederatedClient(t, admin, "gh-deployer", map[string]any{"type": "oidc", "issuer": is.URL,
		"subject": "repo:acme/orders:environment:production", "claims": map[string]string{"repository_owner_id": "4242"},
		"description": "deploy job of acme/orders"})
	list := send(t, http.MethodGet, "/v1/clients/"+cid+"/federated-credentials", admin, nil)
	items, _ := list.json(t)["items"].([]any)
	if list.Status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["audience"] != env.base {
		t.Fatalf("list: %s (audience should default to the tenant's issuer %s)", list, env.base)
	}
	if items[0].(map[string]any)["lastUsedAt"] != nil {
		t.Errorf("lastUsedAt before any use: %s", list)
	}
	lastUsed := func() any {
		t.Helper()
		l := send(t, http.MethodGet, "/v1/clients/"+cid+"/federated-credentials", admin, nil)
		items, _ := l.json(t)["items"].([]any)
		if l.Status != http.StatusOK || len(items) != 1 {
			t.Fatalf("list: %s", l)
		}
		return items[0].(map[string]any)["lastUsedAt"]
	}
	hc := fromAddress("127.0.0.21")

	// The first use notes the credential's lastUsedAt: one conditional
	// update in the client's token partition.
	env.calls.reset()
	r := federatedToken(t, hc, "default", cid, jwtBearer, is.sign(t, is.job(env.base)))
	if r.Status != http.StatusOK {
		t.Fatalf("job token: %s", r)
	}
	if got := env.calls.snapshot()["DynamoDB:UpdateItem"]; got != 1 {
		t.Errorf("first use: %d UpdateItem, want 1 (lastUsedAt)", got)
	}
	first := lastUsed()
	if at, err := time.Parse(time.RFC3339, asString(first)); err != nil || env.clock.Now().Sub(at).Abs() > time.Minute {
		t.Errorf("lastUsedAt after a use = %v (now %s)", first, env.clock.Now().UTC())
	}
	claims := claimsOf(t, r.json(t)["access_token"].(string))
	ext, _ := claims["ext"].(map[string]any)
	if claims["sub"] != "client-"+cid || ext["iss"] != is.URL || ext["sub"] != "repo:acme/orders:environment:production" {
		t.Errorf("token claims = %v", claims)
	}
	found := false
	for _, l := range env.audit.lines() {
		if l["msg"] == "audit" && l["caller"] == "client-"+cid && strings.Contains(fmt.Sprint(l["external"]), "repo:acme/orders:environment:production") {
			found = true
		}
	}
	if !found {
		t.Error("no audit line names the external identity")
	}
	// With the issuer's keys cached: the client's partition, its
	// federated credentials' last uses and the address's count, read at
	// once, and the signature; nothing fetched, and within the hour no
	// write of lastUsedAt.
	env.calls.reset()
	fetched := is.jwksCalls.Load()
	if r := federatedToken(t, hc, "default", cid, jwtBearer, is.sign(t, is.job(env.base))); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	if got, want := env.calls.snapshot(), map[string]int{"DynamoDB:Query": 2, "DynamoDB:GetItem": 1, "KMS:Sign": 1}; !maps.Equal(got, want) || is.jwksCalls.Load() != fetched {
		t.Errorf("calls = %v, want %v and no fetch", got, want)
	}
	if got := lastUsed(); got != first {
		t.Errorf("lastUsedAt moved within the hour: %v, was %v", got, first)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(k string, v any) map[string]any {
		c := is.job(env.base)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	failures := 0
	tampered := is.sign(t, is.job(env.base))
	parts := strings.Split(tampered, ".")
	payload, _ := json.Marshal(with("environment", "production"))
	tampered = parts[0] + "." + base64.RawURLEncoding.EncodeToString(append(payload, ' ')) + "." + parts[2]
	for name, assertion := range map[string]string{
		"expired":              is.sign(t, with("exp", env.clock.Now().Add(-5*time.Minute).Unix())),
		"no exp":               is.sign(t, with("exp", nil)),
		"wrong audience":       is.sign(t, with("aud", "sts.amazonaws.com")),
		"two audiences":        is.sign(t, with("aud", []string{env.base, "https://other.example"})),
		"pull request":         is.sign(t, with("sub", "repo:acme/orders:pull_request")),
		"other environment":    is.sign(t, with("sub", "repo:acme/orders:environment:staging")),
		"fork owner":           is.sign(t, with("repository_owner_id", "9999")),
		"lifetime too long":    is.sign(t, with("exp", env.clock.Now().Add(2*time.Hour).Unix())),
		"unknown kid":          signWith(t, other, "gh-2", jose.RS256, is.job(env.base)),
		"known kid, wrong key": signWith(t, other, is.kid, jose.RS256, is.job(env.base)),
		"tampered":             tampered,
		"HS256":                signWith(t, []byte("a shared secret of thirty-two bytes!"), is.kid, jose.HS256, is.job(env.base)),
		"issuer unnamed":       signWith(t, is.key, is.kid, jose.RS256, with("iss", "https://token.actions.githubusercontent.com")),
	} {
		// Each failure counts toward its address: spread them so none
		// reaches the lockout.
		if failures++; failures%8 == 0 {
			hc = fromAddress("127.0.0." + strconv.Itoa(30+failures/8))
		}
		assertInvalidClient(t, name, federatedToken(t, hc, "default", cid, jwtBearer, assertion))
	}
	// One fetch of the keys, and one more for the unknown kid; the other
	// misses within 30 s fetch nothing.
	if n := is.jwksCalls.Load(); n > 2 {
		t.Errorf("the issuer's keys were fetched %d times", n)
	}

	// Deleted, the credential stops working at once.
	if d := send(t, http.MethodDelete, "/v1/clients/"+cid+"/federated-credentials/"+credID, admin, nil); d.Status != http.StatusNoContent {
		t.Fatal(d)
	}
	assertInvalidClient(t, "deleted credential", federatedToken(t, fromAddress("127.0.0.25"), "default", cid, jwtBearer, is.sign(t, is.job(env.base))))
}

// TestFederatedFailuresThrottleTheAddressOnly: failed federated
// authentications lock out the address they come from, never the client.
func TestFederatedFailuresThrottleTheAddressOnly(t *testing.T) {
	admin := adminToken(t)
	is := newTestIssuer(t)
	cid, _ := newFederatedClient(t, admin, "gh-throttled", map[string]any{"type": "oidc", "issuer": is.URL,
		"subject": "repo:acme/orders:environment:production", "description": "throttle"})
	attacker := fromAddress("127.0.0.22")
	bad := is.sign(t, map[string]any{"iss": is.URL, "aud": env.base, "sub": "repo:evil/x:ref:refs/heads/main", "exp": env.clock.Now().Add(time.Minute).Unix()})
	for i := range 10 {
		assertInvalidClient(t, "attempt "+strconv.Itoa(i), federatedToken(t, attacker, "default", cid, jwtBearer, bad))
	}
	good := is.sign(t, is.job(env.base))
	if r := federatedToken(t, attacker, "default", cid, jwtBearer, good); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("after 10 failures: %s, want 429 with Retry-After", r)
	}
	if r := federatedToken(t, fromAddress("127.0.0.23"), "default", cid, jwtBearer, good); r.Status != http.StatusOK {
		t.Errorf("from another address: %s, want 200", r)
	}
}

// TestFederatedIssuerOutage: an issuer that is down, serves a huge or a
// slow document, or names another issuer gives 503 temporarily_unavailable,
// which is never counted toward the lockout.
func TestFederatedIssuerOutage(t *testing.T) {
	admin := adminToken(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	huge, slow, liar := newTestIssuer(t), newTestIssuer(t), newTestIssuer(t)
	huge.misbehave.Store(func(w http.ResponseWriter, _ *http.Request) bool {
		_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("A", 1<<20) + `"}`))
		return true
	})
	slow.misbehave.Store(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"issuer":`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return true
	})
	liar.misbehave.Store(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/.well-known/openid-configuration" {
			return false
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": "https://token.actions.githubusercontent.com", "jwks_uri": liar.URL + "/.well-known/jwks"})
		return true
	})
	hc := fromAddress("127.0.0.24")
	for name, iss := range map[string]*testIssuer{"down": nil, "huge": huge, "slow": slow, "names another issuer": liar} {
		issuer, key := down, liar.key
		if iss != nil {
			issuer, key = iss.URL, iss.key
		}
		cid, _ := newFederatedClient(t, admin, "outage-"+strings.ReplaceAll(name, " ", "-"), map[string]any{"type": "oidc", "issuer": issuer,
			"subject": "repo:acme/orders:environment:production", "description": name})
		assertion := signWith(t, key, "gh-1", jose.RS256, jobClaims(issuer, env.base))
		attempts := 1
		if name == "down" {
			attempts = 12 // past the lockout threshold: never counted
		}
		for range attempts {
			r := federatedToken(t, hc, "default", cid, jwtBearer, assertion)
			if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "temporarily_unavailable") {
				t.Fatalf("%s: %s, want 503 temporarily_unavailable", name, r)
			}
		}
	}
}

// TestFederatedTenantAsIssuer: a client of another tenant of this
// deployment authenticates a client of this one with its own access
// token, through the tenant's discovery document and JWKS served by the
// gateway. The trust counts in what the trusted client holds: only an
// owner of its tenant may give it a secret then.
func TestFederatedTenantAsIssuer(t *testing.T) {
	admin := adminToken(t)
	adminB, resB := newTenantAdmin(t, "fedsrc")
	issuerB := env.base + "/" + resB.Tenant
	body := clientBody("ci-runner", "services.iam")
	body["allowedAudiences"] = []string{env.base, token.Audience(issuerB)}
	r := send(t, http.MethodPost, "/v1/clients", adminB, body)
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	x := r.json(t)["clientId"].(string)
	if s := send(t, http.MethodPost, "/v1/clients/"+x+"/secrets", adminB, map[string]any{"value": "runner-secret-1", "description": "first"}); s.Status != http.StatusCreated {
		t.Fatal(s)
	}
	// A helper of tenant B allowed to create x's secrets, holding all x
	// holds, but no owner.
	hb := clientBody("secret-rotator", "services.iam")
	hb["allowedAudiences"] = []string{env.base, token.Audience(issuerB)}
	r = send(t, http.MethodPost, "/v1/clients", adminB, hb)
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	hid := r.json(t)["clientId"].(string)
	if s := send(t, http.MethodPost, "/v1/clients/"+hid+"/secrets", adminB, map[string]any{"value": "rotator-secret", "description": "first"}); s.Status != http.StatusCreated {
		t.Fatal(s)
	}
	helper := caller{ten: resB.Tenant, id: hid, subject: "client-" + hid, secret: "rotator-secret"}
	grant(t, adminB, helper.subject, "iam.secret.create", "/clients/"+x)
	grant(t, adminB, helper.subject, "iam.client.read", "/clients/"+x)
	newSecret := func(bearer, value string) response {
		return send(t, http.MethodPost, "/v1/clients/"+x+"/secrets", bearer, map[string]any{"value": value, "description": "rotated"})
	}
	if s := newSecret(helper.token(t), "runner-secret-2"); s.Status != http.StatusCreated {
		t.Fatalf("before any trust, the helper may rotate x's secrets: %s", s)
	}

	r = send(t, http.MethodPost, "/v1/clients", admin, clientBody("fed-from-b", "api"))
	y := r.json(t)["clientId"].(string)
	for name, cred := range map[string]map[string]any{
		"own issuer":                 {"type": "oidc", "issuer": env.base, "subject": "client-" + x, "description": "own"},
		"wildcard from other tenant": {"type": "oidc", "issuer": issuerB, "subject": "client-*", "description": "wide"},
		"inline keys for another tenant": {"type": "oidc", "issuer": issuerB, "subject": "client-" + x, "description": "forged",
			"jwks": map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": "k",
				"x": "Ok1n3e8zslV33m1NqB2XkCPeJyst5Q_VwPfYCZxZ_T8", "y": "CVvLWULH-1gVwZUI8_s0In5VpZqrpG0fZwlKJna_m2Y"}}}},
	} {
		if r := send(t, http.MethodPost, "/v1/clients/"+y+"/federated-credentials", admin, cred); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", name, r)
		}
	}
	c := send(t, http.MethodPost, "/v1/clients/"+y+"/federated-credentials", admin, map[string]any{"type": "oidc", "issuer": issuerB,
		"subject": "client-" + x, "description": "the CI runner of tenant B"})
	if c.Status != http.StatusCreated {
		t.Fatal(c)
	}
	credID := c.json(t)["id"].(string)

	xForUs := tokenWithResource(t, resB.Tenant, x, "runner-secret-1", env.base)
	tok := federatedToken(t, env.http, "default", y, jwtBearer, xForUs)
	if tok.Status != http.StatusOK {
		t.Fatalf("exchange: %s", tok)
	}
	claims := claimsOf(t, tok.json(t)["access_token"].(string))
	if ext, _ := claims["ext"].(map[string]any); claims["sub"] != "client-"+y || ext["iss"] != issuerB || ext["sub"] != "client-"+x {
		t.Errorf("claims = %v", claims)
	}
	// x's ordinary token (for its own tenant's API) is not one for us.
	assertInvalidClient(t, "token for tenant B's API", federatedToken(t, env.http, "default", y, jwtBearer,
		tokenWithResource(t, resB.Tenant, x, "runner-secret-1", token.Audience(issuerB))))

	// Now a secret for x is worth what y holds: only B's owner may make one.
	assertProblem(t, newSecret(helper.token(t), "runner-secret-3"), http.StatusForbidden)
	if s := newSecret(adminB, "runner-secret-4"); s.Status != http.StatusCreated {
		t.Errorf("tenant owner: %s", s)
	}
	// x's token counts here only while it counts in tenant B: once B pulls
	// x's kill switch, the token it had no longer buys y's.
	if k := send(t, http.MethodPost, "/v1/clients/"+x+"/revoke-tokens", adminB, nil); k.Status != http.StatusNoContent {
		t.Fatal(k)
	}
	assertInvalidClient(t, "a token of x after B's kill switch", federatedToken(t, env.http, "default", y, jwtBearer, xForUs))
	if d := send(t, http.MethodDelete, "/v1/clients/"+y+"/federated-credentials/"+credID, admin, nil); d.Status != http.StatusNoContent {
		t.Fatal(d)
	}
	if s := newSecret(helper.token(t), "runner-secret-5"); s.Status != http.StatusCreated {
		t.Errorf("after the trust ended: %s", s)
	}

	// A trust the trusted client never opted into (its allowedAudiences do
	// not name our issuer, so it cannot get a token we accept) changes
	// nothing in tenant B: anyone here may name any client there.
	r = send(t, http.MethodPost, "/v1/clients", adminB, clientBody("not-opted-in", "services.iam"))
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	x2 := r.json(t)["clientId"].(string)
	grant(t, adminB, helper.subject, "iam.secret.create", "/clients/"+x2)
	if c := send(t, http.MethodPost, "/v1/clients/"+y+"/federated-credentials", admin, map[string]any{"type": "oidc", "issuer": issuerB,
		"subject": "client-" + x2, "description": "names a client that never opted in"}); c.Status != http.StatusCreated {
		t.Fatal(c)
	}
	if s := send(t, http.MethodPost, "/v1/clients/"+x2+"/secrets", helper.token(t), map[string]any{"value": "not-opted-in-1", "description": "d"}); s.Status != http.StatusCreated {
		t.Errorf("a trust planted from another tenant took the helper's right away: %s", s)
	}
	// Opting in is the change that makes the trust real: naming our issuer
	// in x2's allowedAudiences is worth what y holds, so only B's owner may.
	optIn := clientBody("not-opted-in", "services.iam")
	optIn["allowedAudiences"] = []string{env.base}
	grant(t, adminB, helper.subject, "iam.client.update", "/clients/"+x2)
	assertProblem(t, send(t, http.MethodPut, "/v1/clients/"+x2, helper.token(t), optIn), http.StatusForbidden)
	// Nor does deleting x2 and making a client with its id again shed the
	// trust: y's credential still names that id.
	if d := send(t, http.MethodDelete, "/v1/clients/"+x2, adminB, nil); d.Status != http.StatusNoContent {
		t.Fatal(d)
	}
	grant(t, adminB, helper.subject, "iam.client.create", "/clients")
	again := clientBody("not-opted-in-again", "services.iam")
	again["clientId"], again["allowedAudiences"] = x2, []string{env.base}
	assertProblem(t, send(t, http.MethodPost, "/v1/clients", helper.token(t), again), http.StatusForbidden)
	if r := send(t, http.MethodPost, "/v1/clients", adminB, again); r.Status != http.StatusCreated {
		t.Errorf("tenant owner re-creating the trusted id: %s", r)
	}
}

// tokenWithResource is a client_secret_post token of tenant ten for
// resource.
func tokenWithResource(t *testing.T, ten, cid, secret, resource string) string {
	t.Helper()
	r := send(t, http.MethodPost, tokenPath(ten), "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cid},
		"client_secret": {secret}, "resource": {resource}})
	if r.Status != http.StatusOK {
		t.Fatalf("token for %s: %s", resource, r)
	}
	return r.json(t)["access_token"].(string)
}

// TestFederatedAWSRole: a workload signs sts:GetCallerIdentity with the
// AWS SDK; the service sends it to the STS stand-in and matches the
// assumed role's ARN, as its role ARN, against the credential.
func TestFederatedAWSRole(t *testing.T) {
	admin := adminToken(t)
	cid, _ := newFederatedClient(t, admin, "aws-orders", map[string]any{"type": "aws",
		"principal": "arn:aws:iam::123456789012:role/orders-*", "description": "orders Lambdas"})
	pinned, _ := newFederatedClient(t, admin, "aws-pinned", map[string]any{"type": "aws",
		"principal": "arn:aws:iam::123456789012:role/orders-deploy", "roleId": "AROAOLDROLEOLDROLE0001", "description": "pinned to a deleted role"})
	ctx := context.Background()
	sign := func(id ststest.Identity, endpoint, audience string, at time.Time) string {
		a, err := ststest.Sign(ctx, id.Credentials, endpoint, "us-east-1", audience, at)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	now := env.clock.Now()
	hc := fromAddress("127.0.0.26")
	r := federatedToken(t, hc, "default", cid, stsidentity.AssertionType, sign(stsRoles[0], env.stsURL, env.base, now))
	if r.Status != http.StatusOK {
		t.Fatalf("orders role: %s", r)
	}
	if ext, _ := claimsOf(t, r.json(t)["access_token"].(string))["ext"].(map[string]any); ext["sub"] != stsRoles[0].Arn || ext["iss"] != env.stsURL {
		t.Errorf("ext = %v", ext)
	}
	calls := env.sts.Calls.Load()
	for name, tc := range map[string]struct {
		client, assertion string
		asksSTS           bool
	}{
		"another role":         {cid, sign(stsRoles[1], env.stsURL, env.base, now), true},
		"re-created role":      {pinned, sign(stsRoles[0], env.stsURL, env.base, now), true},
		"another audience":     {cid, sign(stsRoles[0], env.stsURL, env.base+"/other", now), false},
		"stale signature":      {cid, sign(stsRoles[0], env.stsURL, env.base, now.Add(-10*time.Minute)), false},
		"endpoint not allowed": {cid, sign(stsRoles[0], "http://127.0.0.2:9", env.base, now), false},
		"not base64":           {cid, "%%%", false},
	} {
		assertInvalidClient(t, name, federatedToken(t, hc, "default", tc.client, stsidentity.AssertionType, tc.assertion))
		if tc.asksSTS {
			calls++
		}
		if got := env.sts.Calls.Load(); got != calls {
			t.Errorf("%s: STS asked %d times, want %d", name, got, calls)
			calls = got
		}
	}
}

// TestFederatedInlineKeys: a private issuer (a Kubernetes cluster's) given
// by its key set inline is never fetched, and accepts only tokens those
// keys signed.
func TestFederatedInlineKeys(t *testing.T) {
	admin := adminToken(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	set := map[string]any{"keys": []any{publicJWK(t, &key.PublicKey, "cluster-1", "RS256")}}
	const iss = "https://oidc.cluster.internal.example"
	cid, _ := newFederatedClient(t, admin, "k8s-builder", map[string]any{"type": "oidc", "issuer": iss,
		"subject": "system:serviceaccount:ci:builder", "jwks": set, "description": "builder service account"})
	now := env.clock.Now()
	claims := map[string]any{"iss": iss, "sub": "system:serviceaccount:ci:builder", "aud": env.base, "iat": now.Unix(),
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"kubernetes.io": map[string]any{"namespace": "ci", "serviceaccount": map[string]any{"name": "builder", "uid": "0b5e"}}}
	hc := fromAddress("127.0.0.27")
	if r := federatedToken(t, hc, "default", cid, jwtBearer, signWith(t, key, "cluster-1", jose.RS256, claims)); r.Status != http.StatusOK {
		t.Fatalf("projected token: %s", r)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	assertInvalidClient(t, "other key", federatedToken(t, hc, "default", cid, jwtBearer, signWith(t, other, "cluster-1", jose.RS256, claims)))
}
