// Package apitest is the fixture the management API's package tests share:
// the app.Deps the functions build their handlers from, over the DynamoDB
// Local store of dynamotest (whose TestMain the test binary runs), with an
// in-process ECDSA P-256 signer (signer.Local) in place of KMS; a tenant of
// the test's own to seed clients, policies and groups in; access tokens for
// its clients; and helpers to send a request and read its answer.
//
// Only the signing key is faked: the tokens it signs are verified by the
// production verifier, and every decision reads the real store.
package apitest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"

	"github.com/machine-iam/machine-iam/local/dynamotest"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// Base is the ISSUER_URL of the fixture's deployment.
const Base = "https://iam.example.test"

// Hasher is argon2id at a small cost, so that secrets are quick to make and
// check; the production cost is the secret package's to test.
var Hasher = secret.Argon2id{Time: 1, MemoryKiB: 64, Threads: 1}

// Env is one test's deployment and tenant. Its helpers fail the test New
// was given (a subtest that seeds through its parent's Env fails the
// parent should seeding fail).
type Env struct {
	t testing.TB
	// Deps are what a function's New builds its handler from.
	Deps   *app.Deps
	Store  *dynamo.Store
	Signer *signer.Local
	Tenant string
	offset atomic.Int64
}

// New returns an Env with a tenant of its own, created in the store, and a
// configuration that is production's defaults with ISSUER_URL set to Base.
func New(t testing.TB) *Env {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.NewLocal(priv)
	if err != nil {
		t.Fatal(err)
	}
	st := dynamotest.Store(t)
	cfg, err := app.ConfigFromEnv(func(k string) string {
		return map[string]string{"TABLE_NAME": "fixture", "SIGNING_KEY_ID": "alias/fixture", "ISSUER_URL": Base,
			"SECRET_TAG_KEY": "fixture-secret-tag-key-of-32-characters", "SIGNING_KEYS_MAC_KEY": "fixture-signing-keys-mac-key-of-32-characters"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, Store: st, Signer: sig, Tenant: dynamotest.Tenant(t)}
	e.Deps = &app.Deps{
		Config: cfg, Store: st, Signer: sig, Hasher: Hasher, Verifier: secret.NewVerifier(Hasher, 16),
		Catalogs: access.NewCatalogs(apis.Builtin(), st), Audit: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: e.Now,
	}
	if err := st.CreateTenant(context.Background(), e.Tenant); err != nil {
		t.Fatal(err)
	}
	return e
}

// Now is the deployment's clock: the time, moved on by Advance.
func (e *Env) Now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

// Advance moves the deployment's clock on by d.
func (e *Env) Advance(d time.Duration) { e.offset.Add(int64(d)) }

// Issuer is the tenant's issuer.
func (e *Env) Issuer() string { return tenant.Issuer(Base, e.Tenant) }

// ManagementAudience is the audience of the tenant's management API.
func (e *Env) ManagementAudience() string { return token.Audience(e.Issuer()) }

// Create stores c in the tenant as a new client (id, times and version
// filled in) and returns it as stored.
func (e *Env) Create(c client.Client) client.Client {
	e.t.Helper()
	now := e.Now().UTC().Truncate(time.Second)
	c.Tenant, c.ID, c.CreatedAt, c.UpdatedAt, c.Version = e.Tenant, id.New(), now, now, 1
	if c.Name == "" {
		c.Name = "client " + c.ID[:8]
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{client.GrantClientCredentials}
	}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{}
	}
	if err := e.Store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Client creates a client allowed client_credentials and scopes.
func (e *Env) Client(scopes ...string) client.Client {
	e.t.Helper()
	return e.Create(client.Client{Spec: client.Spec{Description: "a test client", Scopes: scopes}})
}

// Caller creates a client allowed the services.iam scope (a caller of the
// management API) holding policies, each written "<action> on <scope>".
func (e *Env) Caller(policies ...string) client.Client {
	e.t.Helper()
	c := e.Client(oauthscope.IAM)
	for _, p := range policies {
		e.Grant(c.SubjectID(), p)
	}
	return c
}

// Owner creates a caller holding owner on /.
func (e *Env) Owner() client.Client {
	e.t.Helper()
	return e.Caller("owner on /")
}

// Grant gives subjectID the policy p, written "<action> on <scope>".
func (e *Env) Grant(subjectID, p string) {
	e.t.Helper()
	act, sc, ok := strings.Cut(p, " on ")
	if !ok {
		e.t.Fatalf("policy %q is not <action> on <scope>", p)
	}
	if _, _, err := e.Store.PutPolicy(context.Background(), e.Tenant, policy.Policy{Subject: subjectID, Action: act, Scope: sc, CreatedAt: e.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

// Group creates a group holding policies ("<action> on <scope>") with
// members (subject ids).
func (e *Env) Group(policies []string, members ...string) group.Group {
	e.t.Helper()
	ctx := context.Background()
	g := group.Group{Tenant: e.Tenant, ID: id.New(), DisplayName: "group " + id.New()[:8], CreatedAt: e.Now().UTC().Truncate(time.Second)}
	if err := e.Store.CreateGroup(ctx, g); err != nil {
		e.t.Fatal(err)
	}
	for _, p := range policies {
		e.Grant(subject.ID(subject.Group, g.ID), p)
	}
	for _, m := range members {
		if err := e.Store.AddMember(ctx, e.Tenant, g.ID, m, group.MaxMembers); err != nil {
			e.t.Fatal(err)
		}
	}
	return g
}

// Secret gives c a new secret and returns its value.
func (e *Env) Secret(c client.Client) string {
	e.t.Helper()
	value := rand.Text()
	hash, err := Hasher.Hash(value)
	if err != nil {
		e.t.Fatal(err)
	}
	s := secret.Hashed{Secret: secret.Secret{ID: id.New(), Description: "fixture", CreatedAt: e.Now().UTC().Truncate(time.Second)}, Hash: hash}
	if err := e.Store.CreateSecret(context.Background(), e.Tenant, c.ID, s, secret.MaxPerClient); err != nil {
		e.t.Fatal(err)
	}
	return value
}

// Token mints an access token for c with the services.iam scope, as the
// token endpoint would.
func (e *Env) Token(c client.Client) string {
	e.t.Helper()
	return e.Mint(token.Grant{Scopes: []string{oauthscope.IAM}}, c)
}

// Mint mints an access token of g for c, filling in what g leaves empty
// from c and the tenant (issuer, tenant, subject, client id).
func (e *Env) Mint(g token.Grant, c client.Client) string {
	e.t.Helper()
	if g.Issuer == "" {
		g.Issuer = e.Issuer()
	}
	if g.Tenant == "" {
		g.Tenant = e.Tenant
	}
	if g.Subject == "" {
		g.Subject = c.SubjectID()
	}
	if g.ClientID == "" {
		g.ClientID = c.ID
	}
	m := &token.Minter{Signer: e.Signer, Lifetime: e.Deps.Config.TokenLifetime, Now: e.Now}
	raw, _, err := m.Mint(context.Background(), g)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// GetClient reads a client of the tenant as stored.
func (e *Env) GetClient(id string) client.Client {
	e.t.Helper()
	c, err := e.Store.GetClient(context.Background(), e.Tenant, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Response is an answer of a handler.
type Response struct {
	*httptest.ResponseRecorder
	t testing.TB
}

// Do serves one request with h: body is nil, a string (sent as it is) or a
// value (sent as JSON); bearer, when not empty, is sent as a bearer token;
// headers are name, value pairs.
func Do(t testing.TB, h http.Handler, method, path, bearer string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	r := httptest.NewRequest(method, path, rd)
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return Response{ResponseRecorder: w, t: t}
}

// JSON decodes the body into v, failing the test unless the status is
// status.
func (r Response) JSON(status int, v any) {
	r.t.Helper()
	if r.Code != status {
		r.t.Fatalf("status %d, want %d: %s", r.Code, status, r.Body)
	}
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("body is not the JSON expected: %v: %s", err, r.Body)
	}
}

// Problem is an RFC 9457 problem document as the API writes it.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Errors map[string][]string `json:"errors"`
}

// Problem returns the problem document, failing the test unless it is
// one with status and type (application/problem+json, status repeated in
// the body, a detail).
func (r Response) Problem(status int, typ string) Problem {
	r.t.Helper()
	var p Problem
	if r.Code != status || r.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(r.Body.Bytes(), &p) != nil {
		r.t.Fatalf("want a %d problem: %d %s %s", status, r.Code, r.Header().Get("Content-Type"), r.Body)
	}
	if p.Status != status || p.Type != typ || p.Detail == "" {
		r.t.Fatalf("want a %d problem of type %s with a detail: %s", status, typ, r.Body)
	}
	return p
}

// Forbidden checks a 403 problem whose detail names each of lacking.
func (r Response) Forbidden(lacking ...string) Problem {
	r.t.Helper()
	p := r.Problem(http.StatusForbidden, httpapi.TypeBlank)
	for _, l := range lacking {
		if !strings.Contains(p.Detail, l) {
			r.t.Errorf("403 detail %q does not name %q", p.Detail, l)
		}
	}
	return p
}

// Invalid checks a 400 validation problem whose errors name each of
// fields.
func (r Response) Invalid(fields ...string) Problem {
	r.t.Helper()
	p := r.Problem(http.StatusBadRequest, httpapi.TypeValidation)
	for _, f := range fields {
		if len(p.Errors[f]) == 0 {
			r.t.Errorf("400 errors %v do not name %s", p.Errors, f)
		}
	}
	return p
}
