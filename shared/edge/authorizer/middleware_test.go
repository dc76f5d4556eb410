package authorizer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMiddleware(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	srv := httptest.NewServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": d.Claims.Subject, "resource": d.Target.Resource})
	})))
	defer srv.Close()
	call := func(path, token string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, resp.Header, body
	}
	tok := f.mint(nil)
	if status, _, body := call("/orders/1", tok); status != 200 || body["sub"] != "client-caller" || body["resource"] != "/orders/1" {
		t.Fatalf("allowed: %d %v", status, body)
	}
	for _, c := range []struct {
		name, path, token string
		status            int
		challenge         string
	}{
		{"denied", "/orders/2", tok, 403, ""},
		{"encoded slash", "/orders/a%2Fb", tok, 403, ""},
		{"no route", "/customers", tok, 403, ""},
		{"no token", "/orders/1", "", 401, "Bearer"},
		{"bad token", "/orders/1", "x.y.z", 401, `Bearer error="invalid_token"`},
		{"no scope", "/orders/1", f.mint(map[string]any{"scope": "orders.write"}), 403, `Bearer error="insufficient_scope", scope="orders.read"`},
	} {
		status, h, body := call(c.path, c.token)
		if status != c.status || h.Get("WWW-Authenticate") != c.challenge || h.Get("Content-Type") != "application/problem+json" || body["status"] != float64(c.status) {
			t.Errorf("%s: %d %q %v", c.name, status, h.Get("WWW-Authenticate"), body)
		}
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	if status, h, _ := call("/orders/3", tok); status != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("service down: %d", status)
	}
}
