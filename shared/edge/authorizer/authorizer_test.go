package authorizer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
)

func authorize(t *testing.T, a *Authorizer, method, path, token string) Decision {
	t.Helper()
	d, err := a.Authorize(context.Background(), Request{Method: method, Path: path, Authorization: "Bearer " + token})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return d
}

func TestAllowedAnswersAreCachedPerTokenActionAndResource(t *testing.T) {
	f := newFakeService(t)
	a, clk := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	tok := f.mint(nil)

	d := authorize(t, a, "GET", "/orders/1", tok)
	if d.Outcome != Allowed || d.Target.Resource != "/orders/1" || d.Target.Action != "orders.order.read" || d.Claims.Subject != "client-caller" || d.Cached {
		t.Fatalf("first: %+v", d)
	}
	if d := authorize(t, a, "GET", "/orders/1", tok); d.Outcome != Allowed || !d.Cached {
		t.Fatalf("second: %+v", d)
	}
	if f.called("decisions") != 1 || f.called("token") != 1 || f.called("jwks") != 1 {
		t.Fatalf("calls %v, want one decision, one own token, one key set", f.calls)
	}
	// The allow for /orders/1 is not one for /orders/2, nor for the list.
	if d := authorize(t, a, "GET", "/orders/2", tok); d.Outcome != Forbidden || d.Cached {
		t.Fatalf("/orders/2: %+v", d)
	}
	if d := authorize(t, a, "GET", "/orders", tok); d.Outcome != Forbidden || d.Target.Resource != "/orders" {
		t.Fatalf("/orders: %+v", d)
	}
	if f.called("decisions") != 3 {
		t.Fatalf("decisions %d, want 3", f.called("decisions"))
	}
	// The body asks by token, never by subject.
	for _, b := range f.bodies {
		if _, ok := b["subject"]; ok || b["token"] != tok || len(b) != 2 {
			t.Fatalf("decision body %v", b)
		}
	}
	// Past the ttl the service is asked again, and its new answer holds.
	f.allow("client-caller", "orders.order.read", "/orders/1", false)
	clk.Advance(61 * time.Second)
	if d := authorize(t, a, "GET", "/orders/1", tok); d.Outcome != Forbidden || d.Cached {
		t.Fatalf("after the ttl: %+v", d)
	}
}

func TestACachedAllowStillNeedsTheRoutesScope(t *testing.T) {
	f := newFakeService(t)
	routes, err := NewRoutes(map[string]Route{
		"GET /orders/{id}":    {Scope: "orders.read", Action: "orders.manage", Resource: "/orders/{id}"},
		"DELETE /orders/{id}": {Scope: "orders.write", Action: "orders.manage", Resource: "/orders/{id}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newTestAuthorizer(t, f, func(c *Config) { c.Routes = routes })
	f.allow("client-caller", "orders.manage", "/orders/1", true)
	tok := f.mint(nil) // scope orders.read only
	if d := authorize(t, a, "GET", "/orders/1", tok); d.Outcome != Allowed {
		t.Fatalf("GET: %+v", d)
	}
	if d := authorize(t, a, "DELETE", "/orders/1", tok); d.Outcome != Forbidden || !strings.Contains(d.Reason, "orders.write") {
		t.Fatalf("DELETE with the GET's allow cached: %+v", d)
	}
}

func TestDenialsAreAskedAgain(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	tok := f.mint(nil)
	if d := authorize(t, a, "GET", "/orders/7", tok); d.Outcome != Forbidden {
		t.Fatalf("no policy: %+v", d)
	}
	f.allow("client-caller", "orders.order.read", "/orders/7", true)
	if d := authorize(t, a, "GET", "/orders/7", tok); d.Outcome != Allowed {
		t.Fatalf("policy granted since: %+v", d)
	}

	// With DenialCache, a denial is kept for that long.
	g := newFakeService(t)
	b, clk := newTestAuthorizer(t, g, func(c *Config) { c.DenialCache = 5 * time.Second })
	tok = g.mint(nil)
	authorize(t, b, "GET", "/orders/7", tok)
	g.allow("client-caller", "orders.order.read", "/orders/7", true)
	if d := authorize(t, b, "GET", "/orders/7", tok); d.Outcome != Forbidden || !d.Cached {
		t.Fatalf("denial within DenialCache: %+v", d)
	}
	clk.Advance(6 * time.Second)
	if d := authorize(t, b, "GET", "/orders/7", tok); d.Outcome != Allowed {
		t.Fatalf("after DenialCache: %+v", d)
	}
}

func TestMaxCacheCutsTheTTL(t *testing.T) {
	f := newFakeService(t)
	a, clk := newTestAuthorizer(t, f, func(c *Config) { c.MaxCache = 10 * time.Second })
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	tok := f.mint(nil)
	authorize(t, a, "GET", "/orders/1", tok)
	clk.Advance(11 * time.Second)
	if d := authorize(t, a, "GET", "/orders/1", tok); d.Cached || f.called("decisions") != 2 {
		t.Fatalf("past MaxCache: %+v, %d decisions", d, f.called("decisions"))
	}
}

func TestPathParametersThatCouldClimbAreRefusedWithoutAsking(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders", true)
	tok := f.mint(nil)
	for _, path := range []string{"/orders/", "/orders/.", "/orders/..", "/orders/%2e%2E", "/orders/%2E", "/orders/a%2Fb", "/orders/a%2fb",
		"/orders/%2F", "/orders/a%5Cb", "/orders/%00", "/orders/%zz", "/orders/a%20b", "/orders/a%3Fb", "/orders/%23", "/orders/" + strings.Repeat("x", 505)} {
		d := authorize(t, a, "GET", path, tok)
		if d.Outcome != Forbidden || !errors.Is(errBadParam, errBadParam) || d.Reason != errBadParam.Error() {
			t.Errorf("%s: %+v", path, d)
		}
	}
	// A route the table does not hold, and a parameter that would fill two
	// segments, match nothing.
	for _, path := range []string{"/orders/1/2", "/customers/1", "/orders/1/lines", "orders"} {
		if d := authorize(t, a, "GET", path, tok); d.Outcome != Forbidden || d.Reason != errNoRoute.Error() {
			t.Errorf("%s: %+v", path, d)
		}
	}
	if n := f.called("decisions"); n != 0 {
		t.Fatalf("%d decisions asked for refused paths", n)
	}
	// Other encoded characters are decoded into the resource.
	f.allow("client-caller", "orders.order.read", "/orders/café", true)
	if d := authorize(t, a, "GET", "/orders/caf%C3%A9", tok); d.Outcome != Allowed || d.Target.Resource != "/orders/café" {
		t.Fatalf("/orders/caf%%C3%%A9: %+v", d)
	}
}

func TestFillFromAGatewaysRoute(t *testing.T) {
	routes, err := ParseRoutes([]byte(orderRoutes))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := routes.Fill("ANY /orders/{orderId}/lines/{lineId}", map[string]string{"orderId": "9", "lineId": "3"})
	if err != nil || tg.Resource != "/orders/9/lines/3" || tg.Action != "orders.manage" || tg.Scope != "orders.write" {
		t.Fatalf("%+v %v", tg, err)
	}
	for _, params := range []map[string]string{{"orderId": "9"}, {"orderId": "", "lineId": "3"}, {"orderId": "..", "lineId": "3"},
		{"orderId": "a/b", "lineId": "3"}, {"orderId": "a%2Fb", "lineId": "3"}, {"orderId": "%2e%2e", "lineId": "3"}} {
		if _, err := routes.Fill("ANY /orders/{orderId}/lines/{lineId}", params); err != errBadParam {
			t.Errorf("%v: %v", params, err)
		}
	}
	if _, err := routes.Fill("GET /customers/{id}", map[string]string{"id": "1"}); err != errNoRoute {
		t.Errorf("unknown route key: %v", err)
	}
}

func TestRouteSpecificity(t *testing.T) {
	routes, err := NewRoutes(map[string]Route{
		"GET /orders/{orderId}": {Scope: "orders.read", Action: "orders.order.read", Resource: "/orders/{orderId}"},
		"GET /orders/export":    {Scope: "orders.read", Action: "orders.export", Resource: "/orders"},
		"ANY /orders/export":    {Scope: "orders.write", Action: "orders.manage", Resource: "/orders"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, action string }{
		{"GET", "/orders/export", "orders.export"}, {"POST", "/orders/export", "orders.manage"}, {"GET", "/orders/12", "orders.order.read"},
	} {
		if tg, err := routes.Match(c.method, c.path); err != nil || tg.Action != c.action {
			t.Errorf("%s %s: %+v %v", c.method, c.path, tg, err)
		}
	}
}

func TestRouteTableErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{}`: "empty",
		`[]`: "route table",
		`{"GET /a": {"scope": "s", "action": "a.b", "resource": "/a", "extra": 1}}`: "unknown field",
		`{"FETCH /a": {"scope": "s", "action": "a.b", "resource": "/a"}}`:           "METHOD /path",
		`{"GET a": {"scope": "s", "action": "a.b", "resource": "/a"}}`:              "start with /",
		`{"GET /a/{p+}": {"scope": "s", "action": "a.b", "resource": "/a/{p+}"}}`:   "greedy",
		`{"GET /a/x{p}": {"scope": "s", "action": "a.b", "resource": "/a"}}`:        "whole segment",
		`{"GET /a//b": {"scope": "s", "action": "a.b", "resource": "/a"}}`:          "empty segment",
		`{"GET /a/{p}/{p}": {"scope": "s", "action": "a.b", "resource": "/a"}}`:     "twice",
		`{"GET /a": {"scope": "", "action": "a.b", "resource": "/a"}}`:              "scope",
		`{"GET /a": {"scope": "s", "action": "A B", "resource": "/a"}}`:             "action",
		`{"GET /a": {"scope": "s", "action": "a.b", "resource": "a"}}`:              "resource must",
		`{"GET /a/{p}": {"scope": "s", "action": "a.b", "resource": "/a/{q}"}}`:     "not a parameter",
	} {
		_, err := ParseRoutes([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}

func TestTokensThatDoNotVerifyAreUnauthenticated(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	valid := map[string]any{"iss": f.srv.URL, "sub": "client-caller", "client_id": "caller", "aud": testAudience, "scope": "orders.read",
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "jti": "j"}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for key, val := range valid {
			c[key] = val
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for name, tok := range map[string]string{
		"another key's signature": f.sign(valid, other, f.kid, "at+jwt"),
		"not at+jwt":              f.sign(valid, f.key, f.kid, "JWT"),
		"another issuer":          f.sign(with("iss", "https://evil.example.test"), f.key, f.kid, "at+jwt"),
		"another audience":        f.sign(with("aud", "https://other.example.test"), f.key, f.kid, "at+jwt"),
		"the management audience": f.sign(with("aud", f.srv.URL+"/resources"), f.key, f.kid, "at+jwt"),
		"expired":                 f.sign(with("exp", now.Add(-2*time.Minute).Unix()), f.key, f.kid, "at+jwt"),
		"no exp":                  f.sign(with("exp", nil), f.key, f.kid, "at+jwt"),
		"not yet valid":           f.sign(with("nbf", now.Add(5*time.Minute).Unix()), f.key, f.kid, "at+jwt"),
		"no client_id":            f.sign(with("client_id", nil), f.key, f.kid, "at+jwt"),
		"garbage":                 "not.a.token",
	} {
		if d := authorize(t, a, "GET", "/orders/1", tok); d.Outcome != Unauthenticated {
			t.Errorf("%s: %+v", name, d)
		}
	}
	for _, h := range []string{"", "Bearer", "Basic abc", "Bearer a b"} {
		d, err := a.Authorize(context.Background(), Request{Method: "GET", Path: "/orders/1", Authorization: h})
		if err != nil || d.Outcome != Unauthenticated {
			t.Errorf("Authorization %q: %+v %v", h, d, err)
		}
	}
	// Without the route's scope: refused before asking.
	if d := authorize(t, a, "GET", "/orders/1", f.mint(map[string]any{"scope": "orders.write"})); d.Outcome != Forbidden || !strings.Contains(d.Reason, "scope") {
		t.Errorf("no scope: %+v", d)
	}
	if f.called("decisions") != 0 {
		t.Errorf("%d decisions asked for refused tokens", f.called("decisions"))
	}
	// A revoked token verifies offline; the service says it is inactive.
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	tok := f.mint(nil)
	authorize(t, a, "GET", "/orders/1", tok)
	revoked := f.mint(nil)
	f.mu.Lock()
	f.inactive[jtiOf(t, revoked)] = true
	f.mu.Unlock()
	if d := authorize(t, a, "GET", "/orders/1", revoked); d.Outcome != Unauthenticated {
		t.Errorf("inactive: %+v", d)
	}
}

func jtiOf(t *testing.T, raw string) string {
	t.Helper()
	tok, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := jsonUnmarshal(tok.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	return c.JTI
}

func TestUnknownKidRefreshesTheKeysAtMostEvery30Seconds(t *testing.T) {
	f := newFakeService(t)
	a, clk := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	authorize(t, a, "GET", "/orders/1", f.mint(nil))
	// The issuer rotates: tokens now carry a kid the cache has not seen.
	rotated, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.mu.Lock()
	f.key, f.kid = rotated, "key-2"
	f.mu.Unlock()
	if d := authorize(t, a, "GET", "/orders/1", f.mint(nil)); d.Outcome != Allowed {
		t.Fatalf("after rotation: %+v", d)
	}
	if n := f.called("jwks"); n != 2 {
		t.Fatalf("jwks read %d times, want 2", n)
	}
	// Forged kids: one more read, then none for 30 seconds.
	clk.Advance(31 * time.Second)
	for i := range 5 {
		if d := authorize(t, a, "GET", "/orders/1", f.sign(map[string]any{"iss": f.srv.URL}, rotated, "forged-"+string(rune('a'+i)), "at+jwt")); d.Outcome != Unauthenticated {
			t.Fatalf("forged kid: %+v", d)
		}
	}
	if n := f.called("jwks"); n != 3 {
		t.Fatalf("jwks read %d times after forged kids, want 3", n)
	}
	clk.Advance(31 * time.Second)
	authorize(t, a, "GET", "/orders/1", f.sign(map[string]any{"iss": f.srv.URL}, rotated, "forged-z", "at+jwt"))
	if n := f.called("jwks"); n != 4 {
		t.Fatalf("jwks read %d times 31 s later, want 4", n)
	}
}

func TestFailsClosed(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	tok := f.mint(nil)
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	if d, err := a.Authorize(context.Background(), Request{Method: "GET", Path: "/orders/1", Authorization: "Bearer " + tok}); !errors.Is(err, errUnavailable) || d.Outcome == Allowed {
		t.Fatalf("service answering 503: %+v %v", d, err)
	}
	// Nothing listening at all: the keys cannot be read either.
	f.srv.Close()
	b, _ := newTestAuthorizer(t, f, nil)
	if _, err := b.Authorize(context.Background(), Request{Method: "GET", Path: "/orders/1", Authorization: "Bearer " + tok}); err == nil {
		t.Fatal("an unreachable issuer gave a decision")
	}
}

func TestOwnTokenIsRefetchedOnceWhenRefused(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	authorize(t, a, "GET", "/orders/1", f.mint(nil))
	f.mu.Lock()
	f.ownRefused = true
	f.mu.Unlock()
	if d := authorize(t, a, "GET", "/orders/1", f.mint(nil)); d.Outcome != Allowed || f.called("token") != 2 {
		t.Fatalf("%+v, %d own tokens", d, f.called("token"))
	}
	// A wrong secret is no decision: refused as an outage.
	g := newFakeService(t)
	b, _ := newTestAuthorizer(t, g, func(c *Config) { c.Credentials.Secret = "wrong" })
	if _, err := b.Authorize(context.Background(), Request{Method: "GET", Path: "/orders/1", Authorization: "Bearer " + g.mint(nil)}); !errors.Is(err, errUnavailable) ||
		strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	f := newFakeService(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jose.JSONWebKey{Key: &priv.PublicKey}.MarshalJSON()
	k, errs := clientkey.Spec{JWK: pub, Description: "authorizer"}.Parse(time.Now())
	if errs != nil {
		t.Fatal(errs)
	}
	f.clientKey = &k
	privJWK, _ := jose.JSONWebKey{Key: priv}.MarshalJSON()
	key, err := ParsePrivateKey(privJWK, "")
	if err != nil {
		t.Fatal(err)
	}
	if key.KeyID != k.Kid {
		t.Fatalf("kid %s, the service's %s", key.KeyID, k.Kid)
	}
	a, _ := newTestAuthorizer(t, f, func(c *Config) { c.Credentials = Credentials{ClientID: testClient, Key: key} })
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	if d := authorize(t, a, "GET", "/orders/1", f.mint(nil)); d.Outcome != Allowed {
		t.Fatalf("%+v", d)
	}
}

func TestParsePrivateKey(t *testing.T) {
	for name, doc := range map[string]string{
		"public JWK": `{"kty":"EC","crv":"P-256","x":"LPFpngR5PVQ3-1fiYqgDoaD6OGH6Hs3HsEDf464Z71w","y":"l3R6Ag5YjpeCsxDqTOy9bSHHldI57HEM6_qK6UYS8Tc"}`,
		"nonsense":   `hello`,
		"bad PEM":    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := ParsePrivateKey([]byte(doc), ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	routes, _ := ParseRoutes([]byte(orderRoutes))
	good := Config{Issuer: "https://id.example.test", Audience: testAudience, BaseURL: "https://id.example.test", Routes: routes,
		Credentials: Credentials{ClientID: "c", Secret: "s"}}
	for name, mod := range map[string]func(*Config){
		"no issuer":      func(c *Config) { c.Issuer = "" },
		"relative base":  func(c *Config) { c.BaseURL = "/x" },
		"no audience":    func(c *Config) { c.Audience = "" },
		"no client":      func(c *Config) { c.Credentials.ClientID = "" },
		"no credential":  func(c *Config) { c.Credentials.Secret = "" },
		"no routes":      func(c *Config) { c.Routes = nil },
		"secret and key": func(c *Config) { c.Credentials.Key = &jose.JSONWebKey{} },
	} {
		c := good
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
}

func TestTheCacheIsBounded(t *testing.T) {
	now := time.Now()
	c := &answers{max: 3, now: func() time.Time { return now }}
	for i := range 10 {
		c.put(keyOf("t", "a", "/r/"+string(rune('a'+i))), cached{allowed: true, until: now.Add(time.Minute)})
		if len(c.entries) > 3 {
			t.Fatalf("%d entries", len(c.entries))
		}
	}
	if _, hit := c.get(keyOf("t", "a", "/r/j")); !hit {
		t.Fatal("the latest answer was dropped")
	}
	off := &answers{max: -1, now: func() time.Time { return now }}
	off.put(keyOf("t", "a", "/r"), cached{allowed: true, until: now.Add(time.Minute)})
	if _, hit := off.get(keyOf("t", "a", "/r")); hit {
		t.Fatal("a cache turned off answered")
	}
}
