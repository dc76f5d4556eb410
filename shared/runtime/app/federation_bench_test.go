package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/machine-iam/machine-iam/shared/endpoints/tokenapi"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
)

// federatedDynamoDB adds what a federated authentication reads besides the
// client's partition: the address's attempt count (none).
type federatedDynamoDB struct{ *fakeDynamoDB }

func (federatedDynamoDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

// BenchmarkTokenFederated: a token request authenticated by an outside
// OIDC issuer's token (a GitHub Actions-shaped job token, RS256) whose keys
// the function cached on the first request: the JWT's signature check, the
// credential match, one (fake) Query and GetItem, one (fake) Sign.
func BenchmarkTokenFederated(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/jwks"})
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256"}}})
	}))
	defer srv.Close()
	issuer = srv.URL

	base, signer := benchDeps(b)
	ddb := federatedDynamoDB{&fakeDynamoDB{credentials: []map[string]ddbtypes.AttributeValue{
		clientItem(benchClientID, "bench"),
		{"PK": s("T#default#S#client-" + benchClientID), "SK": s("A#FED#f1"), "id": s("f1"), "type": s("oidc"), "issuer": s(issuer),
			"subject": s("repo:acme/orders:environment:production"), "audience": s("https://id.example.com"), "description": s("d"),
			"createdAt": s("2026-11-28T08:00:00Z")},
	}}}
	cfg := base.Config
	cfg.Federation.AllowLocalIssuers = true
	d := app.NewDeps(cfg, ddb, signer)
	d.Audit = base.Audit
	h := tokenapi.New(d)

	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	now := time.Now()
	assertion, _ := jwt.Signed(s).Claims(map[string]any{"iss": issuer, "aud": "https://id.example.com",
		"sub": "repo:acme/orders:environment:production", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"repository": "acme/orders", "repository_owner_id": "4242", "ref": "refs/heads/main"}).Serialize()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {benchClientID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}.Encode()
	serve := func() {
		r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	serve() // fetches and caches the issuer's keys
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}
