package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// routes lists one request for every management route.
func routes(clientID string) [][2]string {
	return [][2]string{
		{http.MethodGet, "/v1/clients"},
		{http.MethodPost, "/v1/clients"},
		{http.MethodGet, "/v1/clients/" + clientID},
		{http.MethodPut, "/v1/clients/" + clientID},
		{http.MethodDelete, "/v1/clients/" + clientID},
		{http.MethodGet, "/v1/clients/" + clientID + "/secrets"},
		{http.MethodPost, "/v1/clients/" + clientID + "/secrets"},
		{http.MethodDelete, "/v1/clients/" + clientID + "/secrets/00000000-0000-4000-8000-000000000000"},
	}
}

func TestManagementRequiresAValidToken(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "no-iam-scope", "api")
	apiOnly := tokenFor(t, tenant.Default, id, value, "")
	parts := strings.Split(admin, ".")
	tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "xx." + parts[2]
	for _, c := range []struct{ name, header string }{
		{"no header", ""},
		{"not bearer", "Basic " + admin},
		{"garbage", "Bearer not.a.jwt"},
		{"tampered", "Bearer " + tampered},
		{"without services.iam", "Bearer " + apiOnly},
	} {
		for _, rt := range routes(id) {
			t.Run(c.name+" "+rt[0]+" "+rt[1], func(t *testing.T) {
				r := send(t, rt[0], rt[1], "", clientBody("x"), "Authorization", c.header)
				assertProblem(t, r, http.StatusUnauthorized)
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
	}
	t.Run("expired", func(t *testing.T) {
		env.clock.Advance(time.Hour + 2*time.Minute)
		defer env.clock.Reset()
		assertProblem(t, send(t, http.MethodGet, "/v1/clients", admin, nil), http.StatusUnauthorized)
	})
}

func TestTenantsAreIsolated(t *testing.T) {
	defaultAdmin := adminToken(t)
	id, value := newClient(t, defaultAdmin, "isolated")
	otherAdmin, other := newTenantAdmin(t, "t2")

	for _, rt := range routes(id) {
		if rt[0] == http.MethodGet && rt[1] == "/v1/clients" || rt[0] == http.MethodPost && rt[1] == "/v1/clients" {
			continue
		}
		t.Run(rt[0]+" "+rt[1], func(t *testing.T) {
			body := any(clientBody("x"))
			if strings.HasSuffix(rt[1], "/secrets") {
				body = map[string]any{"value": "intruder-secret", "description": "x"}
			}
			r := send(t, rt[0], rt[1], otherAdmin, body)
			assertProblem(t, r, http.StatusNotFound)
		})
	}
	list := send(t, http.MethodGet, "/v1/clients", otherAdmin, nil).json(t)
	if n := list["metadata"].(map[string]any)["totalCount"]; n != 1.0 {
		t.Errorf("tenant t2 sees %v clients, want only its admin", n)
	}
	if r := send(t, http.MethodGet, "/v1/clients/"+id, defaultAdmin, nil); r.Status != 200 {
		t.Fatalf("the default tenant's client must be untouched: %s", r)
	}
	// Credentials are scoped to their tenant's token endpoint.
	r := send(t, http.MethodPost, tokenPath(other.Tenant), "", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {value}})
	if r.Status != http.StatusUnauthorized {
		t.Errorf("default's client at t2's endpoint: %s", r)
	}
	// A t2 token names t2's issuer; its own tenant's routes accept it.
	if r := send(t, http.MethodGet, "/v1/clients", otherAdmin, nil); r.Status != 200 {
		t.Fatalf("t2 admin lists its own clients: %s", r)
	}
}
