package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

func introspect(t *testing.T, path, clientID, secret, tok string) response {
	t.Helper()
	return send(t, http.MethodPost, path, "", url.Values{"client_id": {clientID}, "client_secret": {secret}, "token": {tok}})
}

func active(t *testing.T, r response) bool {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("introspection: %s", r)
	}
	a, ok := r.json(t)["active"].(bool)
	if !ok {
		t.Fatalf("no active member: %s", r)
	}
	if !a && len(r.json(t)) != 1 {
		t.Errorf("an inactive answer holds more than active: %s", r)
	}
	return a
}

// TestIntrospection: RFC 7662 through the gateway, for a caller holding
// iam.token.introspect on /: active with the token's members, and inactive
// for every way a token can stop counting.
func TestIntrospection(t *testing.T) {
	admin := adminToken(t)
	inspector := newCaller(t, admin, "inspector")
	grant(t, admin, inspector.subject, "iam.token.introspect", "/")
	c := newCaller(t, admin, "introspected")
	look := func(tok string) response {
		return introspect(t, "/connect/introspect", inspector.id, inspector.secret, tok)
	}

	live := c.token(t)
	r := look(live)
	if !active(t, r) {
		t.Fatalf("a live token: %s", r)
	}
	got := r.json(t)
	if got["client_id"] != c.id || got["sub"] != c.subject || got["token_type"] != "Bearer" || got["iss"] != env.base || got["tid"] != "default" ||
		got["scope"] != "services.iam api" || got["exp"] == nil || got["jti"] == nil {
		t.Errorf("members %v", got)
	}
	// The right may come through a group (its grants item is read with the
	// caller's).
	byGroup := newCaller(t, admin, "inspector-by-group")
	gid := newGroup(t, admin, "inspectors")
	grant(t, admin, "group-"+gid, "iam.token.introspect", "/")
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{byGroup.subject}}); r.Status != 204 {
		t.Fatal(r)
	}
	if r := introspect(t, "/connect/introspect", byGroup.id, byGroup.secret, live); !active(t, r) {
		t.Errorf("introspection by a group's right: %s", r)
	}

	env.clock.Advance(-2 * time.Hour)
	expired := c.token(t)
	env.clock.Reset()
	env.clock.Advance(5 * time.Minute)
	future := c.token(t)
	env.clock.Reset()
	_, t2 := newTenantAdmin(t, "introspect-other")
	foreign := tokenFor(t, t2.Tenant, t2.ClientID, t2.ClientSecret, "")
	strangerKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	stranger, _ := signer.NewLocal(strangerKey)
	forged, _, _ := (&token.Minter{Signer: stranger, Lifetime: time.Hour, Now: time.Now}).Mint(t.Context(), token.Grant{
		Issuer: env.base, Tenant: tenant.Default, Subject: c.subject, ClientID: c.id, Scopes: []string{"api"}})
	doomed := newCaller(t, admin, "introspected-doomed")
	doomedToken := doomed.token(t)
	send(t, http.MethodDelete, "/v1/clients/"+doomed.id, admin, nil)
	for name, tok := range map[string]string{
		"expired": expired, "not yet valid": future, "another tenant's": foreign, "signed by an unknown key": forged,
		"of a deleted client": doomedToken, "not a token": "garbage",
	} {
		if active(t, look(tok)) {
			t.Errorf("%s token introspected as active", name)
		}
	}
	// The foreign tenant's own endpoint knows its token; ours does not.
	if !active(t, introspect(t, "/"+t2.Tenant+"/connect/introspect", t2.ClientID, t2.ClientSecret, foreign)) {
		t.Error("a tenant's owner introspecting its own token")
	}
	// And revokes it at its tenant's endpoint.
	if r := send(t, http.MethodPost, "/"+t2.Tenant+"/connect/revocation", "", url.Values{"client_id": {t2.ClientID},
		"client_secret": {t2.ClientSecret}, "token": {foreign}}); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	if active(t, introspect(t, "/"+t2.Tenant+"/connect/introspect", t2.ClientID, t2.ClientSecret, foreign)) {
		t.Error("revoked at the tenant's endpoint, still active")
	}

	if r := introspect(t, "/connect/introspect", c.id, c.secret, live); r.Status != http.StatusForbidden || r.json(t)["error"] != "access_denied" {
		t.Errorf("a caller without iam.token.introspect: %s", r)
	}
	if r := introspect(t, "/connect/introspect", inspector.id, "wrong-secret", live); r.Status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" {
		t.Errorf("bad credentials: %s", r)
	}
	if r := introspect(t, "/connect/introspect", inspector.id, inspector.secret, ""); r.Status != http.StatusBadRequest {
		t.Errorf("no token: %s", r)
	}
	env.calls.reset()
	look(live)
	if got, want := env.calls.snapshot(), map[string]int{"DynamoDB:Query": 4, "DynamoDB:GetItem": 1}; !maps.Equal(got, want) {
		t.Errorf("introspection calls %v, want %v (caller's credentials and token partition, caller's grants, token's client, token's revocation)", got, want)
	}
}

// TestRevocation: RFC 7009 by the token's own client; the token stops at
// the management API on the next request and introspects inactive;
// another client's token, or none, answers 200 and changes nothing.
func TestRevocation(t *testing.T) {
	admin := adminToken(t)
	inspector := newCaller(t, admin, "revocation-inspector")
	grant(t, admin, inspector.subject, "iam.token.introspect", "/")
	c := newCaller(t, admin, "revoker")
	grant(t, admin, c.subject, "iam.client.read", "/clients")
	other := newCaller(t, admin, "bystander")
	tok, keep, others := c.token(t), c.token(t), other.token(t)
	revoke := func(who caller, tok string) response {
		return send(t, http.MethodPost, "/connect/revocation", "", url.Values{"client_id": {who.id}, "client_secret": {who.secret}, "token": {tok}})
	}
	for _, r := range []response{revoke(c, others), revoke(c, "garbage")} {
		if r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Errorf("revoking what is not one's own: %s", r)
		}
	}
	if !active(t, introspect(t, "/connect/introspect", inspector.id, inspector.secret, others)) {
		t.Error("another client's token must survive an attempt to revoke it")
	}
	if r := send(t, http.MethodGet, "/v1/clients", tok, nil); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	// Revocation racing use: once it is answered, the token is refused.
	results := parallel(8, func(i int) response {
		if i == 0 {
			return revoke(c, tok)
		}
		return send(t, http.MethodGet, "/v1/clients", tok, nil)
	})
	if results[0].Status != http.StatusOK {
		t.Fatal(results[0])
	}
	for i, r := range results[1:] {
		if r.Status != http.StatusOK && r.Status != http.StatusUnauthorized {
			t.Errorf("use %d during revocation: %s", i, r)
		}
	}
	assertProblem(t, send(t, http.MethodGet, "/v1/clients", tok, nil), http.StatusUnauthorized)
	if active(t, introspect(t, "/connect/introspect", inspector.id, inspector.secret, tok)) {
		t.Error("a revoked token introspected as active")
	}
	if r := send(t, http.MethodGet, "/v1/clients", keep, nil); r.Status != http.StatusOK {
		t.Errorf("the client's other token: %s", r)
	}
	env.calls.reset()
	send(t, http.MethodGet, "/v1/clients", keep, nil)
	if got := env.calls.snapshot(); got["DynamoDB:Query"] != 2 || got["DynamoDB:GetItem"] != 2 || len(got) != 2 {
		t.Errorf("a management read with revocations in force: %v, want the decision's Query and the token's revocation, the listing's Query and the count", got)
	}
}

// TestKillSwitch: every live token of a client stops at once; new ones
// work; another client's tokens do not; only a caller holding all the
// client holds may pull it.
func TestKillSwitch(t *testing.T) {
	admin := adminToken(t)
	inspector := newCaller(t, admin, "kill-inspector")
	grant(t, admin, inspector.subject, "iam.token.introspect", "/")
	c := newCaller(t, admin, "killed")
	grant(t, admin, c.subject, "iam.client.read", "/clients")
	bystander := newCaller(t, admin, "kill-bystander")
	grant(t, admin, bystander.subject, "iam.client.read", "/clients")
	tokens := []string{c.token(t), c.token(t), c.token(t)}
	safe := bystander.token(t)

	weak := newCaller(t, admin, "kill-attempt")
	grant(t, admin, weak.subject, "iam.token.revoke", "/clients")
	assertLacks(t, send(t, http.MethodPost, "/v1/clients/"+env.admin.ClientID+"/revoke-tokens", weak.token(t), nil), "owner on /")

	if r := send(t, http.MethodPost, "/v1/clients/"+c.id+"/revoke-tokens", admin, nil); r.Status != http.StatusNoContent {
		t.Fatal(r)
	}
	for i, tok := range tokens {
		assertProblem(t, send(t, http.MethodGet, "/v1/clients", tok, nil), http.StatusUnauthorized)
		if active(t, introspect(t, "/connect/introspect", inspector.id, inspector.secret, tok)) {
			t.Errorf("token %d still active after the kill switch", i)
		}
	}
	if r := send(t, http.MethodGet, "/v1/clients", safe, nil); r.Status != http.StatusOK {
		t.Errorf("another client's token: %s", r)
	}
	// Tokens have whole seconds: a new one is valid from the next second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	if r := send(t, http.MethodGet, "/v1/clients", c.token(t), nil); r.Status != http.StatusOK {
		t.Errorf("a token issued after the kill switch: %s", r)
	}
	assertProblem(t, send(t, http.MethodPost, "/v1/clients/00000000-0000-4000-8000-000000000000/revoke-tokens", admin, nil), http.StatusNotFound)
}

// reuseInstance serves every function through a gateway of its own whose
// token function hands out still-fresh tokens again (TOKEN_REUSE_PERCENT
// 50): one more Lambda instance of the deployment, with its own memory,
// sharing the table and the key.
func reuseInstance(t *testing.T) string {
	t.Helper()
	handlers := map[string]http.Handler{}
	for fn, build := range stack.Functions {
		d := *env.svc.Deps[fn]
		if fn == "TokenFunction" {
			d.Config.TokenReusePercent = 50
		}
		handlers[fn] = build(&d)
	}
	gw, err := gateway.New(env.svc.Template, handlers)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestTokenReuseHonoursRevocation: with token reuse on, a token revoked by
// RFC 7009 (at any instance) or issued before its client's kill switch is
// never handed out again, at any instance; one nothing revoked still is.
func TestTokenReuseHonoursRevocation(t *testing.T) {
	admin := adminToken(t)
	c := newCaller(t, admin, "reused")
	grant(t, admin, c.subject, "iam.client.read", "/clients")
	a, b := reuseInstance(t), reuseInstance(t)
	issue := func(base string) string {
		t.Helper()
		resp, err := env.http.PostForm(base+"/connect/token", tokenForm(c.id, c.secret))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
			t.Fatalf("token at %s: %d", base, resp.StatusCode)
		}
		return body.AccessToken
	}
	revoke := func(base, tok string) {
		t.Helper()
		resp, err := env.http.PostForm(base+"/connect/revocation", url.Values{"client_id": {c.id}, "client_secret": {c.secret}, "token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation at %s: %d", base, resp.StatusCode)
		}
	}
	works := func(tok string) bool {
		return send(t, http.MethodGet, "/v1/clients", tok, nil).Status == http.StatusOK
	}

	first := issue(a)
	if issue(a) != first {
		t.Fatal("reuse is off at the instance")
	}
	revoke(env.base, first) // at another instance
	second := issue(a)
	if second == first {
		t.Fatal("a token revoked at another instance was handed out again")
	}
	if works(first) || !works(second) {
		t.Fatal("the revoked token works, or its successor does not")
	}
	fromB := issue(b)
	if issue(b) != fromB {
		t.Fatal("reuse is off at the second instance")
	}
	revoke(a, fromB) // one instance revokes what another remembers
	if again := issue(b); again == fromB || !works(again) {
		t.Fatal("a token revoked at one instance was handed out again by another")
	}
	remembered := issue(a)
	if r := send(t, http.MethodPost, "/v1/clients/"+c.id+"/revoke-tokens", admin, nil); r.Status != http.StatusNoContent {
		t.Fatal(r)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	if again := issue(a); again == remembered || !works(again) {
		t.Fatal("a token issued before the kill switch was handed out again")
	}
}
