package integration

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/subject"
)

// ordersAPI is a registration body of an orders API: scope orders.read,
// actions orders.manage ⊃ orders.order.read.
func ordersAPI(identifier string) map[string]any {
	return map[string]any{
		"identifier": identifier, "name": "Orders API", "description": "The shop's orders.",
		"scopes": []map[string]any{{"name": "orders.read", "description": "Read orders."}},
		"actions": []map[string]any{
			{"action": "orders.manage", "description": "Everything on orders."},
			{"action": "orders.order.read", "parent": "orders.manage", "description": "Read an order."},
		},
	}
}

func registerAPI(t *testing.T, admin string, body map[string]any) map[string]any {
	t.Helper()
	r := send(t, http.MethodPost, "/v1/apis", admin, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("register API: %s", r)
	}
	return r.json(t)
}

// apiTokenFor is a token of the caller for resource (its allowedAudiences
// must hold it).
func apiTokenFor(t *testing.T, c caller, resource string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}}
	if resource != "" {
		form.Set("resource", resource)
	}
	r := send(t, http.MethodPost, tokenPath(c.ten), "", form)
	if r.Status != http.StatusOK {
		t.Fatalf("token for %s: %s", resource, r)
	}
	return r.json(t)["access_token"].(string)
}

func decide(t *testing.T, bearer string, body map[string]any) response {
	t.Helper()
	return send(t, http.MethodPost, "/v1/decisions", bearer, body)
}

func allowedList(t *testing.T, r response) []bool {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("decisions: %s", r)
	}
	var out []bool
	for _, d := range r.json(t)["decisions"].([]any) {
		out = append(out, d.(map[string]any)["allowed"].(bool))
	}
	return out
}

func checks(pairs ...string) []map[string]string {
	var out []map[string]string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, map[string]string{"action": pairs[i], "scope": pairs[i+1]})
	}
	return out
}

func TestAPIRegistry(t *testing.T) {
	admin, res := newTenantAdmin(t, "apis")
	api := registerAPI(t, admin, ordersAPI("HTTPS://Orders.Example.test:443/v1/../"))
	id := api["apiId"].(string)
	if api["identifier"] != "https://orders.example.test" || api["builtin"] != false || api["discoverable"] != false {
		t.Fatalf("api = %v", api)
	}

	t.Run("read and list", func(t *testing.T) {
		r := send(t, http.MethodGet, "/v1/apis/"+id, admin, nil)
		if r.Status != http.StatusOK || r.Header.Get("ETag") != `"1"` {
			t.Fatal(r)
		}
		l := send(t, http.MethodGet, "/v1/apis?pageSize=200", admin, nil)
		if l.Status != http.StatusOK {
			t.Fatal(l)
		}
		var ids []string
		for _, it := range l.json(t)["items"].([]any) {
			ids = append(ids, it.(map[string]any)["apiId"].(string))
		}
		if !slices.Contains(ids, "builtin-banking") || !slices.Contains(ids, "builtin-iam") || ids[len(ids)-1] != id {
			t.Errorf("ids = %v", ids)
		}
		b := send(t, http.MethodGet, "/v1/apis/builtin-iam", admin, nil)
		if b.Status != http.StatusOK || !strings.HasSuffix(b.json(t)["identifier"].(string), "/"+res.Tenant+"/resources") {
			t.Errorf("the management API's identifier is the tenant's management audience: %s", b)
		}
		assertProblem(t, send(t, http.MethodGet, "/v1/apis/builtin-nope", admin, nil), http.StatusNotFound)
		assertProblem(t, send(t, http.MethodGet, "/v1/apis/not-an-id", admin, nil), http.StatusNotFound)
	})

	t.Run("declared APIs are read-only", func(t *testing.T) {
		assertProblem(t, send(t, http.MethodDelete, "/v1/apis/builtin-banking", admin, nil), http.StatusForbidden)
		assertProblem(t, send(t, http.MethodPut, "/v1/apis/builtin-banking", admin, ordersAPI("https://x.example.test")), http.StatusForbidden)
	})

	t.Run("names are unique across APIs and the declaration", func(t *testing.T) {
		for name, body := range map[string]map[string]any{
			"same identifier": ordersAPI("https://orders.example.test/"),
			"declared scope": {"identifier": "https://a.example.test", "name": "a",
				"scopes": []map[string]any{{"name": "api"}}},
			"declared action": {"identifier": "https://a.example.test", "name": "a",
				"actions": []map[string]any{{"action": "banking.ais.read"}}},
			"another API's scope": {"identifier": "https://a.example.test", "name": "a",
				"scopes": []map[string]any{{"name": "orders.read"}}},
			"another API's action": {"identifier": "https://a.example.test", "name": "a",
				"actions": []map[string]any{{"action": "orders.manage"}}},
			"declared identifier": {"identifier": "https://api.aritma.io/banking", "name": "a"},
		} {
			t.Run(name, func(t *testing.T) {
				r := send(t, http.MethodPost, "/v1/apis", admin, body)
				assertProblem(t, r, http.StatusConflict)
				if r.json(t)["type"] != "urn:machine-iam:problem:name-taken" {
					t.Errorf("type = %v", r.json(t)["type"])
				}
			})
		}
	})

	t.Run("malformed bodies", func(t *testing.T) {
		for name, body := range map[string]any{
			"fragment":          map[string]any{"identifier": "https://a.example.test/#x", "name": "a"},
			"relative":          map[string]any{"identifier": "/orders", "name": "a"},
			"the issuer":        map[string]any{"identifier": env.base, "name": "a"},
			"under the issuer":  map[string]any{"identifier": env.base + "/" + res.Tenant + "/resources", "name": "a"},
			"no identifier":     map[string]any{"name": "a"},
			"iam action":        map[string]any{"identifier": "https://a.example.test", "name": "a", "actions": []map[string]any{{"action": "iam.x"}}},
			"foreign parent":    map[string]any{"identifier": "https://a.example.test", "name": "a", "actions": []map[string]any{{"action": "a.b", "parent": "banking.manage"}}},
			"cycle":             map[string]any{"identifier": "https://a.example.test", "name": "a", "actions": []map[string]any{{"action": "a.b", "parent": "a.c"}, {"action": "a.c", "parent": "a.b"}}},
			"bad scope":         map[string]any{"identifier": "https://a.example.test", "name": "a", "scopes": []map[string]any{{"name": "a b"}}},
			"unknown member":    map[string]any{"identifier": "https://a.example.test", "name": "a", "apiId": "x"},
			"wrong member type": map[string]any{"identifier": "https://a.example.test", "name": 3},
		} {
			t.Run(name, func(t *testing.T) {
				assertProblem(t, send(t, http.MethodPost, "/v1/apis", admin, body), http.StatusBadRequest)
			})
		}
		change := ordersAPI("https://other.example.test")
		assertProblem(t, send(t, http.MethodPut, "/v1/apis/"+id, admin, change), http.StatusBadRequest)
	})

	t.Run("the tenant knows the registered names", func(t *testing.T) {
		acts := send(t, http.MethodGet, "/v1/actions", admin, nil)
		if !strings.Contains(string(acts.Body), `"action":"orders.order.read","parent":"orders.manage"`) {
			t.Errorf("actions: %s", acts.Body)
		}
		c := newTenantCaller(t, res.Tenant, admin, "shop", "orders.read")
		if tok := tokenFor(t, res.Tenant, c.id, c.secret, "orders.read"); tok == "" {
			t.Fatal("no token")
		}
		grant(t, admin, c.subject, "orders.order.read", "/orders")
		disc := send(t, http.MethodGet, "/"+res.Tenant+"/.well-known/openid-configuration", "", nil)
		if strings.Contains(string(disc.Body), "orders.read") {
			t.Error("an API that is not discoverable must stay out of discovery")
		}
		change := ordersAPI("https://orders.example.test")
		change["discoverable"] = true
		if r := send(t, http.MethodPut, "/v1/apis/"+id, admin, change, "If-Match", `"1"`); r.Status != http.StatusOK || r.Header.Get("ETag") != `"2"` {
			t.Fatal(r)
		}
		disc = send(t, http.MethodGet, "/"+res.Tenant+"/.well-known/openid-configuration", "", nil)
		if !strings.Contains(string(disc.Body), `"orders.read"`) {
			t.Errorf("discovery: %s", disc.Body)
		}
		assertProblem(t, send(t, http.MethodPut, "/v1/apis/"+id, admin, change, "If-Match", `"1"`), http.StatusPreconditionFailed)
	})

	t.Run("removal is inert and names are never reused", func(t *testing.T) {
		other := registerAPI(t, admin, map[string]any{"identifier": "https://inert.example.test", "name": "Inert",
			"scopes": []map[string]any{{"name": "inert.read"}}, "actions": []map[string]any{{"action": "inert.do"}}})
		c := newTenantCaller(t, res.Tenant, admin, "inert-user", "inert.read")
		grant(t, admin, c.subject, "inert.do", "/things")
		if r := send(t, http.MethodDelete, "/v1/apis/"+other["apiId"].(string), admin, nil); r.Status != http.StatusNoContent {
			t.Fatal(r)
		}
		pols := send(t, http.MethodGet, "/v1/policies?subject="+c.subject, admin, nil)
		if !strings.Contains(string(pols.Body), `"inert.do"`) {
			t.Errorf("the policy must stay: %s", pols.Body)
		}
		chk := send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": c.subject, "action": "owner", "scope": "/"})
		if chk.json(t)["allowed"] != false {
			t.Error(chk)
		}
		// The scope is inert: the token request that named it fails.
		r := send(t, http.MethodPost, tokenPath(res.Tenant), "", url.Values{"grant_type": {"client_credentials"},
			"client_id": {c.id}, "client_secret": {c.secret}, "scope": {"inert.read"}})
		if r.Status != http.StatusBadRequest {
			t.Errorf("token with an inert scope: %s", r)
		}
		again := send(t, http.MethodPost, "/v1/apis", admin, map[string]any{"identifier": "https://inert.example.test", "name": "Again",
			"actions": []map[string]any{{"action": "inert.do"}}})
		assertProblem(t, again, http.StatusConflict)
		// The identifier itself is free again.
		registerAPI(t, admin, map[string]any{"identifier": "https://inert.example.test", "name": "Again"})
	})
}

func TestDecisions(t *testing.T) {
	admin, res := newTenantAdmin(t, "decide")
	ten := res.Tenant
	const identifier = "https://api.example.test"
	api := registerAPI(t, admin, ordersAPI(identifier))
	apiID := api["apiId"].(string)

	// The shop calls the orders API with tokens for it.
	shopID, shopSecret := newClient(t, admin, "shop", "orders.read")
	body := clientBody("shop", "orders.read")
	body["allowedAudiences"] = []string{identifier}
	if r := send(t, http.MethodPut, "/v1/clients/"+shopID, admin, body); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	shop := caller{ten: ten, id: shopID, subject: subject.ID(subject.Client, shopID), secret: shopSecret}
	grant(t, admin, shop.subject, "orders.order.read", "/orders")
	shopToken := apiTokenFor(t, shop, identifier)

	// The orders API's gateway asks for decisions.
	gw := newTenantCaller(t, ten, admin, "gateway", "services.iam")
	grant(t, admin, gw.subject, "iam.decision.check", "/apis/"+apiID)
	gwToken := gw.token(t)

	t.Run("by token", func(t *testing.T) {
		r := decide(t, gwToken, map[string]any{"token": shopToken,
			"checks": checks("orders.order.read", "/orders/42", "orders.order.read", "/invoices/1", "orders.manage", "/orders")})
		if got := allowedList(t, r); !slices.Equal(got, []bool{true, false, false}) {
			t.Errorf("allowed = %v", got)
		}
		m := r.json(t)
		if m["active"] != true || m["subject"] != shop.subject || m["client_id"] != shopID || m["scope"] != "orders.read" ||
			m["ttl"].(float64) < 1 || m["ttl"].(float64) > 60 || m["exp"] == nil {
			t.Errorf("answer = %v", m)
		}
		if aud := m["aud"].([]any); len(aud) != 1 || aud[0] != identifier {
			t.Errorf("aud = %v", aud)
		}
		if d := m["decisions"].([]any)[1].(map[string]any); d["action"] != "orders.order.read" || d["scope"] != "/invoices/1" {
			t.Errorf("answers come in the order asked: %v", d)
		}
	})

	t.Run("a token for another audience is no credential", func(t *testing.T) {
		body := clientBody("shop", "orders.read")
		body["allowedAudiences"] = []string{identifier, "https://elsewhere.example.test"}
		if r := send(t, http.MethodPut, "/v1/clients/"+shopID, admin, body); r.Status != http.StatusOK {
			t.Fatal(r)
		}
		elsewhere := apiTokenFor(t, shop, "https://elsewhere.example.test")
		// A client naming no audience gets tokens for the management API.
		plain := newTenantCaller(t, ten, admin, "plain", "services.iam")
		grant(t, admin, plain.subject, "orders.order.read", "/orders")
		for _, tok := range []string{elsewhere, plain.token(t)} {
			if got := allowedList(t, decide(t, gwToken, map[string]any{"token": tok, "checks": checks("orders.order.read", "/orders/1")})); got[0] {
				t.Error("a token without the API's identifier in aud was allowed")
			}
		}
	})

	t.Run("by subject", func(t *testing.T) {
		body := map[string]any{"subject": shop.subject, "checks": checks("orders.order.read", "/orders/1")}
		assertLacks(t, decide(t, gwToken, body), "iam.client.read")
		grant(t, admin, gw.subject, "iam.client.read", "/clients/"+shopID)
		r := decide(t, gwToken, body)
		if got := allowedList(t, r); !got[0] || r.json(t)["active"] != true || r.json(t)["ttl"] != float64(60) {
			t.Errorf("by subject: %s", r)
		}
		gone, _ := newClient(t, admin, "gone", "orders.read")
		grant(t, admin, gw.subject, "iam.client.read", "/clients/"+gone)
		if r := send(t, http.MethodDelete, "/v1/clients/"+gone, admin, nil); r.Status != http.StatusNoContent {
			t.Fatal(r)
		}
		r = decide(t, gwToken, map[string]any{"subject": "client-" + gone, "checks": checks("orders.order.read", "/orders/1")})
		if got := allowedList(t, r); got[0] || r.json(t)["active"] != false {
			t.Errorf("a deleted client: %s", r)
		}
	})

	t.Run("permission to ask", func(t *testing.T) {
		// Unregistered actions need the check on /; asking about them
		// says nothing beyond what an unknown API would.
		r := decide(t, gwToken, map[string]any{"token": shopToken, "checks": checks("nobody.knows", "/x")})
		assertProblem(t, r, http.StatusForbidden)
		r2 := decide(t, gwToken, map[string]any{"token": shopToken, "checks": checks("banking.ais.read", "/x")})
		assertProblem(t, r2, http.StatusForbidden)
		if r.json(t)["detail"] != r2.json(t)["detail"] {
			t.Errorf("refusals differ: %s / %s", r, r2)
		}
		nobody := newTenantCaller(t, ten, admin, "nobody", "services.iam")
		assertProblem(t, decide(t, nobody.token(t), map[string]any{"token": shopToken, "checks": checks("orders.order.read", "/orders/1")}), http.StatusForbidden)
		grant(t, admin, gw.subject, "iam.decision.check", "/")
		if got := allowedList(t, decide(t, gwToken, map[string]any{"token": shopToken, "checks": checks("nobody.knows", "/x")})); got[0] {
			t.Error("an unregistered action must be false")
		}
	})

	t.Run("malformed requests", func(t *testing.T) {
		many := make([]map[string]string, 51)
		for i := range many {
			many[i] = map[string]string{"action": "orders.order.read", "scope": "/orders"}
		}
		for name, body := range map[string]any{
			"both":       map[string]any{"token": shopToken, "subject": shop.subject, "checks": checks("orders.order.read", "/o")},
			"neither":    map[string]any{"checks": checks("orders.order.read", "/o")},
			"no checks":  map[string]any{"token": shopToken, "checks": []any{}},
			"51 checks":  map[string]any{"token": shopToken, "checks": many},
			"iam action": map[string]any{"token": shopToken, "checks": checks("iam.client.read", "/clients")},
			"bad scope":  map[string]any{"token": shopToken, "checks": checks("orders.order.read", "orders")},
			"a group":    map[string]any{"subject": "group-00000000-0000-4000-8000-000000000000", "checks": checks("orders.order.read", "/o")},
		} {
			t.Run(name, func(t *testing.T) { assertProblem(t, decide(t, gwToken, body.(map[string]any)), http.StatusBadRequest) })
		}
	})

	t.Run("inactive tokens", func(t *testing.T) {
		for name, tok := range map[string]string{"garbage": "not.a.token", "tampered": shopToken[:len(shopToken)-4] + "AAAA"} {
			r := decide(t, gwToken, map[string]any{"token": tok, "checks": checks("orders.order.read", "/orders/1")})
			if got := allowedList(t, r); got[0] || r.json(t)["active"] != false || r.json(t)["ttl"] != float64(0) {
				t.Errorf("%s: %s", name, r)
			}
		}
		// The kill switch: every token of the shop stops at once.
		if r := send(t, http.MethodPost, "/v1/clients/"+shopID+"/revoke-tokens", admin, nil); r.Status != http.StatusNoContent && r.Status != http.StatusOK {
			t.Fatal(r)
		}
		r := decide(t, gwToken, map[string]any{"token": shopToken, "checks": checks("orders.order.read", "/orders/1")})
		if got := allowedList(t, r); got[0] || r.json(t)["active"] != false {
			t.Errorf("a revoked token: %s", r)
		}
	})

	t.Run("tenants are isolated", func(t *testing.T) {
		otherAdmin, other := newTenantAdmin(t, "decide-other")
		assertProblem(t, send(t, http.MethodGet, "/v1/apis/"+apiID, otherAdmin, nil), http.StatusNotFound)
		assertProblem(t, send(t, http.MethodPut, "/v1/apis/"+apiID, otherAdmin, ordersAPI(identifier)), http.StatusNotFound)
		assertProblem(t, send(t, http.MethodDelete, "/v1/apis/"+apiID, otherAdmin, nil), http.StatusNotFound)
		// The same identifier and names are free in another tenant.
		mine := registerAPI(t, otherAdmin, ordersAPI(identifier))
		spy := newTenantCaller(t, other.Tenant, otherAdmin, "spy", "services.iam")
		grant(t, otherAdmin, spy.subject, "iam.decision.check", "/apis/"+mine["apiId"].(string))
		// A token of the first tenant, issued after the kill switch (a
		// token of the switch's very second counts as revoked).
		env.clock.Advance(2 * time.Second)
		defer env.clock.Reset()
		fresh := apiTokenFor(t, shop, identifier)
		r := decide(t, spy.token(t), map[string]any{"token": fresh, "checks": checks("orders.order.read", "/orders/1")})
		if got := allowedList(t, r); got[0] || r.json(t)["active"] != false || r.json(t)["subject"] != nil {
			t.Errorf("a token of another tenant: %s", r)
		}
		if got := allowedList(t, decide(t, gwToken, map[string]any{"token": fresh, "checks": checks("orders.order.read", "/orders/1")})); !got[0] {
			t.Error("a token issued after the kill switch works again")
		}
	})
}

// TestDecisionReads counts the DynamoDB requests of one decision: the
// tenant's APIs (one Query), then at the same time the caller's partition
// (one Query) with its token's revocation (one GetItem) and the asked-about
// subject's with its token's (the same again). By subject there is no
// token to check.
func TestDecisionReads(t *testing.T) {
	f := newDecisionFixture(t)
	gwToken, shopToken, shop := f.gateway, f.token, f.subject
	many := make([]map[string]string, 50)
	for i := range many {
		many[i] = map[string]string{"action": "orders.order.read", "scope": "/orders/" + string(rune('a'+i%26))}
	}
	for _, c := range []struct {
		name string
		body map[string]any
		want map[string]int
	}{
		{"token, 1 check", map[string]any{"token": shopToken, "checks": checks("orders.order.read", "/orders/1")},
			map[string]int{"DynamoDB:Query": 3, "DynamoDB:GetItem": 2}},
		{"token, 50 checks", map[string]any{"token": shopToken, "checks": many},
			map[string]int{"DynamoDB:Query": 3, "DynamoDB:GetItem": 2}},
		{"subject, 1 check", map[string]any{"subject": shop, "checks": checks("orders.order.read", "/orders/1")},
			map[string]int{"DynamoDB:Query": 3, "DynamoDB:GetItem": 1}},
	} {
		env.calls.reset()
		if got := allowedList(t, decide(t, gwToken, c.body)); !got[0] {
			t.Fatalf("%s: denied", c.name)
		}
		if got := env.calls.snapshot(); !maps.Equal(got, c.want) {
			t.Errorf("%s: calls = %v, want %v", c.name, got, c.want)
		}
	}
}

// decisionFixture is a tenant with the orders API, a shop client allowed
// orders.order.read on /orders with a token for the API, and a gateway
// client that may ask about the API and read the shop.
type decisionFixture struct {
	gateway, token, subject string
}

func newDecisionFixture(t *testing.T) decisionFixture {
	t.Helper()
	admin, res := newTenantAdmin(t, "reads")
	api := registerAPI(t, admin, ordersAPI("https://api.example.test"))
	shopID, shopSecret := newClient(t, admin, "shop", "orders.read")
	body := clientBody("shop", "orders.read")
	body["allowedAudiences"] = []string{"https://api.example.test"}
	if r := send(t, http.MethodPut, "/v1/clients/"+shopID, admin, body); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	shop := caller{ten: res.Tenant, id: shopID, subject: "client-" + shopID, secret: shopSecret}
	grant(t, admin, shop.subject, "orders.order.read", "/orders")
	gw := newTenantCaller(t, res.Tenant, admin, "gateway", "services.iam")
	grant(t, admin, gw.subject, "iam.decision.check", "/apis/"+api["apiId"].(string))
	grant(t, admin, gw.subject, "iam.client.read", "/clients/"+shopID)
	return decisionFixture{gateway: gw.token(t), token: apiTokenFor(t, shop, "https://api.example.test"), subject: shop.subject}
}

// TestEscalationThroughAPIs: an API change confers nothing its caller does
// not hold. Adding an action under a parent confers it on every holder of
// the parent; removing or moving one takes it away from its holders.
func TestEscalationThroughAPIs(t *testing.T) {
	admin, res := newTenantAdmin(t, "api-escalation")
	api := registerAPI(t, admin, ordersAPI("https://api.example.test"))
	id := api["apiId"].(string)

	// A team may register APIs, and manages orders, but is no owner.
	team := newTenantCaller(t, res.Tenant, admin, "team", "services.iam")
	grant(t, admin, team.subject, "iam.api.write", "/apis")
	grant(t, admin, team.subject, "iam.api.read", "/apis")
	grant(t, admin, team.subject, "orders.manage", "/")
	tok := team.token(t)

	withActions := func(actions ...map[string]any) map[string]any {
		b := ordersAPI("https://api.example.test")
		b["actions"] = append(b["actions"].([]map[string]any), actions...)
		return b
	}
	// A top-level action hangs under owner, which the team lacks.
	assertLacks(t, send(t, http.MethodPut, "/v1/apis/"+id, tok, withActions(map[string]any{"action": "orders.admin"})), "orders.admin", "owner")
	assertLacks(t, send(t, http.MethodPost, "/v1/apis", tok, map[string]any{"identifier": "https://mine.example.test", "name": "mine",
		"actions": []map[string]any{{"action": "mine.all"}}}), "mine.all")
	// An API with scopes only confers nothing.
	registerAPI(t, tok, map[string]any{"identifier": "https://mine.example.test", "name": "mine", "scopes": []map[string]any{{"name": "mine.read"}}})
	// Under what it holds, it may add.
	if r := send(t, http.MethodPut, "/v1/apis/"+id, tok, withActions(map[string]any{"action": "orders.order.cancel", "parent": "orders.manage"})); r.Status != http.StatusOK {
		t.Fatal(r)
	}

	// Moving an action out from under the admin's ... to a parent the team
	// lacks, or removing what it does not hold, is refused.
	billing := registerAPI(t, admin, map[string]any{"identifier": "https://billing.example.test", "name": "Billing",
		"actions": []map[string]any{{"action": "billing.manage"}, {"action": "billing.pay", "parent": "billing.manage"}}})
	bid := billing["apiId"].(string)
	assertLacks(t, send(t, http.MethodDelete, "/v1/apis/"+bid, tok, nil), "billing.manage", "billing.pay")
	moved := map[string]any{"identifier": "https://billing.example.test", "name": "Billing",
		"actions": []map[string]any{{"action": "billing.manage"}, {"action": "billing.pay"}}}
	assertLacks(t, send(t, http.MethodPut, "/v1/apis/"+bid, tok, moved), "billing.pay")
	// Moving orders.order.read out from under orders.manage to the root
	// would take it from every holder of orders.manage and put it under
	// owner alone: the team lacks owner.
	b := ordersAPI("https://api.example.test")
	b["actions"] = []map[string]any{{"action": "orders.manage"}, {"action": "orders.order.read"}}
	assertLacks(t, send(t, http.MethodPut, "/v1/apis/"+id, tok, b), "owner")

	// A policy left inert by a removed action does not vouch for it: the
	// team cannot bring back an action it held only through that policy.
	grant(t, admin, team.subject, "orders.order.read", "/")
	revoke(t, admin, team.subject, "orders.manage", "/")
	keep := ordersAPI("https://api.example.test")
	keep["actions"] = []map[string]any{{"action": "orders.manage"}}
	if r := send(t, http.MethodPut, "/v1/apis/"+id, admin, keep); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	back := ordersAPI("https://api.example.test")
	back["actions"] = []map[string]any{{"action": "orders.manage"}, {"action": "orders.order.read", "parent": "orders.manage"}}
	assertLacks(t, send(t, http.MethodPut, "/v1/apis/"+id, tok, back), "orders.order.read")
	if r := send(t, http.MethodPut, "/v1/apis/"+id, admin, back); r.Status != http.StatusOK {
		t.Fatalf("the same API may take back its own name: %s", r)
	}

	// Without iam.api.write the route itself is refused.
	reader := newTenantCaller(t, res.Tenant, admin, "reader", "services.iam")
	grant(t, admin, reader.subject, "iam.api.read", "/apis")
	rt := reader.token(t)
	if r := send(t, http.MethodGet, "/v1/apis/"+id, rt, nil); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	assertLacks(t, send(t, http.MethodDelete, "/v1/apis/"+id, rt, nil), "iam.api.write")
}
