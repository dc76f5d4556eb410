package token

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
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

const base = "https://id.example.com"

func newSigner(t *testing.T) *signer.Local { return newSignerTB(t) }

func newSignerTB(t testing.TB) *signer.Local {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.NewLocal(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var b64 = base64.RawURLEncoding

// forge signs arbitrary header and claims with s.
func forge(t *testing.T, s signer.Signer, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	d := sha256.Sum256([]byte(input))
	k, _ := s.Key(context.Background())
	sig, err := s.Sign(context.Background(), k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func TestMintVerifyAndAttacks(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t)
	now := time.Now()
	m := &Minter{Signer: s, Lifetime: time.Hour, Now: func() time.Time { return now }}
	v := &Verifier{Keys: s, Leeway: DefaultLeeway, Now: func() time.Time { return now }}
	grant := Grant{Issuer: base + "/acme", Tenant: "acme", Subject: "client-1", ClientID: "1", Scopes: []string{"services.iam", "api"}}
	raw, claims, err := m.Mint(ctx, grant)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(ctx, raw, base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, claims) || got.Scope != "services.iam api" || !slices.Equal(got.Audience, []string{base + "/acme/resources"}) || got.Expiry-got.IssuedAt != 3600 {
		t.Fatalf("claims = %+v", got)
	}
	key, _ := s.Key(ctx)
	header := map[string]any{"alg": "ES256", "kid": key.ID, "typ": "at+jwt"}
	good := map[string]any{"iss": base + "/acme", "sub": "client-1", "client_id": "1", "tid": "acme", "scope": "services.iam",
		"aud": base + "/acme/resources", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
	with := func(m map[string]any, k string, val any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		if val == nil {
			delete(out, k)
		} else {
			out[k] = val
		}
		return out
	}
	if _, err := v.Verify(ctx, forge(t, s, header, good), base); err != nil {
		t.Fatalf("the forged-but-valid baseline must verify: %v", err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public)
	hs256 := func() string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": key.ID, "typ": "at+jwt"})
		c, _ := json.Marshal(good)
		input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
		mac := hmac.New(sha256.New, pubDER)
		mac.Write([]byte(input))
		return input + "." + b64.EncodeToString(mac.Sum(nil))
	}()
	none := func() string {
		h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "at+jwt"})
		c, _ := json.Marshal(good)
		return b64.EncodeToString(h) + "." + b64.EncodeToString(c) + "."
	}()
	parts := strings.Split(raw, ".")
	payload, _ := b64.DecodeString(parts[1])
	tamperedPayload := strings.Replace(string(payload), `"scope":"services.iam api"`, `"scope":"services.iam owner"`, 1)
	tampered := parts[0] + "." + b64.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]
	other := newSigner(t)
	otherKey, _ := other.Key(ctx)

	attacks := map[string]string{
		"alg none":               none,
		"HS256 with public key":  hs256,
		"unknown kid":            forge(t, s, with(header, "kid", "nope"), good),
		"key not in JWKS":        forge(t, other, with(header, "kid", otherKey.ID), good),
		"other key, our kid":     forge(t, other, header, good),
		"expired":                forge(t, s, header, with(good, "exp", now.Add(-61*time.Second).Unix())),
		"no exp":                 forge(t, s, header, with(good, "exp", nil)),
		"nbf in the future":      forge(t, s, header, with(good, "nbf", now.Add(2*time.Minute).Unix())),
		"wrong iss":              forge(t, s, header, with(good, "iss", "https://evil.example.com/acme")),
		"another tenant's iss":   forge(t, s, header, with(good, "tid", "other")),
		"tid not a tenant":       forge(t, s, header, with(with(good, "tid", "../x"), "iss", base+"/../x")),
		"typ JWT":                forge(t, s, with(header, "typ", "JWT"), good),
		"no typ":                 forge(t, s, with(header, "typ", nil), good),
		"tampered payload":       tampered,
		"no sub":                 forge(t, s, header, with(good, "sub", nil)),
		"not a JWT":              "abc.def",
		"JSON serialization":     `{"payload":"e30","signatures":[]}`,
		"alg mismatch with key":  forge(t, s, with(header, "alg", "RS256"), good),
		"aud of another API":     forge(t, s, header, with(good, "aud", "https://api.example.test")),
		"aud array without ours": forge(t, s, header, with(good, "aud", []string{"a", "b"})),
		"no aud":                 forge(t, s, header, with(good, "aud", nil)),
	}
	for name, tok := range attacks {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(ctx, tok, base); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("leeway", func(t *testing.T) {
		if _, err := v.Verify(ctx, forge(t, s, header, with(good, "exp", now.Add(-30*time.Second).Unix())), base); err != nil {
			t.Errorf("30 s past exp is inside the 60 s leeway: %v", err)
		}
		if _, err := v.Verify(ctx, forge(t, s, with(header, "typ", "application/AT+JWT"), good), base); err != nil {
			t.Errorf("typ is compared case-insensitively with its application/ form: %v", err)
		}
	})
}

// BenchmarkVerify: verifying a bearer token in-process (ES256 signature,
// claims, issuer, lifetime), as every management request does.
func BenchmarkVerify(b *testing.B) {
	s := newSignerTB(b)
	m := &Minter{Signer: s, Lifetime: time.Hour, Now: time.Now}
	raw, _, err := m.Mint(context.Background(), Grant{Issuer: base, Tenant: "default", Subject: "client-1", ClientID: "1", Scopes: []string{"services.iam"}})
	if err != nil {
		b.Fatal(err)
	}
	v := &Verifier{Keys: s, Leeway: DefaultLeeway, Now: time.Now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), raw, base); err != nil {
			b.Fatal(err)
		}
	}
}
