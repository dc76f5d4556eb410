package integration

// The helpers every test of the package uses to act on the service: tenants
// and their admins, callers with their tokens, policies and groups, and the
// assertions on problems.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// newTenantAdmin bootstraps tenant name (made unique per run) and returns an
// admin token for it.
func newTenantAdmin(t *testing.T, name string) (string, operator.Result) {
	t.Helper()
	name = name + "-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
	res, err := operator.Operator{Store: env.svc.Store(), Hasher: testHasher, IssuerBase: env.base, Now: time.Now()}.Bootstrap(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tokenFor(t, name, res.ClientID, res.ClientSecret, ""), res
}

func grant(t *testing.T, admin, subject, action, scope string) {
	t.Helper()
	r := send(t, http.MethodPost, "/v1/policies", admin, map[string]string{"subject": subject, "action": action, "scope": scope})
	if r.Status != http.StatusOK {
		t.Fatalf("grant %s %s %s: %s", subject, action, scope, r)
	}
}

func revoke(t *testing.T, admin, subject, action, scope string) {
	t.Helper()
	r := send(t, http.MethodDelete, "/v1/policies", admin, map[string]string{"subject": subject, "action": action, "scope": scope})
	if r.Status != http.StatusNoContent {
		t.Fatalf("revoke %s %s %s: %s", subject, action, scope, r)
	}
}

// caller is a client of tenant ten with one secret, created by that
// tenant's admin, acting on the management API with its own token.
type caller struct {
	ten, id, subject, secret string
}

// newCaller is a caller of the default tenant allowed services.iam and api.
func newCaller(t *testing.T, admin, name string) caller {
	t.Helper()
	return newTenantCaller(t, tenant.Default, admin, name, "services.iam", "api")
}

// newTenantCaller is a caller of tenant ten allowed the OAuth scopes given.
func newTenantCaller(t *testing.T, ten, admin, name string, scopes ...string) caller {
	t.Helper()
	id, secret := newClient(t, admin, name, scopes...)
	return caller{ten: ten, id: id, subject: subject.ID(subject.Client, id), secret: secret}
}

// token is an access token of the caller with every scope it is allowed.
func (c caller) token(t *testing.T) string {
	t.Helper()
	return tokenFor(t, c.ten, c.id, c.secret, "")
}

func newGroup(t *testing.T, admin, name string) string {
	t.Helper()
	r := send(t, http.MethodPost, "/v1/subjects/groups", admin, map[string]string{"displayName": name, "description": "test group"})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	return r.json(t)["id"].(string)
}

func assertProblem(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["status"] != float64(status) || p["title"] == "" || p["type"] == "" || p["detail"] == "" {
		t.Errorf("problem = %v", p)
	}
	if strings.Contains(string(r.Body), "goroutine") || strings.Contains(string(r.Body), ".go:") {
		t.Errorf("problem leaks internals: %s", r.Body)
	}
}

// assertLacks checks a 403 whose detail names each of what the caller lacks.
func assertLacks(t *testing.T, r response, lacking ...string) {
	t.Helper()
	assertProblem(t, r, http.StatusForbidden)
	detail := r.json(t)["detail"].(string)
	for _, l := range lacking {
		if !strings.Contains(detail, l) {
			t.Errorf("detail %q does not name %q", detail, l)
		}
	}
}

func members(t *testing.T, admin, gid string) []string {
	t.Helper()
	r := send(t, http.MethodGet, "/v1/subjects/groups/"+gid+"/members", admin, nil)
	if r.Status != http.StatusOK {
		t.Fatal(r)
	}
	var out []string
	for _, m := range r.json(t)["data"].([]any) {
		out = append(out, m.(map[string]any)["subjectId"].(string))
	}
	return out
}
