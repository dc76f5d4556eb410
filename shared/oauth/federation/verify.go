package federation

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Algorithms an external token may be signed with: asymmetric ones only
// (an HMAC key would be a shared secret), each with the key type it needs.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// MinRSABits is the smallest RSA key an issuer may sign with.
const MinRSABits = 2048

// keyAlgorithms returns the algorithms k signs with (its alg alone when it
// names one), and false for a key of no accepted type.
func keyAlgorithms(k jose.JSONWebKey) ([]string, bool) {
	var algs []string
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return nil, false
		}
		algs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			algs = []string{"ES256"}
		case elliptic.P384():
			algs = []string{"ES384"}
		case elliptic.P521():
			algs = []string{"ES512"}
		default:
			return nil, false
		}
	case ed25519.PublicKey:
		algs = []string{"EdDSA"}
	default:
		return nil, false
	}
	if k.Algorithm != "" {
		if !slices.Contains(algs, k.Algorithm) {
			return nil, true
		}
		algs = []string{k.Algorithm}
	}
	return algs, true
}

// ErrInvalid is wrapped by every rejection of an external token; the text
// says why, for logs only.
var ErrInvalid = errors.New("invalid external token")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Token is a parsed, not yet verified, external token.
type Token struct {
	tok    *jwt.JSONWebToken
	claims jwt.Claims
	all    map[string]json.RawMessage
}

// ParseToken reads raw far enough to know which issuer to ask for keys: a
// compact JWS with one signature by an accepted algorithm, with an iss.
func ParseToken(raw string) (*Token, error) {
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalid("not a compact JWS with one signature by an asymmetric algorithm")
	}
	t := &Token{tok: tok}
	if err := tok.UnsafeClaimsWithoutVerification(&t.claims, &t.all); err != nil {
		return nil, invalid("claims unreadable")
	}
	if t.claims.Issuer == "" {
		return nil, invalid("iss is required")
	}
	return t, nil
}

// Issuer is the iss the token claims.
func (t *Token) Issuer() string { return t.claims.Issuer }

// ID is the token's jti ("" when it has none).
func (t *Token) ID() string { return t.claims.ID }

// IssuedAt is the token's iat (the zero time when it has none).
func (t *Token) IssuedAt() time.Time {
	if t.claims.IssuedAt == nil {
		return time.Time{}
	}
	return t.claims.IssuedAt.Time()
}

// KeyID is the kid of the token's header ("" when it names none).
func (t *Token) KeyID() string { return t.tok.Headers[0].KeyID }

// VerifySignature checks the token's signature with the issuer's keys:
// those with its kid (all, when it names none), signing with the token's
// algorithm, usable for signatures.
func (t *Token) VerifySignature(keys []jose.JSONWebKey) error {
	h := t.tok.Headers[0]
	for _, k := range keys {
		if (h.KeyID != "" && k.KeyID != h.KeyID) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		algs, ok := keyAlgorithms(k)
		if !ok || !slices.Contains(algs, h.Algorithm) {
			continue
		}
		var c jwt.Claims
		if t.tok.Claims(k.Key, &c) == nil {
			return nil
		}
	}
	return invalid("no key of the issuer with kid %q verifies the signature", h.KeyID)
}

// Identity is who a verified external token names.
type Identity struct {
	Issuer  string
	Subject string
	Expiry  time.Time
}

// CheckClaims checks, after the signature, the registered claims at now:
// exp present, not past and at most maxLifetime ahead; nbf and iat, if
// present, not in the future; sub present.
func (t *Token) CheckClaims(now time.Time, maxLifetime time.Duration) (Identity, error) {
	c := t.claims
	switch {
	case c.Expiry == nil:
		return Identity{}, invalid("exp is required")
	case !now.Before(c.Expiry.Time().Add(Leeway)):
		return Identity{}, invalid("expired")
	case c.Expiry.Time().After(now.Add(maxLifetime + Leeway)):
		return Identity{}, invalid("lives longer than the deployment's maximum of %s", maxLifetime)
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(Leeway)):
		return Identity{}, invalid("not valid yet")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(Leeway)):
		return Identity{}, invalid("issued in the future")
	case c.Subject == "":
		return Identity{}, invalid("sub is required")
	}
	return Identity{Issuer: c.Issuer, Subject: c.Subject, Expiry: c.Expiry.Time()}, nil
}

// Accepts reports whether the verified token matches c in full: issuer,
// one audience that is c's, subject, and every claim condition; the
// reason is for logs.
func (t *Token) Accepts(c Credential) (bool, string) {
	switch {
	case c.Type != TypeOIDC || c.Issuer != t.claims.Issuer:
		return false, "issuer"
	// One audience, ours: a token meant also for another service could be
	// replayed by that service.
	case len(t.claims.Audience) != 1 || t.claims.Audience[0] != c.Audience:
		return false, "audience"
	case !MatchSubject(c.Subject, t.claims.Subject):
		return false, "subject"
	}
	for name, want := range c.Claims {
		if !claimEquals(t.all[name], want) {
			return false, "claim " + strconv.Quote(name)
		}
	}
	return true, ""
}

// claimEquals reports whether a claim's JSON value is want: a string equal
// to it, or a number or boolean written as it.
func claimEquals(raw json.RawMessage, want string) bool {
	if len(raw) == 0 {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == want
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v.(type) {
	case float64, bool:
		return string(raw) == want
	}
	return false
}

// InlineKeys returns a credential's inline key set, if it has one.
func (c Credential) InlineKeys() ([]jose.JSONWebKey, bool) {
	if len(c.JWKS) == 0 {
		return nil, false
	}
	var set jose.JSONWebKeySet
	if json.Unmarshal(c.JWKS, &set) != nil {
		return nil, true
	}
	return set.Keys, true
}
