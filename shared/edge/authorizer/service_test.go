package authorizer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
)

// fakeService answers as the service's contract says: discovery, JWKS,
// the token endpoint (client_secret_basic or private_key_jwt) and
// POST /v1/decisions, with policies a test sets.
type fakeService struct {
	t   testingT
	srv *httptest.Server
	key *ecdsa.PrivateKey
	kid string

	mu       sync.Mutex
	allowed  map[[3]string]bool // sub, action, scope
	inactive map[string]bool    // by jti
	ttl      int64
	down     bool
	// ownRefused makes the next decision request answer 401.
	ownRefused bool
	calls      map[string]int
	// checks records every decision body.
	bodies []map[string]any
	// clientKey, when set, is the public key private_key_jwt assertions
	// must verify with.
	clientKey *clientkey.Key
	own       []string
}

const (
	testAudience = "https://api.example.test"
	testClient   = "authz-client"
	testSecret   = "authz-secret-1"
)

// testingT is what the fake needs of a test (the example has none).
type testingT interface {
	Helper()
	Fatal(...any)
	Cleanup(func())
}

func newFakeService(t testingT) *fakeService {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeService{t: t, key: key, kid: "key-1", allowed: map[[3]string]bool{}, inactive: map[string]bool{}, ttl: 60, calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.count("discovery")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/.well-known/jwks.json"})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		f.count("jwks")
		f.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: f.kid, Algorithm: "ES256", Use: "sig"}}}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("POST /connect/token", f.token)
	mux.HandleFunc("POST /v1/decisions", f.decisions)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeService) count(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[what]++
}

func (f *fakeService) called(what string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[what]
}

func (f *fakeService) allow(sub, action, scope string, yes bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed[[3]string{sub, action, scope}] = yes
}

func (f *fakeService) token(w http.ResponseWriter, r *http.Request) {
	f.count("token")
	_ = r.ParseForm()
	f.mu.Lock()
	ck := f.clientKey
	f.mu.Unlock()
	ok := false
	if ck != nil {
		if a, err := clientkey.ParseAssertion(r.PostForm.Get("client_assertion")); err == nil && a.ClientID() == testClient &&
			r.PostForm.Get("client_assertion_type") == clientkey.AssertionType {
			_, err := a.Verify([]clientkey.Key{*ck}, []string{f.srv.URL + "/connect/token"}, time.Now(), time.Hour)
			ok = err == nil
		}
	} else {
		id, secret, basic := r.BasicAuth()
		ok = basic && id == testClient && secret == testSecret
	}
	if !ok || r.PostForm.Get("scope") != "services.iam" || r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	own := f.mint(map[string]any{"sub": "client-" + testClient, "client_id": testClient, "scope": "services.iam", "aud": f.srv.URL + "/resources"})
	f.mu.Lock()
	f.own = append(f.own, own)
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": own, "token_type": "Bearer", "expires_in": 3600, "scope": "services.iam"})
}

func (f *fakeService) decisions(w http.ResponseWriter, r *http.Request) {
	f.count("decisions")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if f.ownRefused || len(f.own) == 0 || bearer != f.own[len(f.own)-1] {
		f.ownRefused = false
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.bodies = append(f.bodies, body)
	raw, _ := body["token"].(string)
	var claims map[string]any
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	active := err == nil && tok.Claims(&f.key.PublicKey, &claims) == nil
	if active {
		active = !f.inactive[claims["jti"].(string)]
	}
	var decisions []map[string]any
	for _, c := range body["checks"].([]any) {
		check := c.(map[string]any)
		sub, _ := claims["sub"].(string)
		allowed := active && f.allowed[[3]string{sub, check["action"].(string), check["scope"].(string)}]
		decisions = append(decisions, map[string]any{"action": check["action"], "scope": check["scope"], "allowed": allowed})
	}
	ttl := f.ttl
	if !active {
		ttl = 0
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"subject": claims["sub"], "active": active, "decisions": decisions, "ttl": ttl})
}

var jtiSeq int

// mint signs an access token of the fake issuer; claims override the
// defaults (a caller token for this API with scope orders.read).
func (f *fakeService) mint(claims map[string]any) string {
	f.t.Helper()
	jtiSeq++
	now := time.Now()
	c := map[string]any{"iss": f.srv.URL, "sub": "client-caller", "client_id": "caller", "aud": testAudience, "scope": "orders.read",
		"tid": "default", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "jti-" + string(rune('a'+jtiSeq%26)) + time.Now().Format("150405.000000000")}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return f.sign(c, f.key, f.kid, "at+jwt")
}

func (f *fakeService) sign(claims map[string]any, key *ecdsa.PrivateKey, kid, typ string) string {
	f.t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid))
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var orderRoutes = `{
	"GET /orders/{orderId}": {"scope": "orders.read", "action": "orders.order.read", "resource": "/orders/{orderId}"},
	"GET /orders": {"scope": "orders.read", "action": "orders.order.read", "resource": "/orders"},
	"ANY /orders/{orderId}/lines/{lineId}": {"scope": "orders.write", "action": "orders.manage", "resource": "/orders/{orderId}/lines/{lineId}"}
}`

func newTestAuthorizer(t testing.TB, f *fakeService, mod func(*Config)) (*Authorizer, *clock) {
	t.Helper()
	routes, err := ParseRoutes([]byte(orderRoutes))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	cfg := Config{Issuer: f.srv.URL, Audience: testAudience, BaseURL: f.srv.URL, Routes: routes,
		Credentials: Credentials{ClientID: testClient, Secret: testSecret}, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
