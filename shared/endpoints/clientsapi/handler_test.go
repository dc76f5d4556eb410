package clientsapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/local/dynamotest"
	"github.com/machine-iam/machine-iam/shared/endpoints/clientsapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// body is a valid create or replace body.
func body(name string, scopes ...string) map[string]any {
	if scopes == nil {
		scopes = []string{}
	}
	return map[string]any{"name": name, "description": "a test client", "allowedGrantTypes": []string{client.GrantClientCredentials},
		"allowedScopes": scopes, "redirectUris": []string{}}
}

// with is b with field set to v, or removed for nil.
func with(b map[string]any, field string, v any) map[string]any {
	out := map[string]any{}
	for k, x := range b {
		out[k] = x
	}
	if v == nil {
		delete(out, field)
	} else {
		out[field] = v
	}
	return out
}

// clientJSON is a client as the API answers it.
type clientJSON struct {
	ClientID            string            `json:"clientId"`
	SubjectID           string            `json:"subjectId"`
	Name                string            `json:"name"`
	AllowedScopes       []string          `json:"allowedScopes"`
	AllowedAudiences    []string          `json:"allowedAudiences"`
	AccessTokenLifetime int64             `json:"accessTokenLifetime"`
	TokenClaims         map[string]string `json:"tokenClaims"`
	Provenance          *struct {
		CreatedBy string `json:"createdBy"`
	} `json:"provenance"`
}

func count(t *testing.T, e *apitest.Env) int {
	t.Helper()
	n, err := e.Store.CountClients(context.Background(), e.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestValidation: a create or replace body that is not a valid client is a
// 400 problem naming each field at fault, and nothing is written.
func TestValidation(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	tok := e.Token(e.Owner())
	target := e.Client(oauthscope.IAM)
	valid := body("valid", "api")
	for _, c := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"every field missing", map[string]any{}, []string{"name", "description", "allowedGrantTypes", "allowedScopes", "redirectUris"}},
		{"unknown field", with(valid, "color", "blue"), []string{"color"}},
		{"wrong type", with(valid, "allowedScopes", "api"), []string{"allowedScopes"}},
		{"blank name", with(valid, "name", " "), []string{"name"}},
		{"scope not in the catalog", with(valid, "allowedScopes", []string{"openid"}), []string{"allowedScopes"}},
		{"unknown grant type", with(valid, "allowedGrantTypes", []string{"password"}), []string{"allowedGrantTypes"}},
		{"code flow without a redirect", with(valid, "allowedGrantTypes", []string{client.GrantAuthorizationCode}), []string{"redirectUris"}},
		{"lifetime 0", with(valid, "accessTokenLifetime", 0), []string{"accessTokenLifetime"}},
		{"lifetime over the maximum", with(valid, "accessTokenLifetime", 86401), []string{"accessTokenLifetime"}},
		{"reserved claim", with(valid, "tokenClaims", map[string]string{"sub": "x"}), []string{"tokenClaims"}},
		{"relative audience", with(valid, "allowedAudiences", []string{"/api"}), []string{"allowedAudiences"}},
	} {
		for _, to := range []struct{ method, path string }{{http.MethodPost, "/v1/clients"}, {http.MethodPut, "/v1/clients/" + target.ID}} {
			t.Run(c.name+" "+to.method, func(t *testing.T) {
				apitest.Do(t, h, to.method, to.path, tok, c.body).Invalid(c.fields...)
			})
		}
	}
	// Provenance is recorded at creation: a replace may not carry it.
	withProvenance := with(valid, "provenance", map[string]string{"via": "apply", "document": "d"})
	apitest.Do(t, h, http.MethodPut, "/v1/clients/"+target.ID, tok, withProvenance).Invalid("provenance")
	apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, `{"name":`).Problem(http.StatusBadRequest, httpapi.TypeMalformedJSON)

	if n := count(t, e); n != 2 {
		t.Errorf("%d clients after refused creates, want the 2 seeded", n)
	}
	if got := e.GetClient(target.ID); got.Version != 1 || got.Name != target.Name {
		t.Errorf("a refused replace changed the client: %+v", got)
	}
}

// TestCreate: a create answers 201 with Location, ETag "1" and the client,
// recording who made it; it may confer only token rights the caller holds
// itself (a 403 naming what it lacks, and no client).
func TestCreate(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	caller := e.Caller("iam.client.create on /clients")
	tok := e.Token(caller)

	r := apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, body("made", oauthscope.IAM))
	var c clientJSON
	r.JSON(http.StatusCreated, &c)
	if r.Header().Get("Location") != "/v1/clients/"+c.ClientID || r.Header().Get("ETag") != `"1"` || c.SubjectID != "client-"+c.ClientID {
		t.Errorf("Location %q, ETag %q, client %+v", r.Header().Get("Location"), r.Header().Get("ETag"), c)
	}
	if c.Provenance == nil || c.Provenance.CreatedBy != caller.SubjectID() {
		t.Errorf("provenance %+v, want created by %s", c.Provenance, caller.SubjectID())
	}
	if got := e.GetClient(c.ClientID); got.Name != "made" || got.Provenance.CreatedBy != caller.SubjectID() {
		t.Errorf("stored %+v", got)
	}

	before := count(t, e)
	apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, body("wider", oauthscope.IAM, "api")).Forbidden("OAuth scope api")
	apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, with(body("longer", oauthscope.IAM), "accessTokenLifetime", 7200)).Forbidden("token lifetime 2h0m0s")
	if n := count(t, e); n != before {
		t.Errorf("a refused create stored a client: %d clients, want %d", n, before)
	}
}

// TestChosenClientID: a create may name the client id (migration from
// another server); it is checked, unique in the tenant, fixed afterwards,
// and tokens minted for an earlier client of that id are dead.
func TestChosenClientID(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	tok := e.Token(e.Owner())

	var c clientJSON
	apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, with(body("legacy"), "clientId", "my-backend.service_01~x")).JSON(http.StatusCreated, &c)
	if c.ClientID != "my-backend.service_01~x" || c.SubjectID != "client-my-backend.service_01~x" {
		t.Fatalf("created %+v", c)
	}
	if got := e.GetClient(c.ClientID); got.Name != "legacy" || got.TokensRevokedAt.IsZero() {
		t.Errorf("stored %+v, want the name and a token cutoff at creation", got)
	}
	apitest.Do(t, h, http.MethodGet, "/v1/clients/"+c.ClientID, tok, nil).JSON(http.StatusOK, &c)
	apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, with(body("again"), "clientId", c.ClientID)).Problem(http.StatusConflict, httpapi.TypeBlank)
	for _, bad := range []string{"ab", strings.Repeat("a", 129), "-lead", "has space", "a/b", "é-id", "client-x1", "Group-abc", "user-1234"} {
		apitest.Do(t, h, http.MethodPost, "/v1/clients", tok, with(body("bad"), "clientId", bad)).Invalid("clientId")
	}
	// Fixed at creation: a replace may repeat it, never change it.
	apitest.Do(t, h, http.MethodPut, "/v1/clients/"+c.ClientID, tok, with(body("renamed"), "clientId", c.ClientID)).JSON(http.StatusOK, &c)
	apitest.Do(t, h, http.MethodPut, "/v1/clients/"+c.ClientID, tok, with(body("renamed"), "clientId", "other-id")).Invalid("clientId")
	if c.Name != "renamed" || c.ClientID != "my-backend.service_01~x" {
		t.Errorf("after replace %+v", c)
	}
}

// TestRoutesNeedTheirAction: each route runs only for a caller allowed its
// action on the client (or on /clients for the collection).
func TestRoutesNeedTheirAction(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	target := e.Client()
	// Allowed everything on clients but the one action each route needs.
	for _, c := range []struct {
		method, path, action, scope string
	}{
		{http.MethodGet, "/v1/clients", clientsapi.ActionRead, "/clients"},
		{http.MethodPost, "/v1/clients", clientsapi.ActionCreate, "/clients"},
		{http.MethodGet, "/v1/clients/" + target.ID, clientsapi.ActionRead, "/clients/" + target.ID},
		{http.MethodPut, "/v1/clients/" + target.ID, clientsapi.ActionUpdate, "/clients/" + target.ID},
		{http.MethodDelete, "/v1/clients/" + target.ID, clientsapi.ActionDelete, "/clients/" + target.ID},
		{http.MethodPost, "/v1/clients/" + target.ID + "/revoke-tokens", clientsapi.ActionRevokeTokens, "/clients/" + target.ID},
		{http.MethodPost, "/v1/clients/" + target.ID + "/unlock", clientsapi.ActionUnlock, "/clients/" + target.ID},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var others []string
			for _, a := range []string{clientsapi.ActionRead, clientsapi.ActionCreate, clientsapi.ActionUpdate, clientsapi.ActionDelete, clientsapi.ActionRevokeTokens, clientsapi.ActionUnlock} {
				if a != c.action {
					others = append(others, a+" on /clients")
				}
			}
			tok := e.Token(e.Caller(others...))
			apitest.Do(t, h, c.method, c.path, tok, body("x")).Forbidden("The caller is not allowed " + c.action + " on " + c.scope + ".")
		})
	}
	if got := e.GetClient(target.ID); got.Version != 1 {
		t.Errorf("a refused request changed the client: %+v", got)
	}
}

// countingClients counts the reads and writes of clients that reach the
// store.
type countingClients struct {
	clientsapi.Store
	calls atomic.Int64
}

func (c *countingClients) GetClient(ctx context.Context, tenant, id string) (client.Client, error) {
	c.calls.Add(1)
	return c.Store.GetClient(ctx, tenant, id)
}

func (c *countingClients) DeleteClient(ctx context.Context, tenant, id string) error {
	c.calls.Add(1)
	return c.Store.DeleteClient(ctx, tenant, id)
}

func (c *countingClients) RevokeTokens(ctx context.Context, tenant, id string, at time.Time) error {
	c.calls.Add(1)
	return c.Store.RevokeTokens(ctx, tenant, id, at)
}

// TestNotFound: an id that names no client of the caller's tenant is a 404
// problem on every route; a malformed one too, without a read. A client of
// another tenant is not found, and stays as it was.
func TestNotFound(t *testing.T) {
	e := apitest.New(t)
	counted := &countingClients{Store: e.Store}
	s := &clientsapi.Service{Clients: counted, Guard: e.Deps.Guard(), Catalogs: e.Deps.Catalogs,
		MaxTokenLifetime: e.Deps.Config.MaxTokenLifetime, DefaultTokenLifetime: e.Deps.Config.TokenLifetime, Now: e.Now}
	h := s.Handler()
	tok := e.Token(e.Owner())
	other := apitest.New(t)
	foreign := other.Client(oauthscope.IAM)
	for _, c := range []struct {
		name, id string
		reads    bool
	}{
		{"unknown", "00000000-0000-4000-8000-000000000000", true},
		{"another tenant's", foreign.ID, true},
		{"a chosen id's form", "not-an-id", true},
		{"too short", "ab", false},
		{"a subject id", "client-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84", false},
		{"leading dot", ".hidden", false},
	} {
		for _, rt := range []struct{ method, suffix string }{
			{http.MethodGet, ""}, {http.MethodPut, ""}, {http.MethodDelete, ""}, {http.MethodPost, "/revoke-tokens"},
		} {
			t.Run(c.name+" "+rt.method+rt.suffix, func(t *testing.T) {
				counted.calls.Store(0)
				p := apitest.Do(t, h, rt.method, "/v1/clients/"+c.id+rt.suffix, tok, body("x")).Problem(http.StatusNotFound, httpapi.TypeBlank)
				if p.Detail != "No client with that id exists." {
					t.Errorf("detail %q", p.Detail)
				}
				if n := counted.calls.Load(); !c.reads && n != 0 {
					t.Errorf("a malformed id reached the store (%d calls)", n)
				}
			})
		}
	}
	if got := other.GetClient(foreign.ID); got.Version != 1 || !got.TokensRevokedAt.IsZero() {
		t.Errorf("another tenant's client changed: %+v", got)
	}
	apitest.Do(t, h, http.MethodGet, "/v1/clients/x/other", tok, nil).Problem(http.StatusNotFound, httpapi.TypeBlank)
	r := apitest.Do(t, h, http.MethodPatch, "/v1/clients/"+foreign.ID, tok, nil)
	r.Problem(http.StatusMethodNotAllowed, httpapi.TypeBlank)
	if allow := r.Header().Get("Allow"); !strings.Contains(allow, http.MethodPut) {
		t.Errorf("Allow %q", allow)
	}
}
