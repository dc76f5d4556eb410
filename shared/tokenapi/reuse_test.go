package tokenapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/signer"
	"github.com/machine-iam/machine-iam/shared/token"
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
