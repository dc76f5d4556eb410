package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/machine-iam/machine-iam/local/protectedapi"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

// TestProtectedOrders walks the README's "Protect your own API" with the
// Lambda authorizer: the tenant readied as make example readies it, the
// route GET /orders/{orderId} served through the local gateway, which runs
// the authorizer from the example's template, and a caller refused
// without a policy on /orders and let through with one.
func TestProtectedOrders(t *testing.T) {
	ctx := context.Background()
	admin := apiclient.Credentials{BaseURL: env.base, Tenant: env.admin.Tenant, ClientID: env.admin.ClientID, ClientSecret: env.admin.ClientSecret}
	first, err := protectedapi.Setup(ctx, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Again, as a second make example: the same API and client, a new
	// secret in place of the first.
	ready, err := protectedapi.Setup(ctx, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ready.APIID != first.APIID || ready.ClientID != first.ClientID || ready.Secret == first.Secret {
		t.Fatalf("second set-up %+v after %+v", ready, first)
	}
	adminTok := adminToken(t)
	if secrets := send(t, http.MethodGet, "/v1/clients/"+ready.ClientID+"/secrets", adminTok, nil).json(t)["items"].([]any); len(secrets) != 1 {
		t.Fatalf("the authorizer's client holds %d secrets", len(secrets))
	}
	gw, err := protectedapi.Gateway(ctx, "..", env.base, env.base, ready, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(gw)
	defer api.Close()
	call := func(path, bearer string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, api.URL+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		return resp.StatusCode, body
	}

	body := clientBody("orders-caller", "orders.read", "services.iam")
	body["allowedAudiences"] = []string{protectedapi.Identifier}
	cid := send(t, http.MethodPost, "/v1/clients", adminTok, body).json(t)["clientId"].(string)
	send(t, http.MethodPost, "/v1/clients/"+cid+"/secrets", adminTok, map[string]string{"value": "orders-secret-1", "description": "x"})
	tokenWith := func(scope, resource string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {"orders-secret-1"}, "scope": {scope}}
		if resource != "" {
			form.Set("resource", resource)
		}
		r := send(t, http.MethodPost, "/connect/token", "", form)
		if r.Status != http.StatusOK {
			t.Fatal(r)
		}
		return r.json(t)["access_token"].(string)
	}
	tok := tokenWith("orders.read", protectedapi.Identifier)

	if status, got := call("/orders/42", tok); status != http.StatusForbidden || got["message"] != "Forbidden" {
		t.Fatalf("without a policy: %d %v", status, got)
	}
	policy := map[string]string{"subject": "client-" + cid, "action": "orders.order.read", "scope": "/orders"}
	if r := send(t, http.MethodPost, "/v1/policies", adminTok, policy); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	status, got := call("/orders/42", tok)
	authz, _ := got["authorizer"].(map[string]any)
	if status != http.StatusOK || got["orderId"] != "42" || got["caller"] != "client-"+cid || authz["action"] != "orders.order.read" ||
		authz["resource"] != "/orders/42" || authz["aud"] != protectedapi.Identifier || authz["scope"] != "orders.read" || authz["allowed"] != true {
		t.Fatalf("with a policy on /orders: %d %v", status, got)
	}

	// A client allowed the same, whose tokens are for the service's own
	// API (it has no allowedAudiences): not a credential at this API.
	other := send(t, http.MethodPost, "/v1/clients", adminTok, clientBody("orders-caller-2", "orders.read")).json(t)["clientId"].(string)
	send(t, http.MethodPost, "/v1/clients/"+other+"/secrets", adminTok, map[string]string{"value": "orders-secret-2", "description": "x"})
	send(t, http.MethodPost, "/v1/policies", adminTok, map[string]string{"subject": "client-" + other, "action": "orders.order.read", "scope": "/orders"})
	managementToken := tokenFor(t, "default", other, "orders-secret-2", "orders.read")

	for name, c := range map[string]struct {
		path, bearer string
		status       int
	}{
		"no token":                          {"/orders/42", "", http.StatusUnauthorized},
		"a climbing order id":               {"/orders/..", tok, http.StatusForbidden},
		"without the scope":                 {"/orders/42", tokenWith("services.iam", protectedapi.Identifier), http.StatusForbidden},
		"a token for the service's own API": {"/orders/42", managementToken, http.StatusForbidden},
	} {
		if status, got := call(c.path, c.bearer); status != c.status {
			t.Errorf("%s: %d %v, want %d", name, status, got, c.status)
		}
	}

	// A token the service revoked verifies offline; the decision says it
	// is inactive. (A fresh token: the first one's allow is cached.)
	send(t, http.MethodPost, "/v1/clients/"+cid+"/revoke-tokens", adminTok, nil)
	if status, _ := call("/orders/43", tok); status != http.StatusForbidden {
		t.Errorf("a revoked token: %d", status)
	}
}
