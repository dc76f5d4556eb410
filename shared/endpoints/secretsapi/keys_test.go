package secretsapi_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/shared/endpoints/secretsapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publicJWK is the public half of k as a JWK, with kid when not empty.
func publicJWK(t *testing.T, k *ecdsa.PrivateKey, kid string) json.RawMessage {
	t.Helper()
	doc, err := jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

type keyJSON struct {
	ID  string `json:"id"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
}

func keysOf(t *testing.T, e *apitest.Env, c client.Client) int {
	t.Helper()
	keys, err := e.Store.ListKeys(context.Background(), e.Tenant, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// TestKeys: a public key is registered under its kid (the RFC 7638
// thumbprint when it names none), listed, and deleted; a second key with
// the same kid is a 409; a JWK with a private member is a 400 naming jwk,
// and nothing is stored.
func TestKeys(t *testing.T) {
	e := apitest.New(t)
	h := secretsapi.New(e.Deps)
	tok := e.Token(e.Owner())
	c := e.Client()
	path := "/v1/clients/" + c.ID + "/keys"
	priv := newKey(t)

	r := apitest.Do(t, h, http.MethodPost, path, tok, map[string]any{"jwk": publicJWK(t, priv, ""), "description": "ci"})
	var k keyJSON
	r.JSON(http.StatusCreated, &k)
	thumb, _ := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if k.Kid != base64.RawURLEncoding.EncodeToString(thumb) || k.Alg != "ES256" || r.Header().Get("Location") != path+"/"+k.ID {
		t.Errorf("created %+v, Location %q", k, r.Header().Get("Location"))
	}
	p := apitest.Do(t, h, http.MethodPost, path, tok, map[string]any{"jwk": publicJWK(t, newKey(t), k.Kid), "description": "same kid"}).
		Problem(http.StatusConflict, httpapi.TypeBlank)
	if p.Detail != "The client has a key with this kid already." {
		t.Errorf("detail %q", p.Detail)
	}
	full, _ := jose.JSONWebKey{Key: newKey(t)}.MarshalJSON()
	apitest.Do(t, h, http.MethodPost, path, tok, map[string]any{"jwk": json.RawMessage(full), "description": "private"}).Invalid("jwk")
	apitest.Do(t, h, http.MethodPost, path, tok, map[string]any{"description": "no key"}).Invalid("jwk")
	if n := keysOf(t, e, c); n != 1 {
		t.Fatalf("%d keys stored, want 1", n)
	}

	var l struct {
		Items []keyJSON `json:"items"`
	}
	apitest.Do(t, h, http.MethodGet, path, tok, nil).JSON(http.StatusOK, &l)
	if len(l.Items) != 1 || l.Items[0] != k {
		t.Errorf("listing %+v, want %+v", l.Items, k)
	}
	if r := apitest.Do(t, h, http.MethodDelete, path+"/"+k.ID, tok, nil); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	p = apitest.Do(t, h, http.MethodDelete, path+"/"+k.ID, tok, nil).Problem(http.StatusNotFound, httpapi.TypeBlank)
	if p.Detail != "No key with that id exists for that client." {
		t.Errorf("detail %q", p.Detail)
	}
}
