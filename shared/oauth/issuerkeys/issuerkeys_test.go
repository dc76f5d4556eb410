package issuerkeys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestPublicRefusesEverySpecialRange(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"::1", "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::1",
		"224.0.0.1", "255.255.255.255", "198.18.0.1"} {
		if Public(netip.MustParseAddr(a)) {
			t.Errorf("Public(%s) = true", a)
		}
	}
	for _, a := range []string{"140.82.112.3", "2606:4700::1111", "8.8.8.8"} {
		if !Public(netip.MustParseAddr(a)) {
			t.Errorf("Public(%s) = false", a)
		}
	}
}

// TestGuardChecksTheDialledAddress: a host name that resolves to loopback
// (as a rebinding DNS answer would) is refused when the connection is
// made, not when the URL is read.
func TestGuardChecksTheDialledAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	client := &http.Client{Transport: GuardedTransport(false, time.Second)}
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		_, err := client.Get(u)
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("GET %s: err = %v, want ErrForbiddenAddress", u, err)
		}
	}
	// The same request with the local setting goes through.
	resp, err := (&http.Client{Transport: GuardedTransport(true, time.Second)}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// issuer is a test OIDC issuer: its discovery document and key set, with
// knobs for misbehaving.
type issuer struct {
	*httptest.Server
	keys      atomic.Value // []jose.JSONWebKey
	jwksCalls atomic.Int64
	serve     func(w http.ResponseWriter, r *http.Request) bool // true: handled
}

func newIssuer(t *testing.T) *issuer {
	is := &issuer{}
	is.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if is.serve != nil && is.serve(w, r) {
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/keys"})
		case "/keys":
			is.jwksCalls.Add(1)
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: is.keys.Load().([]jose.JSONWebKey)})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(is.Close)
	is.setKey(t, "k1")
	return is
}

func (is *issuer) setKey(t *testing.T, kid string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is.keys.Store([]jose.JSONWebKey{{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}})
}

func TestKeysAreCachedAndRefetchedAtMostEvery30s(t *testing.T) {
	is := newIssuer(t)
	now := time.Now()
	f := New(Options{AllowLocal: true, Now: func() time.Time { return now }})
	ctx := context.Background()
	keys, err := f.Keys(ctx, is.URL, "k1")
	if err != nil || len(keys) != 1 {
		t.Fatalf("Keys: %v %v", keys, err)
	}
	if _, err := f.Keys(ctx, is.URL, "k1"); err != nil || is.jwksCalls.Load() != 1 {
		t.Fatalf("cached keys fetched again: %d calls, %v", is.jwksCalls.Load(), err)
	}
	// A rotation: the new kid is unknown; the first miss refetches, the
	// misses after it within 30 s do not.
	is.setKey(t, "k2")
	now = now.Add(31 * time.Second)
	if keys, _ := f.Keys(ctx, is.URL, "k2"); len(keys) != 1 || keys[0].KeyID != "k2" || is.jwksCalls.Load() != 2 {
		t.Fatalf("rotation not picked up: %v, %d calls", keys, is.jwksCalls.Load())
	}
	for range 5 {
		_, _ = f.Keys(ctx, is.URL, "unknown")
	}
	if is.jwksCalls.Load() != 2 {
		t.Errorf("unknown kids refetched within 30 s: %d calls", is.jwksCalls.Load())
	}
	now = now.Add(DefaultRefreshEvery)
	_, _ = f.Keys(ctx, is.URL, "unknown")
	if is.jwksCalls.Load() != 3 {
		t.Errorf("unknown kid not refetched after 30 s: %d calls", is.jwksCalls.Load())
	}
}

func TestMisbehavingIssuersAreUnavailable(t *testing.T) {
	ctx := context.Background()
	for name, serve := range map[string]func(is *issuer) func(w http.ResponseWriter, r *http.Request) bool{
		"issuer mismatch": func(is *issuer) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/.well-known/openid-configuration" {
					return false
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://other.example", "jwks_uri": is.URL + "/keys"})
				return true
			}
		},
		"huge document": func(*issuer) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, _ *http.Request) bool {
				_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("x", MaxDiscoveryBytes) + `"}`))
				return true
			}
		},
		"slow document": func(*issuer) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(`{"issuer":`))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return true
			}
		},
		"redirect": func(*issuer) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
				return true
			}
		},
		"server error": func(*issuer) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
		},
		"http jwks_uri": func(is *issuer) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/.well-known/openid-configuration" {
					return false
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": "file:///etc/passwd"})
				return true
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			is := newIssuer(t)
			is.serve = serve(is)
			f := New(Options{AllowLocal: true, Timeout: 300 * time.Millisecond})
			if _, err := f.Keys(ctx, is.URL, "k1"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestWithoutTheLocalSettingLoopbackIssuersAreRefused: the default setting
// neither speaks http nor reaches loopback.
func TestWithoutTheLocalSettingLoopbackIssuersAreRefused(t *testing.T) {
	is := newIssuer(t)
	f := New(Options{})
	if _, err := f.Keys(context.Background(), is.URL, "k1"); !errors.Is(err, ErrUnavailable) || is.jwksCalls.Load() != 0 {
		t.Errorf("err = %v (%d fetches), want ErrUnavailable and none", err, is.jwksCalls.Load())
	}
	tls := httptest.NewTLSServer(is.Config.Handler)
	defer tls.Close()
	f = New(Options{})
	if _, err := f.Keys(context.Background(), tls.URL, "k1"); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("https on loopback: err = %v, want ErrForbiddenAddress", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	is := newIssuer(t)
	f := New(Options{AllowLocal: true, MaxIssuers: 2})
	ctx := context.Background()
	for _, suffix := range []string{"", "/a", "/b", "/c"} {
		_, _ = f.Keys(ctx, is.URL+suffix, "k1")
	}
	if n := len(f.entries); n > 2 {
		t.Errorf("%d issuers cached, want at most 2", n)
	}
}
