package tokenapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

type countingSigner struct {
	signer.Signer
	signs atomic.Int64
}

func (c *countingSigner) Sign(ctx context.Context, key signer.Key, digest []byte) ([]byte, error) {
	c.signs.Add(1)
	return c.Signer.Sign(ctx, key, digest)
}

// TestTokenReuse: with reuse on, repeated requests get the same token, with
// its remaining lifetime, and no new signature until less than the
// configured share of its lifetime is left; other scopes get their own.
func TestTokenReuse(t *testing.T) {
	svc := newTestService(t)
	counter := &countingSigner{Signer: svc.Minter.Signer}
	now := time.Now()
	clock := func() time.Time { return now }
	svc.Minter = &token.Minter{Signer: counter, Lifetime: time.Hour, Now: clock}
	svc.Now = clock
	svc.Reuse = &token.Reuse{MinRemaining: 0.5, Max: 100}
	h := svc.Handler()
	issue := func(scope string) (string, int64) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(
			"grant_type=client_credentials&client_id="+knownID+"&client_secret="+knownSecret+"&scope="+scope))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		return body.AccessToken, body.ExpiresIn
	}
	first, _ := issue("api")
	now = now.Add(20 * time.Minute)
	again, left := issue("api")
	if again != first || left != 40*60 || counter.signs.Load() != 1 {
		t.Fatalf("reused %v, expires_in %d, signatures %d", again == first, left, counter.signs.Load())
	}
	if other, _ := issue("services.iam"); other == first || counter.signs.Load() != 2 {
		t.Fatal("another scope must get its own token")
	}
	now = now.Add(11 * time.Minute) // 29 of 60 minutes left: under half
	if fresh, left := issue("api"); fresh == first || left != 3600 || counter.signs.Load() != 3 {
		t.Fatalf("a token with less than half its life left must not be reused (signatures %d)", counter.signs.Load())
	}
}

// TestReuseHonoursRevocation: with reuse on, a token revoked by RFC 7009
// revocation, at this process or at another one sharing the storage, is
// never handed out again, nor one issued before the client's kill switch;
// an unrevoked token is reused again once the state is read anew.
func TestReuseHonoursRevocation(t *testing.T) {
	a := newTestService(t)
	counter := &countingSigner{Signer: a.Minter.Signer}
	now := time.Now()
	clock := func() time.Time { return now }
	a.Minter = &token.Minter{Signer: counter, Lifetime: time.Hour, Now: clock}
	a.Now = clock
	a.Verifier = &token.Verifier{Keys: a.Keys, Now: clock}
	b := *a // another process: the same storage and key, a cache of its own
	a.Reuse = &token.Reuse{MinRemaining: 0.5, Max: 100}
	b.Reuse = &token.Reuse{MinRemaining: 0.5, Max: 100}
	ha, hb := a.Handler(), b.Handler()
	post := func(h http.Handler, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body+"&client_id="+knownID+"&client_secret="+knownSecret))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	issue := func(h http.Handler) string {
		t.Helper()
		w := post(h, "/connect/token", "grant_type=client_credentials&scope=api")
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		return body.AccessToken
	}
	revoke := func(h http.Handler, tok string) {
		t.Helper()
		if w := post(h, "/connect/revocation", "token="+tok); w.Code != 200 {
			t.Fatalf("revocation: %d %s", w.Code, w.Body)
		}
	}

	first := issue(ha)
	if again := issue(ha); again != first {
		t.Fatal("reuse is off")
	}
	now = now.Add(time.Second)
	revoke(ha, first) // at this process
	second := issue(ha)
	if second == first {
		t.Fatal("the token revoked at this process was handed out again")
	}
	if again := issue(ha); again != second {
		t.Error("a token minted after the revocation is reused")
	}
	fromB := issue(hb)
	now = now.Add(time.Second)
	revoke(hb, second) // at another process
	third := issue(ha)
	if third == second || third == first {
		t.Fatal("the token revoked at another process was handed out again")
	}
	if again := issue(hb); again == fromB {
		t.Error("a revocation of any of the client's tokens ends the reuse of those remembered before it")
	}
	now = now.Add(time.Second)
	a.Credentials.(*memoryCredentials).RevokeTokens(context.Background(), "default", knownID, now)
	if fourth := issue(ha); fourth == third {
		t.Fatal("a token issued before the kill switch was handed out again")
	}
	if n := counter.signs.Load(); n != 6 {
		t.Errorf("%d signatures, want 6: one per token handed out for the first time", n)
	}
}

// TestRevocationLimit: past the revocations a client may make in a span,
// revocation answers 503 temporarily_unavailable with Retry-After until the
// span ends (RFC 7009 §2.2.1: the token is still valid), and revokes
// nothing; the span is a token's longest life and ten minutes.
func TestRevocationLimit(t *testing.T) {
	svc := newTestService(t)
	svc.Verifier = &token.Verifier{Keys: svc.Keys, Now: svc.Now}
	svc.MaxLifetime = 2 * time.Hour
	creds := svc.Credentials.(*memoryCredentials)
	creds.maxRevocations = 1
	h := svc.Handler()
	post := func(path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body+"&client_id="+knownID+"&client_secret="+knownSecret))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	issue := func() string {
		var body struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(post("/connect/token", "grant_type=client_credentials").Body.Bytes(), &body)
		return body.AccessToken
	}
	first, second := issue(), issue()
	if w := post("/connect/revocation", "token="+first); w.Code != http.StatusOK {
		t.Fatalf("first revocation: %d %s", w.Code, w.Body)
	}
	w := post("/connect/revocation", "token="+second)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != http.StatusServiceUnavailable || e.Error != "temporarily_unavailable" {
		t.Fatalf("past the limit: %d %s", w.Code, w.Body)
	}
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); ra < 2*3600+600-5 || ra > 2*3600+600 {
		t.Errorf("Retry-After %q, want the end of the span", w.Header().Get("Retry-After"))
	}
	if creds.revoked[svcJTI(t, second)] {
		t.Error("a refused revocation revoked the token")
	}
}

// svcJTI reads the jti of a token without verifying it.
func svcJTI(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ID string `json:"jti"`
	}
	_ = json.Unmarshal(payload, &c)
	return c.ID
}
