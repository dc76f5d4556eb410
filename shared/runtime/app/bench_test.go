package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/endpoints/clientsapi"
	"github.com/machine-iam/machine-iam/shared/endpoints/tokenapi"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
)

// The benchmarks drive the functions' real handlers, store and signer
// code; only the two remote services are in-process fakes answering with
// canned data, so ns/op is this process's own work per request.

const (
	benchClientID = "0afd4f1a-23d1-4e53-8f29-6ffa82b79e84"
	benchSecret   = "correct-horse-battery"
)

// fakeDynamoDB answers the token endpoint's Query with one client and its
// secret, and the list of 200 clients for the listing benchmark.
type fakeDynamoDB struct {
	dynamo.API
	credentials []map[string]ddbtypes.AttributeValue
	clients     []map[string]ddbtypes.AttributeValue
	decision    []map[string]ddbtypes.AttributeValue
}

func (f *fakeDynamoDB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	switch {
	case in.IndexName != nil:
		return &dynamodb.QueryOutput{Items: f.clients}, nil
	case strings.Contains(aws.ToString(in.KeyConditionExpression), "SK < :end"):
		return &dynamodb.QueryOutput{Items: f.decision}, nil
	}
	return &dynamodb.QueryOutput{Items: f.credentials}, nil
}

// GetItem finds nothing: no instance shared its key resolutions yet.
func (f *fakeDynamoDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (f *fakeDynamoDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, nil
}

// fakeKMS signs in-process. With fixed set it returns one signature made in
// advance instead: signing is KMS's work, not this process's, so the token
// benchmark leaves it out.
type fakeKMS struct {
	priv      *ecdsa.PrivateKey
	publicDER []byte
	signature []byte
	fixed     bool
}

func newFakeKMS() *fakeKMS {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	digest := sha256.Sum256([]byte("x"))
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	return &fakeKMS{priv: priv, publicDER: der, signature: sig, fixed: true}
}

func (f *fakeKMS) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	return &kms.GetPublicKeyOutput{KeyId: aws.String("arn:aws:kms:eu-west-1:1:key/k"), PublicKey: f.publicDER,
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify}, nil
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	if f.fixed {
		return &kms.SignOutput{Signature: f.signature}, nil
	}
	sig, err := ecdsa.SignASN1(rand.Reader, f.priv, in.Message)
	return &kms.SignOutput{Signature: sig}, err
}

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func l(vs ...string) ddbtypes.AttributeValue {
	out := &ddbtypes.AttributeValueMemberL{}
	for _, v := range vs {
		out.Value = append(out.Value, s(v))
	}
	return out
}

func clientItem(id, name string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": s("T#default#S#client-" + id), "SK": s("A#CLIENT"), "GSI1SK": s(id), "name": s(name), "description": s("d"),
		"grantTypes": l("client_credentials"), "scopes": l("services.iam", "api"), "redirectUris": l(),
		"createdAt": s("2026-11-28T08:00:00Z"), "updatedAt": s("2026-11-28T08:00:00Z"), "version": &ddbtypes.AttributeValueMemberN{Value: "1"},
	}
}

func benchDeps(b *testing.B) (*app.Deps, *fakeKMS) {
	b.Helper()
	hash, err := secret.DefaultArgon2id.Hash(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	ddb := &fakeDynamoDB{}
	ddb.credentials = []map[string]ddbtypes.AttributeValue{
		clientItem(benchClientID, "bench"),
		{"PK": s("T#default#S#client-" + benchClientID), "SK": s("A#SECRET#s1"), "description": s("d"), "hash": s(hash), "createdAt": s("2026-11-28T08:00:00Z")},
	}
	for i := range 200 {
		ddb.clients = append(ddb.clients, clientItem(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("client %03d", i)))
	}
	ddb.decision = []map[string]ddbtypes.AttributeValue{
		clientItem(benchClientID, "bench"),
		{"PK": s("T#default#S#client-" + benchClientID), "SK": s("P#owner#/"), "subject": s("client-" + benchClientID), "action": s("owner"), "scope": s("/")},
	}
	signer := newFakeKMS()
	d := app.NewDeps(app.Config{TableName: "t", SigningKeyID: "alias/k", IssuerURL: "https://id.example.com",
		TokenLifetime: time.Hour, RequestTimeout: app.DefaultRequestTimeout,
		Lockout: lockout.Limits{Threshold: lockout.DefaultThreshold, Window: lockout.DefaultWindow}}, ddb, signer)
	d.Audit = slog.New(slog.DiscardHandler)
	return d, signer
}

// mintAdminToken returns a real, verifiable token of the benchmark client.
func mintAdminToken(b *testing.B, d *app.Deps, f *fakeKMS) string {
	b.Helper()
	f.fixed = false
	defer func() { f.fixed = true }()
	m := &token.Minter{Signer: d.Signer, Lifetime: time.Hour, Now: time.Now}
	raw, _, err := m.Mint(context.Background(), token.Grant{Issuer: "https://id.example.com", Tenant: "default",
		Subject: "client-" + benchClientID, ClientID: benchClientID, Scopes: []string{"services.iam"}})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func tokenRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(
		"grant_type=client_credentials&client_id="+benchClientID+"&client_secret="+benchSecret))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// BenchmarkTokenWarm: a token request whose secret the warm cache already
// matched: no argon2 work, one (fake) Query, one (fake) Sign.
func BenchmarkTokenWarm(b *testing.B) {
	d, _ := benchDeps(b)
	h := tokenapi.New(d)
	serve := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tokenRequest())
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	serve()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}

// BenchmarkTokenMemoryFlat sends 100,000 token requests and reports how much
// the live heap grew between the 10,000th and the 100,000th: flat memory is
// a growth near zero.
func BenchmarkTokenMemoryFlat(b *testing.B) {
	d, _ := benchDeps(b)
	h := tokenapi.New(d)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for b.Loop() {
		var at10k uint64
		for i := range 100_000 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tokenRequest())
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
			if i == 9_999 {
				at10k = heap()
			}
		}
		b.ReportMetric(float64(int64(heap())-int64(at10k)), "heap-growth-bytes")
	}
}

// BenchmarkManagementListPage: an authorized GET /v1/clients returning a
// page of 200 clients (token verification, one decision, JSON).
func BenchmarkManagementListPage(b *testing.B) {
	d, f := benchDeps(b)
	tok := mintAdminToken(b, d, f)
	h := clientsapi.New(d)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "/v1/clients?pageSize=200", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkTokenWarmReuse: as BenchmarkTokenWarm with token reuse on: a
// repeated request costs no signature at all.
func BenchmarkTokenWarmReuse(b *testing.B) {
	d, _ := benchDeps(b)
	d.Config.TokenReusePercent = 50
	h := tokenapi.New(d)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tokenRequest())
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
