package tokenapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/local/dynamotest"
	"github.com/machine-iam/machine-iam/shared/endpoints/tokenapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// post sends form to h at path, the way a client posts to a token
// endpoint.
func post(h http.Handler, path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type tokenJSON struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

// claimsOf reads a token's payload without verifying it (the token
// package tests verification).
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGrantRules: the token endpoint grants a client_credentials token
// with the scopes requested, each of which the client must be allowed (all
// it is allowed, and in the catalog, when none are); the audiences of the
// resources requested (RFC 8707), each of which the client must be allowed
// (its allowed audiences, or the management API, when none are); the
// client's own lifetime, capped by the deployment's maximum; and its own
// claims. Refusals are the RFC 6749 errors.
func TestGrantRules(t *testing.T) {
	e := apitest.New(t)
	e.Deps.Config.MaxTokenLifetime = 2 * time.Hour // lowered after the client was set
	h := tokenapi.New(e.Deps)
	c := e.Create(client.Client{Spec: client.Spec{Scopes: []string{"api", oauthscope.IAM, "retired.scope"}, Audiences: []string{"https://api.example.test", "https://b.example.test"}, TokenLifetime: 3 * time.Hour, TokenClaims: map[string]string{"tier": "gold"}}})
	secret := e.Secret(c)
	path := "/" + e.Tenant + "/connect/token"
	form := func(extra ...string) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Add(extra[i], extra[i+1])
		}
		return f
	}
	for _, g := range []struct {
		name   string
		form   url.Values
		scope  string
		aud    any
		status int
		error  string
	}{
		{"all it is allowed, in the catalog", form(), "api services.iam", []any{"https://api.example.test", "https://b.example.test"}, 200, ""},
		{"a scope", form("scope", "api"), "api", nil, 200, ""},
		{"a scope not allowed", form("scope", "api reconcile"), "", nil, 400, "invalid_scope"},
		{"a scope out of the catalog", form("scope", "retired.scope"), "", nil, 400, "invalid_scope"},
		{"a malformed scope", form("scope", `a"b`), "", nil, 400, "invalid_scope"},
		{"a resource", form("resource", "https://b.example.test"), "api services.iam", "https://b.example.test", 200, ""},
		{"resources", form("resource", "https://b.example.test", "resource", "https://api.example.test"), "api services.iam",
			[]any{"https://api.example.test", "https://b.example.test"}, 200, ""},
		{"a resource not allowed", form("resource", "https://evil.example.test"), "", nil, 400, "invalid_target"},
		{"a relative resource", form("resource", "/api"), "", nil, 400, "invalid_target"},
		{"no grant type", func() url.Values { f := form(); f.Del("grant_type"); return f }(), "", nil, 400, "invalid_request"},
		{"another grant type", func() url.Values { f := form(); f.Set("grant_type", "password"); return f }(), "", nil, 400, "unsupported_grant_type"},
		{"a repeated parameter", form("scope", "api", "scope", "api"), "", nil, 400, "invalid_request"},
	} {
		t.Run(g.name, func(t *testing.T) {
			w := post(h, path, g.form)
			var tok tokenJSON
			_ = json.Unmarshal(w.Body.Bytes(), &tok)
			if w.Code != g.status || tok.Error != g.error {
				t.Fatalf("%d %s, want %d %q", w.Code, w.Body, g.status, g.error)
			}
			if g.status != 200 {
				return
			}
			claims := claimsOf(t, tok.AccessToken)
			if tok.Scope != g.scope || claims["scope"] != g.scope {
				t.Errorf("scope %q (claim %v), want %q", tok.Scope, claims["scope"], g.scope)
			}
			if g.aud != nil && !equalJSON(claims["aud"], g.aud) {
				t.Errorf("aud %v, want %v", claims["aud"], g.aud)
			}
			if tok.ExpiresIn != 7200 || claims["exp"].(float64)-claims["iat"].(float64) != 7200 {
				t.Errorf("expires_in %d: the client's 3 h lifetime is capped by the deployment's 2 h", tok.ExpiresIn)
			}
			if claims["tier"] != "gold" || claims["iss"] != e.Issuer() || claims["tid"] != e.Tenant || claims["sub"] != c.SubjectID() {
				t.Errorf("claims %v", claims)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestClientRules: a client not allowed client_credentials is
// unauthorized_client; one allowed no scope gets none (invalid_scope); one
// without audiences gets tokens for the management API; a client's
// credentials work only at its own tenant's endpoint.
func TestClientRules(t *testing.T) {
	e := apitest.New(t)
	h := tokenapi.New(e.Deps)
	issue := func(path string, c client.Client, secret string) (int, tokenJSON) {
		t.Helper()
		w := post(h, path, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}})
		var tok tokenJSON
		_ = json.Unmarshal(w.Body.Bytes(), &tok)
		return w.Code, tok
	}
	path := "/" + e.Tenant + "/connect/token"

	code := e.Create(client.Client{Spec: client.Spec{GrantTypes: []string{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example.test/cb"}, Scopes: []string{"api"}}})
	if status, tok := issue(path, code, e.Secret(code)); status != 400 || tok.Error != "unauthorized_client" {
		t.Errorf("a client without client_credentials: %d %+v", status, tok)
	}
	none := e.Client()
	if status, tok := issue(path, none, e.Secret(none)); status != 400 || tok.Error != "invalid_scope" {
		t.Errorf("a client allowed no scope: %d %+v", status, tok)
	}
	plain := e.Client("api")
	secret := e.Secret(plain)
	status, tok := issue(path, plain, secret)
	if status != 200 || claimsOf(t, tok.AccessToken)["aud"] != e.ManagementAudience() || tok.ExpiresIn != int64(e.Deps.Config.TokenLifetime/time.Second) {
		t.Errorf("a client naming no audience: %d %+v", status, tok)
	}
	other := apitest.New(t)
	for _, p := range []string{"/connect/token", "/" + other.Tenant + "/connect/token"} {
		if status, tok := issue(p, plain, secret); status != 401 || tok.Error != "invalid_client" {
			t.Errorf("credentials at %s: %d %+v", p, status, tok)
		}
	}
}

// TestIntrospection: only a client holding iam.token.introspect on / of
// its tenant may introspect (403 access_denied otherwise); a live token of
// the tenant is active, with its claims; a token revoked by its client's
// kill switch, or of another tenant, is {"active": false} and nothing
// more.
func TestIntrospection(t *testing.T) {
	e := apitest.New(t)
	h := tokenapi.New(e.Deps)
	path := "/" + e.Tenant + "/connect/introspect"
	introspector := e.Caller("iam.token.introspect on /")
	nosy := e.Caller("iam.token.introspect on /clients")
	subjectClient := e.Client("api")
	live := e.Mint(token.Grant{Scopes: []string{"api"}}, subjectClient)
	ask := func(c client.Client, tok string) (int, map[string]any) {
		t.Helper()
		w := post(h, path, url.Values{"client_id": {c.ID}, "client_secret": {e.Secret(c)}, "token": {tok}})
		var m map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &m)
		return w.Code, m
	}
	if status, m := ask(nosy, live); status != 403 || m["error"] != "access_denied" {
		t.Errorf("a client without introspect on /: %d %v", status, m)
	}
	status, m := ask(introspector, live)
	if status != 200 || m["active"] != true || m["client_id"] != subjectClient.ID || m["sub"] != subjectClient.SubjectID() ||
		m["scope"] != "api" || m["tid"] != e.Tenant || m["token_type"] != "Bearer" {
		t.Errorf("a live token: %d %v", status, m)
	}
	// Signed with the same key, for a client of another tenant.
	other := apitest.New(t).Tenant
	foreign := e.Mint(token.Grant{Issuer: tenant.Issuer(apitest.Base, other), Tenant: other, Scopes: []string{"api"}}, subjectClient)
	if status, m := ask(introspector, foreign); status != 200 || len(m) != 1 || m["active"] != false {
		t.Errorf("another tenant's token: %d %v", status, m)
	}
	if err := e.Store.RevokeTokens(context.Background(), e.Tenant, subjectClient.ID, e.Now()); err != nil {
		t.Fatal(err)
	}
	if status, m := ask(introspector, live); status != 200 || len(m) != 1 || m["active"] != false {
		t.Errorf("a token its client's kill switch revoked: %d %v", status, m)
	}
}
