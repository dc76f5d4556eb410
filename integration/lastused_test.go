package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// TestCredentialLastUsed: a secret's and a key's lastUsedAt is set by the
// first authentication, kept through the next hour (no write per token),
// and moved by the first use after it; the listings and their never-used
// credentials show null.
func TestCredentialLastUsed(t *testing.T) {
	defer env.clock.Reset()
	admin := adminToken(t)
	cid, value := newClient(t, admin, "last-used")
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if r := send(t, http.MethodPost, "/v1/clients/"+cid+"/keys", admin, map[string]any{"jwk": publicJWK(t, &priv.PublicKey, "lu-1", "ES256"), "description": "k"}); r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	spare := send(t, http.MethodPost, "/v1/clients/"+cid+"/secrets", admin, map[string]any{"value": "never-used-secret", "description": "spare"})
	if spare.Status != http.StatusCreated || spare.json(t)["lastUsedAt"] != nil {
		t.Fatalf("a new secret: %s", spare)
	}
	lastUsed := func(kind, description string) any {
		t.Helper()
		r := send(t, http.MethodGet, "/v1/clients/"+cid+"/"+kind, adminToken(t), nil)
		if r.Status != http.StatusOK {
			t.Fatal(r)
		}
		for _, it := range r.json(t)["items"].([]any) {
			if m := it.(map[string]any); m["description"] == description {
				return m["lastUsedAt"]
			}
		}
		t.Fatalf("no %s described %q: %s", kind, description, r)
		return nil
	}
	jti := 0
	useBoth := func() {
		t.Helper()
		tokenFor(t, tenant.Default, cid, value, "")
		jti++
		now := env.clock.Now()
		assertion := assertionSigner{key: priv, alg: jose.ES256, kid: "lu-1"}.sign(t, map[string]any{"iss": cid, "sub": cid, "aud": env.base,
			"exp": now.Add(2 * time.Minute).Unix(), "iat": now.Unix(), "jti": "last-used-" + strconv.Itoa(jti) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
		r := send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {assertion}})
		if r.Status != http.StatusOK {
			t.Fatalf("private_key_jwt: %s", r)
		}
	}
	if lastUsed("secrets", "first") != nil || lastUsed("keys", "k") != nil {
		t.Fatal("lastUsedAt set before any use")
	}

	useBoth()
	firstSecret, firstKey := lastUsed("secrets", "first"), lastUsed("keys", "k")
	for _, v := range []any{firstSecret, firstKey} {
		at, err := time.Parse(time.RFC3339, asString(v))
		if err != nil || env.clock.Now().Sub(at) > time.Minute || at.After(env.clock.Now().Add(time.Second)) {
			t.Errorf("lastUsedAt after a use = %v (now %s)", v, env.clock.Now().UTC())
		}
	}
	if lastUsed("secrets", "spare") != nil {
		t.Error("an unused secret got a lastUsedAt")
	}

	env.clock.Advance(30 * time.Minute)
	useBoth()
	if lastUsed("secrets", "first") != firstSecret || lastUsed("keys", "k") != firstKey {
		t.Error("lastUsedAt moved within the hour: one write per token")
	}

	env.clock.Advance(31 * time.Minute)
	useBoth()
	for kind, before := range map[string]any{"secrets/first": firstSecret, "keys/k": firstKey} {
		var after any
		if kind == "secrets/first" {
			after = lastUsed("secrets", "first")
		} else {
			after = lastUsed("keys", "k")
		}
		b, _ := time.Parse(time.RFC3339, asString(before))
		a, _ := time.Parse(time.RFC3339, asString(after))
		if a.Sub(b) < time.Hour {
			t.Errorf("%s: lastUsedAt %v after a use more than an hour later, was %v", kind, after, before)
		}
	}
}

func asString(v any) string { s, _ := v.(string); return s }

// TestIamctlCredentialsUnused: the report walks the tenant's clients; a
// fresh tenant has nothing unused for a day, and a day is the least.
func TestIamctlCredentialsUnused(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "cli-unused")
	c := newCLI(t, res)
	var unused []map[string]any
	c.json(&unused, "credentials", "unused", "--days", "1")
	if unused == nil || len(unused) != 0 {
		t.Errorf("a fresh tenant's unused credentials = %v, want []", unused)
	}
	c.expect(64, "credentials", "unused", "--days", "0") // a usage error
	if out := c.ok("secrets", "list", res.ClientID); !strings.Contains(out, "LAST USED") {
		t.Errorf("secrets list shows no LAST USED column:\n%s", out)
	}
	if out := c.ok("federated", "list", res.ClientID); !strings.Contains(out, "LAST USED") {
		t.Errorf("federated list shows no LAST USED column:\n%s", out)
	}
}
