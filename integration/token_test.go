package integration

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestTokenEndpointErrors(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "token-errors", "api", "services.erphub")
	codeOnly := send(t, http.MethodPost, "/v1/clients", admin, map[string]any{
		"name": "code-only", "description": "authorization_code only", "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"api"}, "redirectUris": []string{"https://app.example.com/cb"},
	}).json(t)["clientId"].(string)
	if r := send(t, http.MethodPost, "/v1/clients/"+codeOnly+"/secrets", admin, map[string]any{"value": "code-only-secret", "description": "x"}); r.Status != 201 {
		t.Fatal(r)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name      string
		method    string
		path      string
		body      any
		headers   []string
		status    int
		code      string
		challenge bool
	}{
		{"wrong method", http.MethodGet, "/connect/token", nil, nil, 405, "", false},
		{"json body", http.MethodPost, "/connect/token", `{"grant_type":"client_credentials"}`, nil, 400, "invalid_request", false},
		{"missing grant_type", http.MethodPost, "/connect/token", form("client_id", id, "client_secret", value), nil, 400, "invalid_request", false},
		{"password grant", http.MethodPost, "/connect/token", form("grant_type", "password", "client_id", id, "client_secret", value), nil, 400, "unsupported_grant_type", false},
		{"repeated parameter", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "grant_type", "client_credentials", "client_id", id, "client_secret", value), nil, 400, "invalid_request", false},
		{"no client authentication", http.MethodPost, "/connect/token", form("grant_type", "client_credentials"), nil, 401, "invalid_client", true},
		{"client_id alone", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", id), nil, 401, "invalid_client", true},
		{"client_secret alone", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_secret", value), nil, 400, "invalid_request", false},
		{"both methods", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_secret", value), []string{"Authorization", basic(id, value)}, 400, "invalid_request", false},
		{"basic not base64", http.MethodPost, "/connect/token", form("grant_type", "client_credentials"), []string{"Authorization", "Basic %%%"}, 400, "invalid_request", false},
		{"bearer scheme", http.MethodPost, "/connect/token", form("grant_type", "client_credentials"), []string{"Authorization", "Bearer abc"}, 400, "invalid_request", false},
		{"unknown client, post", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", "00000000-0000-4000-8000-000000000000", "client_secret", value), nil, 401, "invalid_client", false},
		{"unknown client, basic", http.MethodPost, "/connect/token", form("grant_type", "client_credentials"), []string{"Authorization", basic("00000000-0000-4000-8000-000000000000", value)}, 401, "invalid_client", true},
		{"malformed client id", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", "not-a-client", "client_secret", value), nil, 401, "invalid_client", false},
		{"wrong secret, post", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value+"x"), nil, 401, "invalid_client", false},
		{"wrong secret, basic", http.MethodPost, "/connect/token", form("grant_type", "client_credentials"), []string{"Authorization", basic(id, "wrong-secret")}, 401, "invalid_client", true},
		{"other tenant's endpoint", http.MethodPost, "/other/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value), nil, 401, "invalid_client", false},
		{"grant not allowed", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", codeOnly, "client_secret", "code-only-secret"), nil, 400, "unauthorized_client", false},
		{"scope not allowed", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value, "scope", "api services.iam"), nil, 400, "invalid_scope", false},
		{"scope not in catalog", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value, "scope", "openid"), nil, 400, "invalid_scope", false},
		{"malformed scope", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value, "scope", "api \"x\""), nil, 400, "invalid_scope", false},
		{"body too large", http.MethodPost, "/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value, "pad", strings.Repeat("a", 20000)), nil, 413, "invalid_request", false},
		{"malformed tenant", http.MethodPost, "/Not_A_Tenant/connect/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", value), nil, 404, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, c.method, c.path, "", c.body, c.headers...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); (got != "") != c.challenge || (c.challenge && !strings.HasPrefix(got, `Basic realm="`)) {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", got, c.challenge)
			}
			if c.code == "" {
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want a problem document", ct)
				}
				return
			}
			body := r.json(t)
			if body["error"] != c.code {
				t.Errorf("error = %v, want %s", body["error"], c.code)
			}
			if d, _ := body["error_description"].(string); d == "" || strings.Contains(d, value) {
				t.Errorf("error_description %q must be present and must not echo the secret", d)
			}
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
				t.Errorf("error responses must not be cached: %v", r.Header)
			}
		})
	}

	t.Run("Basic without form encoding", func(t *testing.T) {
		// Many HTTP libraries send Basic credentials raw; a secret with "+"
		// and "%" must work either way.
		id, _ := newClient(t, admin, "raw-basic")
		if r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": "a+b%41c d:e", "description": "x"}); r.Status != 201 {
			t.Fatal(r)
		}
		raw := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":a+b%41c d:e"))
		for name, header := range map[string]string{"raw": raw, "encoded": basic(id, "a+b%41c d:e")} {
			if r := send(t, http.MethodPost, "/connect/token", "", form("grant_type", "client_credentials"), "Authorization", header); r.Status != 200 {
				t.Errorf("%s: %s", name, r)
			}
		}
	})

	t.Run("unknown and wrong secret answer identically", func(t *testing.T) {
		a := send(t, http.MethodPost, "/connect/token", "", form("grant_type", "client_credentials", "client_id", "00000000-0000-4000-8000-000000000000", "client_secret", value))
		b := send(t, http.MethodPost, "/connect/token", "", form("grant_type", "client_credentials", "client_id", id, "client_secret", "wrong-secret"))
		if string(a.Body) != string(b.Body) || a.Status != b.Status {
			t.Fatalf("responses differ:\n%s\n%s", a, b)
		}
	})
}

func TestTokenSuccess(t *testing.T) {
	admin := adminToken(t)
	id, _ := newClient(t, admin, "token-success", "api", "services.erphub")
	// A secret with every character that form encoding must escape.
	tricky := "p:a%s+s w&o=rd/?"
	if r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": tricky, "description": "tricky"}); r.Status != 201 {
		t.Fatal(r)
	}
	for _, c := range []struct {
		name, scope, want string
		basic             bool
	}{
		{"post, all scopes", "", "api services.erphub", false},
		{"basic, all scopes", "", "api services.erphub", true},
		{"post, one scope", "services.erphub", "services.erphub", false},
		{"basic, repeated scope", "api api", "api", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := url.Values{"grant_type": {"client_credentials"}}
			if c.scope != "" {
				f.Set("scope", c.scope)
			}
			var headers []string
			if c.basic {
				headers = []string{"Authorization", basic(id, tricky)}
			} else {
				f.Set("client_id", id)
				f.Set("client_secret", tricky)
			}
			r := send(t, http.MethodPost, "/connect/token", "", f, headers...)
			if r.Status != http.StatusOK {
				t.Fatalf("%s", r)
			}
			body := r.json(t)
			if body["token_type"] != "Bearer" || body["scope"] != c.want || body["expires_in"] != float64(3600) {
				t.Errorf("body = %v", body)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
			}
		})
	}
}

func TestSecretLifecycleGatesTokens(t *testing.T) {
	admin := adminToken(t)
	id, first := newClient(t, admin, "rotation")
	second := "second-secret-value"
	created := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": second, "description": "rotated in"})
	if created.Status != 201 {
		t.Fatal(created)
	}
	tokenFor(t, tenant.Default, id, first, "")
	tokenFor(t, tenant.Default, id, second, "")

	list := send(t, http.MethodGet, "/v1/clients/"+id+"/secrets", admin, nil).json(t)["items"].([]any)
	var firstID string
	for _, it := range list {
		if m := it.(map[string]any); m["description"] == "first" {
			firstID = m["id"].(string)
		}
	}
	if r := send(t, http.MethodDelete, "/v1/clients/"+id+"/secrets/"+firstID, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	post := func(secret string) response {
		return send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	}
	if r := post(first); r.Status != 401 {
		t.Fatalf("deleted secret must fail on the very next request: %s", r)
	}
	tokenFor(t, tenant.Default, id, second, "")

	t.Run("expired secret", func(t *testing.T) {
		exp := env.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": "expiring-secret", "description": "short-lived", "expiration": exp})
		if r.Status != 201 || r.json(t)["expiration"] != exp || r.json(t)["expired"] != false {
			t.Fatal(r)
		}
		tokenFor(t, tenant.Default, id, "expiring-secret", "")
		env.clock.Advance(time.Hour)
		defer env.clock.Reset()
		if r := post("expiring-secret"); r.Status != 401 {
			t.Fatalf("a secret must stop working at its expiration: %s", r)
		}
		if r := post(second); r.Status != 200 {
			t.Fatalf("a secret without expiration still works: %s", r)
		}
	})

	if r := send(t, http.MethodDelete, "/v1/clients/"+id, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	if r := post(second); r.Status != 401 {
		t.Fatalf("a deleted client must fail on the very next request: %s", r)
	}
}

// TestNoClientAuthentication: a request with no client authentication at
// all (RFC 6749 §5.2), at every endpoint that authenticates clients, is 401
// invalid_client with a Basic challenge; two methods at once stay 400
// invalid_request.
func TestNoClientAuthentication(t *testing.T) {
	for path, form := range map[string]url.Values{
		"/connect/token":       {"grant_type": {"client_credentials"}},
		"/other/connect/token": {"grant_type": {"client_credentials"}, "client_id": {"00000000-0000-4000-8000-000000000000"}},
		"/connect/revocation":  {"token": {"x"}},
		"/connect/introspect":  {"token": {"x"}},
	} {
		r := send(t, http.MethodPost, path, "", form)
		if r.Status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Basic realm="`) {
			t.Errorf("%s: %s %v", path, r, r.Header)
		}
	}
	both := url.Values{"grant_type": {"client_credentials"}, "client_id": {env.admin.ClientID}, "client_secret": {env.admin.ClientSecret},
		"client_assertion_type": {jwtBearer}, "client_assertion": {"a.b.c"}}
	if r := send(t, http.MethodPost, "/connect/token", "", both); r.Status != http.StatusBadRequest || r.json(t)["error"] != "invalid_request" {
		t.Errorf("two methods: %s", r)
	}
}
