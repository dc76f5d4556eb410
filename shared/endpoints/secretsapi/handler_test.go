package secretsapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/local/dynamotest"
	"github.com/machine-iam/machine-iam/shared/endpoints/secretsapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// secretJSON is a secret as the API answers it; Value only in the create
// response.
type secretJSON struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	Expiration  *string `json:"expiration"`
	Expired     bool    `json:"expired"`
	Value       *string `json:"value"`
}

type secretList struct {
	Items []secretJSON `json:"items"`
}

// stored returns the client's secrets with their hashes, as the token
// endpoint reads them.
func stored(t *testing.T, e *apitest.Env, c client.Client) []secret.Hashed {
	t.Helper()
	rec, err := e.Store.GetCredentials(context.Background(), e.Tenant, c.ID, "test", e.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rec.Secrets
}

// TestSecretLifecycle: a created secret's value appears in its create
// response and nowhere else: not in the listing, not in storage, which
// holds its argon2id hash; the listing says when a secret has expired; a
// deleted secret is gone, and deleting it again is a 404.
func TestSecretLifecycle(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	c := e.Caller()
	tok := e.Token(c) // its own secrets need no policy beyond the routes'
	e.Grant(c.SubjectID(), "iam.secret.manage on /clients/"+c.ID)
	const value = "only-in-the-answer"
	exp := e.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)

	r := apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets", tok, map[string]any{"value": value, "description": "ci", "expiration": exp})
	var made secretJSON
	r.JSON(http.StatusCreated, &made)
	if made.Value == nil || *made.Value != value || made.Expiration == nil || *made.Expiration != exp || made.Expired || made.Description != "ci" {
		t.Errorf("created %+v", made)
	}
	if r.Header().Get("Location") != "/v1/clients/"+c.ID+"/secrets/"+made.ID || r.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.Header())
	}
	hashes := stored(t, e, c)
	if len(hashes) != 1 || hashes[0].ID != made.ID || !strings.HasPrefix(hashes[0].Hash, "$argon2id$") || strings.Contains(hashes[0].Hash, value) {
		t.Fatalf("stored %+v", hashes)
	}

	list := apitest.Do(t, h, http.MethodGet, "/v1/clients/"+c.ID+"/secrets", tok, nil)
	var l secretList
	list.JSON(http.StatusOK, &l)
	if len(l.Items) != 1 || l.Items[0].ID != made.ID || l.Items[0].Value != nil || strings.Contains(list.Body.String(), value) || strings.Contains(list.Body.String(), "argon2") {
		t.Fatalf("listing %s", list.Body)
	}
	e.Advance(time.Hour)
	apitest.Do(t, h, http.MethodGet, "/v1/clients/"+c.ID+"/secrets", tok, nil).JSON(http.StatusOK, &l)
	if !l.Items[0].Expired {
		t.Errorf("a secret at its expiration is listed as not expired: %+v", l.Items[0])
	}

	if r := apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+c.ID+"/secrets/"+made.ID, tok, nil); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	if n := len(stored(t, e, c)); n != 0 {
		t.Fatalf("%d secrets after the delete", n)
	}
	p := apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+c.ID+"/secrets/"+made.ID, tok, nil).Problem(http.StatusNotFound, httpapi.TypeBlank)
	if p.Detail != "No secret with that id exists for that client." {
		t.Errorf("detail %q", p.Detail)
	}
}

// TestSecretValidation: a create body that is not a valid secret is a 400
// naming each field at fault that never repeats the value, and nothing is
// stored.
func TestSecretValidation(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	tok := e.Token(e.Owner())
	c := e.Client()
	past := e.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, v := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"missing", map[string]any{}, []string{"value", "description"}},
		{"too short", map[string]any{"value": "seven77", "description": "d"}, []string{"value"}},
		{"too long", map[string]any{"value": strings.Repeat("v", 33), "description": "d"}, []string{"value"}},
		{"expiration not RFC 3339", map[string]any{"value": "long-enough-value", "description": "d", "expiration": "2031-01-01"}, []string{"expiration"}},
		{"expiration past", map[string]any{"value": "long-enough-value", "description": "d", "expiration": past}, []string{"expiration"}},
		{"unknown field", map[string]any{"value": "long-enough-value", "description": "d", "hash": "$argon2id$x"}, []string{"hash"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			r := apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets", tok, v.body)
			r.Invalid(v.fields...)
			for _, echo := range []string{"seven77", "long-enough-value"} {
				if strings.Contains(r.Body.String(), echo) {
					t.Errorf("the problem repeats the value: %s", r.Body)
				}
			}
		})
	}
	if n := len(stored(t, e, c)); n != 0 {
		t.Errorf("%d secrets stored by refused creates", n)
	}
}

// TestNotFound: a client or credential id that names nothing is a 404
// problem on every route, a malformed one included; a client of another
// tenant is not found, and gains no credential.
func TestNotFound(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	tok := e.Token(e.Owner())
	mine := e.Client()
	foreign := apitest.New(t).Client(oauthscope.IAM)
	const unknown = "00000000-0000-4000-8000-000000000000"
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1/clients/" + unknown + "/secrets"},
		{http.MethodPost, "/v1/clients/" + unknown + "/secrets"},
		{http.MethodGet, "/v1/clients/not-an-id/secrets"},
		{http.MethodPost, "/v1/clients/" + foreign.ID + "/secrets"},
		{http.MethodGet, "/v1/clients/" + foreign.ID + "/keys"},
		{http.MethodDelete, "/v1/clients/" + mine.ID + "/secrets/" + unknown},
		{http.MethodDelete, "/v1/clients/" + mine.ID + "/secrets/not-an-id"},
		{http.MethodDelete, "/v1/clients/not-an-id/secrets/" + unknown},
		{http.MethodDelete, "/v1/clients/" + mine.ID + "/keys/" + unknown},
		{http.MethodPost, "/v1/clients/" + unknown + "/keys"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var b any
			if c.method == http.MethodPost {
				b = map[string]any{"value": "long-enough-value", "description": "d"}
				if strings.HasSuffix(c.path, "/keys") {
					b = map[string]any{"jwk": publicJWK(t, newKey(t), ""), "description": "d"}
				}
			}
			apitest.Do(t, h, c.method, c.path, tok, b).Problem(http.StatusNotFound, httpapi.TypeBlank)
		})
	}
}

// TestRoutesNeedTheirAction: each route runs only for a caller allowed its
// action on the client: iam.secret.read, create or delete on
// /clients/<id>, for secrets and keys alike.
func TestRoutesNeedTheirAction(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	c := e.Client()
	sid := "00000000-0000-4000-8000-000000000000"
	for _, r := range []struct{ method, path, action string }{
		{http.MethodGet, "/v1/clients/" + c.ID + "/secrets", secretsapi.ActionRead},
		{http.MethodPost, "/v1/clients/" + c.ID + "/secrets", secretsapi.ActionCreate},
		{http.MethodDelete, "/v1/clients/" + c.ID + "/secrets/" + sid, secretsapi.ActionDelete},
		{http.MethodGet, "/v1/clients/" + c.ID + "/keys", secretsapi.ActionRead},
		{http.MethodPost, "/v1/clients/" + c.ID + "/keys", secretsapi.ActionCreate},
		{http.MethodDelete, "/v1/clients/" + c.ID + "/keys/" + sid, secretsapi.ActionDelete},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			var others []string
			for _, a := range []string{secretsapi.ActionRead, secretsapi.ActionCreate, secretsapi.ActionDelete} {
				if a != r.action {
					others = append(others, a+" on /clients")
				}
			}
			tok := e.Token(e.Caller(append(others, "iam.client.manage on /")...))
			apitest.Do(t, h, r.method, r.path, tok, map[string]any{"value": "long-enough-value", "description": "d"}).
				Forbidden("The caller is not allowed " + r.action + " on /clients/" + c.ID + ".")
		})
	}
}

// TestSecretImport: an imported secret may be as long as other servers
// issue (up to 512 characters), needs iam.secret.import (iam.secret.create
// is not enough), is answered without its value, and is stored as any
// secret is; the ordinary create keeps its 8-32 rule.
func TestSecretImport(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	c := e.Client()
	creator := e.Token(e.Caller("iam.secret.create on /clients"))
	importer := e.Token(e.Caller("iam.secret.import on /clients"))
	cognito := strings.Repeat("k", 51)
	body := map[string]any{"value": cognito, "description": "from Cognito"}

	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets", importer, body).Forbidden("iam.secret.create")
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets", e.Token(e.Owner()), body).Invalid("value")
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets/import", creator, body).Forbidden("iam.secret.import")

	r := apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets/import", importer, body)
	var made secretJSON
	r.JSON(http.StatusCreated, &made)
	if made.Value != nil || strings.Contains(r.Body.String(), cognito) || made.Description != "from Cognito" {
		t.Errorf("import answered %s", r.Body)
	}
	if hashes := stored(t, e, c); len(hashes) != 1 || hashes[0].ID != made.ID || strings.Contains(hashes[0].Hash, cognito) {
		t.Fatalf("stored %+v", hashes)
	}
	for _, v := range []string{"short", strings.Repeat("x", 513), "tab\there-and-long-enough"} {
		apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets/import", importer, map[string]any{"value": v, "description": "d"}).Invalid("value")
	}
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c.ID+"/secrets/import", importer,
		map[string]any{"value": strings.Repeat("x", 512), "description": "longest"}).JSON(http.StatusCreated, &made)
}
