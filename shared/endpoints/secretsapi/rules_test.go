package secretsapi_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/shared/endpoints/secretsapi"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// TestCredentialForAnotherClient: a credential lets its holder act as the
// client, so creating one (secret or key) for another client, or deleting
// one of its credentials, needs everything that client holds: its own
// policies, its groups' and its OAuth scopes. A refusal is a 403 naming
// what the caller lacks, and no credential is made or removed. The
// caller's own credentials, and those of a client holding no more than
// it, need nothing more than the route.
func TestCredentialForAnotherClient(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	caller := e.Caller("iam.secret.manage on /clients")
	tok := e.Token(caller)
	target := e.Client(oauthscope.IAM, "reconcile")
	e.Grant(target.SubjectID(), "iam.client.read on /clients")
	e.Group([]string{"banking.consents.read on /x"}, target.SubjectID())
	e.Secret(target)
	held, errs := clientkey.Spec{JWK: publicJWK(t, newKey(t), ""), Description: "held"}.Parse(e.Now())
	if errs != nil {
		t.Fatal(errs)
	}
	held.ID, held.CreatedAt = id.New(), e.Now()
	if err := e.Store.CreateKey(t.Context(), e.Tenant, target.ID, held, clientkey.MaxPerClient); err != nil {
		t.Fatal(err)
	}
	lacks := []string{"iam.client.read on /clients", "banking.consents.read on /x", "OAuth scope reconcile"}

	secretBody := map[string]any{"value": "attacker-chosen-1", "description": "x"}
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+target.ID+"/secrets", tok, secretBody).
		Forbidden(append([]string{"The caller cannot create a credential for " + target.SubjectID()}, lacks...)...)
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+target.ID+"/keys", tok, map[string]any{"jwk": publicJWK(t, newKey(t), ""), "description": "x"}).
		Forbidden(lacks...)
	existing := stored(t, e, target)
	apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+target.ID+"/secrets/"+existing[0].ID, tok, nil).
		Forbidden(append([]string{"The caller cannot delete a credential of " + target.SubjectID()}, lacks...)...)
	apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+target.ID+"/keys/"+held.ID, tok, nil).Forbidden(lacks...)
	if n := len(stored(t, e, target)); n != 1 || keysOf(t, e, target) != 1 {
		t.Fatalf("refused requests changed the target's credentials: %d secrets, %d keys", n, keysOf(t, e, target))
	}

	// Its own, and a peer's that holds no more than the caller.
	peer := e.Client(oauthscope.IAM)
	for _, c := range []string{caller.ID, peer.ID} {
		if r := apitest.Do(t, h, http.MethodPost, "/v1/clients/"+c+"/secrets", tok, secretBody); r.Code != http.StatusCreated {
			t.Fatalf("secret for %s: %d %s", c, r.Code, r.Body)
		}
	}

	// Holding all it holds, the caller may.
	e.Grant(caller.SubjectID(), "iam.client.read on /")
	e.Grant(caller.SubjectID(), "banking.consents.manage on /")
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+target.ID+"/secrets", tok, secretBody).Forbidden("OAuth scope reconcile")
	self := e.GetClient(caller.ID)
	self.Scopes = append(self.Scopes, "reconcile")
	if _, err := e.Store.ReplaceClient(t.Context(), self, store.ReplaceCondition{}); err != nil {
		t.Fatal(err)
	}
	if r := apitest.Do(t, h, http.MethodPost, "/v1/clients/"+target.ID+"/secrets", tok, secretBody); r.Code != http.StatusCreated {
		t.Fatalf("caller holding all the target holds: %d %s", r.Code, r.Body)
	}
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+target.ID+"/secrets/"+existing[0].ID, tok, nil); r.Code != http.StatusNoContent {
		t.Fatalf("caller holding all the target holds deletes: %d %s", r.Code, r.Body)
	}
}

// TestLimits: a client has at most secret.MaxPerClient secrets and
// clientkey.MaxPerClient keys; one more is a 409 limit-exceeded problem
// saying so, and is not stored; after a delete there is room again.
func TestLimits(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	tok := e.Token(e.Owner())
	c := e.Client()
	for range secret.MaxPerClient {
		e.Secret(c)
	}
	path := "/v1/clients/" + c.ID + "/secrets"
	body := map[string]any{"value": "one-too-many-secret", "description": "x"}
	p := apitest.Do(t, h, http.MethodPost, path, tok, body).Problem(http.StatusConflict, httpapi.TypeLimitExceeded)
	if want := "A client may have at most " + strconv.Itoa(secret.MaxPerClient) + " secrets; delete one first."; p.Detail != want {
		t.Errorf("detail %q, want %q", p.Detail, want)
	}
	all := stored(t, e, c)
	if len(all) != secret.MaxPerClient {
		t.Fatalf("%d secrets, want %d", len(all), secret.MaxPerClient)
	}
	if r := apitest.Do(t, h, http.MethodDelete, path+"/"+all[0].ID, tok, nil); r.Code != http.StatusNoContent {
		t.Fatal(r.Code, r.Body)
	}
	if r := apitest.Do(t, h, http.MethodPost, path, tok, body); r.Code != http.StatusCreated {
		t.Fatalf("room again after a delete: %d %s", r.Code, r.Body)
	}

	keys := "/v1/clients/" + c.ID + "/keys"
	for i := range clientkey.MaxPerClient {
		if r := apitest.Do(t, h, http.MethodPost, keys, tok, map[string]any{"jwk": publicJWK(t, newKey(t), ""), "description": "k"}); r.Code != http.StatusCreated {
			t.Fatalf("key %d: %d %s", i+1, r.Code, r.Body)
		}
	}
	p = apitest.Do(t, h, http.MethodPost, keys, tok, map[string]any{"jwk": publicJWK(t, newKey(t), ""), "description": "k"}).Problem(http.StatusConflict, httpapi.TypeLimitExceeded)
	if want := "A client may have at most " + strconv.Itoa(clientkey.MaxPerClient) + " keys; delete one first."; p.Detail != want {
		t.Errorf("detail %q, want %q", p.Detail, want)
	}
	if n := keysOf(t, e, c); n != clientkey.MaxPerClient {
		t.Errorf("%d keys, want %d", n, clientkey.MaxPerClient)
	}
}
