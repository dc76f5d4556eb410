package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

// TestBruteForceLockout: past the threshold within a window, the token
// endpoint answers 429 with Retry-After for that client id, known or not,
// even with the right secret, without hash work, until the window ends.
func TestBruteForceLockout(t *testing.T) {
	admin := adminToken(t)
	known, value := newClient(t, admin, "brute-forced")
	unknown := id.New()
	// Start at the beginning of a lockout window so it cannot end mid-test.
	now := time.Now()
	env.clock.Advance(now.Truncate(5 * time.Minute).Add(5 * time.Minute).Sub(now))
	defer env.clock.Reset()
	post := func(clientID, secret string) response {
		return send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}})
	}
	for _, cid := range []string{known, unknown} {
		for i := range 10 {
			before := env.hashes.verifies.Load()
			if r := post(cid, "guess-"+strconv.Itoa(i)); r.Status != 401 {
				t.Fatalf("guess %d for %s: %s", i, cid, r)
			}
			if n := env.hashes.verifies.Load() - before; n != 1 {
				t.Fatalf("guess %d did %d hash verifications, want 1", i, n)
			}
		}
	}
	for _, c := range []struct{ id, secret string }{{known, "guess-x"}, {unknown, "guess-x"}, {known, value}} {
		before := env.hashes.verifies.Load()
		r := post(c.id, c.secret)
		if r.Status != http.StatusTooManyRequests || r.json(t)["error"] != "temporarily_unavailable" {
			t.Fatalf("locked %s: %s", c.id, r)
		}
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 300 {
			t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
		if n := env.hashes.verifies.Load() - before; n != 0 {
			t.Errorf("a locked request did %d hash verifications", n)
		}
	}
	lockedKnown, lockedUnknown := post(known, "guess-y"), post(unknown, "guess-y")
	if lockedKnown.Status != lockedUnknown.Status || string(lockedKnown.Body) != string(lockedUnknown.Body) {
		t.Errorf("known and unknown ids must be locked alike:\n%s\n%s", lockedKnown, lockedUnknown)
	}
	other, otherValue := newClient(t, admin, "bystander")
	tokenFor(t, tenant.Default, other, otherValue, "")

	env.clock.Advance(5 * time.Minute)
	if r := post(known, value); r.Status != 200 {
		t.Fatalf("the next window lets the right secret in: %s", r)
	}
}

// TestAuditLines: every change and every token request leaves one JSON line
// naming request, tenant, caller, action, target and outcome, and no line
// ever holds a secret or a hash.
func TestAuditLines(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "audited")
	tokenFor(t, tenant.Default, id, value, "")
	wrong := send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"not-the-secret"}})
	unknown := send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"pasted-" + value}, "client_secret": {"x"}})
	// The reason goes to the audit line, never into the response.
	if string(wrong.Body) != string(unknown.Body) || strings.Contains(string(wrong.Body), "wrong") || strings.Contains(string(unknown.Body), "unknown") {
		t.Errorf("the responses tell the failures apart: %s / %s", wrong.Body, unknown.Body)
	}
	send(t, http.MethodDelete, "/v1/clients/"+id, "", nil)
	caller := newCaller(t, admin, "audited-caller")
	send(t, http.MethodDelete, "/v1/clients/"+id, caller.token(t), nil)
	if r := send(t, http.MethodDelete, "/v1/clients/"+id, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	lines := env.audit.lines()
	find := func(action, targetPrefix, outcome string) map[string]any {
		t.Helper()
		for _, l := range lines {
			if l["msg"] == "audit" && l["action"] == action && strings.HasPrefix(l["target"].(string), targetPrefix) && l["outcome"] == outcome {
				return l
			}
		}
		t.Fatalf("no audit line %s %s %s", action, targetPrefix, outcome)
		return nil
	}
	if l := find("token.issue", id, "unauthenticated"); l["reason"] != "wrong secret" {
		t.Errorf("a wrong secret's audit line: %v", l)
	}
	if l := find("token.issue", lockout.Digest("pasted-"+value), "unauthenticated"); l["reason"] != "unknown client" {
		t.Errorf("an unknown client id's audit line: %v", l)
	}
	adminSubject := "client-" + env.admin.ClientID
	for _, c := range []struct {
		action, target, outcome, caller string
		status                          float64
	}{
		{"iam.client.create", "/clients/" + id, "success", adminSubject, 201},
		{"iam.secret.create", "/clients/" + id + "/secrets/", "success", adminSubject, 201},
		{"token.issue", id, "success", "client-" + id, 200},
		{"token.issue", id, "unauthenticated", "", 401},
		{"iam.client.delete", "/clients/" + id, "unauthenticated", "", 401},
		{"iam.client.delete", "/clients/" + id, "denied", caller.subject, 403},
		{"iam.client.delete", "/clients/" + id, "success", adminSubject, 204},
	} {
		l := find(c.action, c.target, c.outcome)
		wantTenant := "default" // unknown before a management caller is authenticated
		if c.outcome == "unauthenticated" && c.action != "token.issue" {
			wantTenant = ""
		}
		if l["caller"] != c.caller || l["status"] != c.status || l["tenant"] != wantTenant || l["requestId"] == "" {
			t.Errorf("%s %s: line %v", c.action, c.outcome, l)
		}
	}
	for _, l := range lines {
		raw, _ := json.Marshal(l)
		for _, secret := range []string{value, env.admin.ClientSecret, "not-the-secret", "argon2id"} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("an audit line holds a secret or a hash: %s", raw)
			}
		}
	}
}

// TestBearerTokenAttacks: every forged, foreign or stale token is refused
// with 401 at the management API.
func TestBearerTokenAttacks(t *testing.T) {
	ctx := context.Background()
	admin := adminToken(t)
	deps := env.svc.Deps["ClientsFunction"]
	key, err := deps.Signer.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	realKMS := deps.Signer
	now := time.Now()
	claims := func(mod map[string]any) map[string]any {
		c := map[string]any{"iss": env.base, "sub": "client-" + env.admin.ClientID, "aud": env.base + "/resources",
			"client_id": env.admin.ClientID, "scope": "services.iam", "tid": "default",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j"}
		for k, v := range mod {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	header := func(mod map[string]any) map[string]any {
		h := map[string]any{"alg": key.Algorithm, "kid": key.ID, "typ": "at+jwt"}
		for k, v := range mod {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	enc := base64.RawURLEncoding
	input := func(h, c map[string]any) string {
		hb, _ := json.Marshal(h)
		cb, _ := json.Marshal(c)
		return enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	}
	sign := func(s signer.Signer, h, c map[string]any) string {
		in := input(h, c)
		d := sha256.Sum256([]byte(in))
		k, err := s.Key(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(ctx, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + enc.EncodeToString(sig)
	}
	// A real token of this deployment's KMS key, for the baseline and for
	// tampering.
	if r := send(t, http.MethodGet, "/v1/clients", sign(realKMS, header(nil), claims(nil)), nil); r.Status != 200 {
		t.Fatalf("baseline forged with the real key must pass: %s", r)
	}
	pub, _ := x509.MarshalPKIXPublicKey(key.Public)
	hs := input(header(map[string]any{"alg": "HS256"}), claims(nil))
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(hs))
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger, _ := signer.NewLocal(priv)
	strangerKey, _ := stranger.Key(ctx)
	otherKMSKey, err := env.svc.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	otherKMS := kmssigner.New(env.svc.KMS, *otherKMSKey.KeyMetadata.KeyId)
	otherKMSID, _ := otherKMS.Key(ctx)
	_, t2 := newTenantAdmin(t, "attacker")
	t2Token := tokenFor(t, t2.Tenant, t2.ClientID, t2.ClientSecret, "")
	apiOnlyID, apiOnlySecret := newClient(t, admin, "api-only", "api")
	parts := strings.Split(admin, ".")
	payload, _ := enc.DecodeString(parts[1])
	tampered := parts[0] + "." + enc.EncodeToString([]byte(strings.Replace(string(payload), `"scope":"services.iam"`, `"scope":"services.iam owner"`, 1))) + "." + parts[2]

	attacks := map[string]string{
		"alg none":                          input(header(map[string]any{"alg": "none", "kid": nil}), claims(nil)) + ".",
		"HS256 with the public key":         hs + "." + enc.EncodeToString(mac.Sum(nil)),
		"unknown kid":                       sign(realKMS, header(map[string]any{"kid": "not-a-key"}), claims(nil)),
		"key not in the JWKS":               sign(stranger, header(map[string]any{"kid": strangerKey.ID}), claims(nil)),
		"expired":                           sign(realKMS, header(nil), claims(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})),
		"nbf in the future":                 sign(realKMS, header(nil), claims(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})),
		"wrong iss":                         sign(realKMS, header(nil), claims(map[string]any{"iss": "https://evil.example.com"})),
		"another tenant's token":            t2Token,
		"without services.iam":              tokenFor(t, tenant.Default, apiOnlyID, apiOnlySecret, ""),
		"typ JWT":                           sign(realKMS, header(map[string]any{"typ": "JWT"}), claims(nil)),
		"tampered payload":                  tampered,
		"signed by a different KMS key":     sign(otherKMS, header(map[string]any{"kid": otherKMSID.ID}), claims(nil)),
		"different KMS key, our kid":        sign(otherKMS, header(nil), claims(nil)),
		"tid of another tenant, our issuer": sign(realKMS, header(nil), claims(map[string]any{"tid": t2.Tenant})),
	}
	for name, tok := range attacks {
		t.Run(name, func(t *testing.T) {
			r := send(t, http.MethodGet, "/v1/clients", tok, nil)
			if name == "another tenant's token" {
				// Valid for its own tenant: it lists that tenant's clients
				// only, never the default tenant's.
				if r.Status != 200 || r.json(t)["metadata"].(map[string]any)["totalCount"] != 1.0 {
					t.Fatalf("%s", r)
				}
				assertProblem(t, send(t, http.MethodGet, "/v1/clients/"+env.admin.ClientID, tok, nil), http.StatusNotFound)
				return
			}
			assertProblem(t, r, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestLimits: oversized headers and tokens are refused before any work.
func TestLimits(t *testing.T) {
	admin := adminToken(t)
	huge := strings.Repeat("a", 12<<10)
	if r := send(t, http.MethodGet, "/v1/clients", admin, nil, "X-Padding", huge); r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("12 KiB of headers: %s", r)
	}
	long := strings.Repeat("a", 9<<10)
	assertProblem(t, send(t, http.MethodGet, "/v1/clients", long, nil), http.StatusUnauthorized)
	// Bodies over the limits are 413 on both APIs.
	assertProblem(t, send(t, http.MethodPost, "/v1/clients", admin, `{"name":"`+strings.Repeat("x", 64<<10)+`"}`), http.StatusRequestEntityTooLarge)
	r := send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("x", 16<<10)}})
	if r.Status != http.StatusRequestEntityTooLarge || r.json(t)["error"] != "invalid_request" {
		t.Errorf("oversized token request: %s", r)
	}
}
