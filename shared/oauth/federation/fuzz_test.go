package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// FuzzExternalToken feeds the external-token checks arbitrary input. The
// issuer's keys sign nothing the fuzzer sees, so no input may verify:
// not a token signed by another key under the issuer's kid, not "none",
// not HS256 keyed with the issuer's public key, not a mutation of any of
// them. Every refusal is ErrInvalid, and nothing panics.
func FuzzExternalToken(f *testing.F) {
	issuerEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issuerRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := []jose.JSONWebKey{
		{Key: &issuerEC.PublicKey, KeyID: "ec", Use: "sig"},
		{Key: &issuerRSA.PublicKey, KeyID: "rsa", Algorithm: "RS256"},
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	claims := map[string]any{"iss": "https://token.actions.githubusercontent.com", "sub": "repo:acme/app:ref:refs/heads/main",
		"aud": "https://id.example.com", "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "repository": "acme/app"}
	sign := func(alg jose.SignatureAlgorithm, key any, kid string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
		if err != nil {
			f.Fatal(err)
		}
		raw, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			f.Fatal(err)
		}
		return raw
	}
	f.Add(sign(jose.ES256, otherEC, "ec"))
	f.Add(sign(jose.RS256, otherRSA, "rsa"))
	f.Add(sign(jose.PS256, otherRSA, "rsa"))
	f.Add(sign(jose.ES256, otherEC, ""))
	der, _ := x509.MarshalPKIXPublicKey(&issuerRSA.PublicKey)
	f.Add(sign(jose.HS256, der, "rsa"))
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lzc3VlciIsInN1YiI6Im1lIn0.")
	f.Add("")
	cred := Credential{Type: TypeOIDC, Issuer: claims["iss"].(string), Subject: "repo:acme/*:ref:refs/heads/main",
		Audience: "https://id.example.com", Claims: map[string]string{"repository": "acme/app"}}
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := ParseToken(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("a refusal that is not ErrInvalid: %v", err)
			}
			return
		}
		if err := tok.VerifySignature(keys); err == nil {
			t.Fatalf("verified without the issuer's private key: %q", raw)
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("a refusal that is not ErrInvalid: %v", err)
		}
		if _, err := tok.CheckClaims(now, time.Hour); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("a refusal that is not ErrInvalid: %v", err)
		}
		tok.Accepts(cred)
		_ = tok.Issuer() + tok.KeyID()
	})
}
