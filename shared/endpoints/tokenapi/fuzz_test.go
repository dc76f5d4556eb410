package tokenapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

const (
	knownID     = "0afd4f1a-23d1-4e53-8f29-6ffa82b79e84"
	knownSecret = "correct-horse-battery"
)

// memoryCredentials holds one client and the attempt counts, in memory,
// for handler tests.
type memoryCredentials struct {
	client  client.Client
	secrets []secret.Hashed

	mu       sync.Mutex
	attempts map[string]lockout.Counts // by key and window
	byAddr   map[string]int            // by key, window and address
	used     map[string]bool           // client assertions
	revoked  map[string]bool           // jtis
	killedAt time.Time
	// maxRevocations, when set, stands in for the limit's Max.
	maxRevocations int
}

func (m *memoryCredentials) GetCredentials(_ context.Context, tenant, key, address string, window time.Time) (store.CredentialRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := store.CredentialRecord{Attempts: lockout.Counts{
		Total: m.attempts[key+window.String()].Total, FromAddress: m.byAddr[key+window.String()+address]}}
	if tenant == "default" && key == m.client.ID {
		c := m.client
		c.TokensRevokedAt = m.killedAt
		rec.Client, rec.Secrets = &c, m.secrets
		rec.Revocations = int64(len(m.revoked))
	}
	return rec, nil
}

func (m *memoryCredentials) CountAttempt(_ context.Context, at store.Attempts, n int, p lockout.Limits, _ time.Time) error {
	key, address, window := at.Key, at.Address, at.Window
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.attempts == nil {
		m.attempts, m.byAddr = map[string]lockout.Counts{}, map[string]int{}
	}
	k := key + window.String()
	c := m.attempts[k]
	switch {
	case m.byAddr[k+address]+n > p.Threshold:
		return store.ErrLimitExceeded
	case c.Total+n > p.Ceiling:
		m.byAddr[k+address] += n
		return store.ErrLimitExceeded
	}
	c.Total += n
	m.attempts[k] = c
	m.byAddr[k+address] += n
	return nil
}

func (m *memoryCredentials) UncountAttempt(_ context.Context, at store.Attempts, n int) error {
	key, address, window := at.Key, at.Address, at.Window
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key + window.String()
	c := m.attempts[k]
	c.Total -= n
	m.attempts[k] = c
	m.byAddr[k+address] -= n
	return nil
}

func (m *memoryCredentials) TagSecret(_ context.Context, _ store.Attempts, secretID, tag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.secrets {
		if s.ID == secretID {
			m.secrets[i].Tag = tag
		}
	}
	return nil
}

func (m *memoryCredentials) UseAssertion(_ context.Context, _, clientID, jti string, _, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used == nil {
		m.used = map[string]bool{}
	}
	if m.used[clientID+" "+jti] {
		return store.ErrConflict
	}
	m.used[clientID+" "+jti] = true
	return nil
}

func (m *memoryCredentials) RevokeToken(_ context.Context, _, _, jti string, _ time.Time, l store.RevocationLimit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.maxRevocations > 0 {
		l.Max = m.maxRevocations
	}
	if len(m.revoked) >= l.Max {
		return &store.LimitError{Until: l.Now.Add(l.Span)}
	}
	if m.revoked == nil {
		m.revoked = map[string]bool{}
	}
	m.revoked[jti] = true
	return nil
}
func (m *memoryCredentials) TokenRevoked(_ context.Context, _, _, jti string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoked[jti], nil
}
func (m *memoryCredentials) RevokeTokens(_ context.Context, _, _ string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.killedAt = at
	return nil
}
func (m *memoryCredentials) Grants(_ context.Context, _, subjectID string) (policy.Grants, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if subjectID != m.client.SubjectID() {
		return policy.Grants{}, store.ErrSubjectNotFound
	}
	return policy.Grants{Revocation: policy.Revocation{KilledAt: m.killedAt}}, nil
}

func (m *memoryCredentials) CreateTenant(context.Context, string) error { return nil }
func (m *memoryCredentials) TenantExists(_ context.Context, t string) (bool, error) {
	return t == "default", nil
}

func newTestService(t testing.TB) *Service {
	t.Helper()
	hasher := secret.Argon2id{Time: 1, MemoryKiB: 64, Threads: 1}
	phc, err := hasher.Hash(knownSecret)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sig, _ := signer.NewLocal(priv)
	creds := &memoryCredentials{
		client:  client.Client{Tenant: "default", ID: knownID, Spec: client.Spec{Name: "n", GrantTypes: []string{client.GrantClientCredentials}, Scopes: []string{"api", oauthscope.IAM}}},
		secrets: []secret.Hashed{{Secret: secret.Secret{ID: "s"}, Hash: phc}},
	}
	return &Service{
		Credentials: creds, Tenants: creds, Secrets: secret.NewVerifier(hasher, 16),
		Minter: &token.Minter{Signer: sig, Lifetime: time.Hour, Now: time.Now},
		Keys:   sig, Catalogs: access.NewCatalogs(apis.Builtin(), noAPIs{}), IssuerBase: func(*http.Request) string { return "https://id.example.com" },
		Lockout: lockout.Limits{Threshold: 1 << 30, Ceiling: 1 << 30, Window: time.Minute}, Now: time.Now,
	}
}

// documented is every (status, error) pair the token endpoint may answer.
var documented = map[int][]string{
	400: {"invalid_request", "unsupported_grant_type", "unauthorized_client", "invalid_scope", "invalid_target"},
	401: {"invalid_client"},
	413: {"invalid_request"},
	429: {"temporarily_unavailable"},
}

// FuzzTokenRequest throws arbitrary form bodies, Basic headers and
// content types at the token endpoint: it never panics, never answers 5xx,
// and every refusal is a documented OAuth error.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&client_id="+knownID+"&client_secret="+knownSecret, "", "application/x-www-form-urlencoded")
	f.Add("grant_type=client_credentials&scope=api", "Basic MGFmZDRmMWEtMjNkMS00ZTUzLThmMjktNmZmYTgyYjc5ZTg0OmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ==", "application/x-www-form-urlencoded")
	f.Add("grant_type=client_credentials&grant_type=x", "Basic %%%", "application/x-www-form-urlencoded; charset=utf-8")
	f.Add("%zz", "Bearer x", "text/plain")
	svc := newTestService(f)
	h := svc.Handler()
	f.Fuzz(func(t *testing.T, body, authorization, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			return
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%d with a body that is not an OAuth error: %q", w.Code, w.Body)
		}
		codes, ok := documented[w.Code]
		if !ok || !contains(codes, e.Error) {
			t.Fatalf("undocumented answer %d %q", w.Code, e.Error)
		}
		if strings.Contains(w.Body.String(), knownSecret) {
			t.Fatal("the answer echoes the secret")
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestTokenHandlerSuccessAndRefusal(t *testing.T) {
	h := newTestService(t).Handler()
	for _, c := range []struct {
		body   string
		status int
	}{
		{"grant_type=client_credentials&client_id=" + knownID + "&client_secret=" + knownSecret, 200},
		{"grant_type=client_credentials&client_id=" + knownID + "&client_secret=wrong-secret", 401},
	} {
		r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s: %d %s", c.body, w.Code, w.Body)
		}
	}
}

// TestReservedTenantPaths: a path whose tenant segment is a reserved word
// names no tenant: 404 problem, whatever the credentials.
func TestReservedTenantPaths(t *testing.T) {
	h := newTestService(t).Handler()
	for _, path := range []string{"/v1/connect/token", "/connect/connect/token", "/resources/connect/introspect", "/apis/connect/revocation"} {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("grant_type=client_credentials&client_id="+knownID+"&client_secret="+knownSecret))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
}

// TestClientAuthenticationMethods: no client authentication at all is
// invalid_client (401, with a Basic challenge), as RFC 6749 §5.2 has it; a
// client_id alone is none; two methods at once stay invalid_request.
func TestClientAuthenticationMethods(t *testing.T) {
	h := newTestService(t).Handler()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(knownID+":"+knownSecret))
	for _, c := range []struct {
		name, body, auth string
		status           int
		code             string
	}{
		{"none", "grant_type=client_credentials", "", 401, "invalid_client"},
		{"client_id alone", "grant_type=client_credentials&client_id=" + knownID, "", 401, "invalid_client"},
		{"basic and post", "grant_type=client_credentials&client_secret=" + knownSecret, basic, 400, "invalid_request"},
		{"basic and assertion", "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=x", basic, 400, "invalid_request"},
		{"post and assertion", "grant_type=client_credentials&client_id=" + knownID + "&client_secret=" + knownSecret +
			"&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=x", "", 400, "invalid_request"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != c.status || e.Error != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, w.Code, w.Body, c.status, c.code)
		}
		if challenge := w.Header().Get("WWW-Authenticate"); c.status == 401 && !strings.HasPrefix(challenge, `Basic realm="`) {
			t.Errorf("%s: WWW-Authenticate %q", c.name, challenge)
		}
	}
}

// noAPIs is a tenant that registered no APIs.
type noAPIs struct{}

func (noAPIs) ListAPIs(context.Context, string) ([]apis.API, error) { return nil, nil }
