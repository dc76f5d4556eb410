// Package clientkey holds the public keys clients authenticate with instead
// of secrets (private_key_jwt, RFC 7523): the rules a registered JWK must
// follow, and the verification of a client assertion signed with one.
// Nothing secret is stored: a JWK that carries private parameters is
// refused.
package clientkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// Limits.
const (
	MaxPerClient         = 10
	MaxDescriptionLength = 200
	MaxKidLength         = 200
	MinRSABits           = 2048
	// DefaultMaxAssertionLifetime is how far ahead an assertion's exp may
	// be unless the deployment says otherwise: an hour, what common
	// private_key_jwt clients put there (Python's authlib signs for 3600 s)
	// and what other providers accept.
	DefaultMaxAssertionLifetime = time.Hour
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway = 60 * time.Second
	// AssertionType is RFC 7523's client_assertion_type.
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Algorithms an assertion may be signed with.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// Key is a registered public key: what anyone may know about it.
type Key struct {
	ID          string
	Kid         string
	Alg         string // "" when the JWK named none: any algorithm its type allows
	Description string
	Expiration  *time.Time
	CreatedAt   time.Time
	// LastUsedAt is when the key last authenticated its client, to within
	// store.UseGranularity; nil when it has not since it was created.
	LastUsedAt *time.Time
	// JWK is the public key in JWK form, as registered (private members
	// never get this far).
	JWK json.RawMessage
}

// Fields classifies every field of Key and Spec for the no-escalation rule
// (policy.FieldClass). A key is a credential: it is created and deleted
// whole, under the rule for credentials of another client, and never
// changed.
var Fields = map[string]policy.FieldClass{
	"ID":          policy.ServerSet,
	"Kid":         policy.RightsBearing,
	"Alg":         policy.RightsBearing,
	"Description": policy.Neutral,
	"Expiration":  policy.RightsBearing,
	"CreatedAt":   policy.ServerSet,
	"LastUsedAt":  policy.ServerSet,
	"JWK":         policy.RightsBearing,
}

// ExpiredAt reports whether k no longer authenticates at now.
func (k Key) ExpiredAt(now time.Time) bool {
	return k.Expiration != nil && !now.Before(*k.Expiration)
}

// Spec is a request to register a key.
type Spec struct {
	JWK         json.RawMessage
	Description string
	Expiration  *time.Time
}

// Parse validates s at now and returns the key to store, or, per JSON field
// name, what is wrong: the JWK must be a public RSA key of at least 2048
// bits or a public EC P-256 key, with an alg (if any) that fits it, and
// holds no private member; kid defaults to the RFC 7638 thumbprint.
func (s Spec) Parse(now time.Time) (Key, map[string][]string) {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }
	switch n := utf8.RuneCountInString(s.Description); {
	case strings.TrimSpace(s.Description) == "":
		add("description", "must not be empty")
	case n > MaxDescriptionLength:
		add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	if s.Expiration != nil && !s.Expiration.After(now) {
		add("expiration", "must be in the future")
	}
	k, msg := parseJWK(s.JWK)
	if msg != "" {
		add("jwk", msg)
	}
	if len(errs) > 0 {
		return Key{}, errs
	}
	k.Description, k.Expiration = s.Description, s.Expiration
	return k, nil
}

// private are the JWK members of private keys (RFC 7518 §6.2.2, §6.3.2)
// and of symmetric ones (§6.4).
var private = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

func parseJWK(raw json.RawMessage) (Key, string) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return Key{}, "must be a JSON Web Key object (RFC 7517)"
	}
	for _, m := range private {
		if _, ok := members[m]; ok {
			return Key{}, fmt.Sprintf("holds the private member %q: register the public key only, and treat this private key as leaked", m)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return Key{}, "is not a valid public JWK: " + err.Error()
	}
	if !jwk.IsPublic() || !jwk.Valid() {
		return Key{}, "is not a valid public key"
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return Key{}, `must have "use": "sig" or none`
	}
	var allowed []string
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return Key{}, fmt.Sprintf("is an RSA key of %d bits; at least %d are required", pub.N.BitLen(), MinRSABits)
		}
		allowed = []string{string(jose.RS256), string(jose.PS256)}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return Key{}, "is an EC key on a curve other than P-256"
		}
		allowed = []string{string(jose.ES256)}
	default:
		return Key{}, "must be an RSA or EC P-256 key"
	}
	if jwk.Algorithm != "" && !slices.Contains(allowed, jwk.Algorithm) {
		return Key{}, fmt.Sprintf("has alg %q; this key type signs with %s", jwk.Algorithm, strings.Join(allowed, " or "))
	}
	kid := jwk.KeyID
	if kid == "" {
		tp, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			return Key{}, "cannot be thumbprinted"
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	if len(kid) > MaxKidLength || strings.ContainsFunc(kid, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Key{}, fmt.Sprintf("has a kid that is not up to %d printable characters", MaxKidLength)
	}
	jwk.KeyID = kid
	public, err := jwk.Public().MarshalJSON()
	if err != nil {
		return Key{}, "cannot be stored"
	}
	return Key{Kid: kid, Alg: jwk.Algorithm, JWK: public}, ""
}

// ErrInvalid is wrapped by every rejection of an assertion; the text says
// why, for logs only.
var ErrInvalid = errors.New("invalid client assertion")

func invalid(why string) error { return fmt.Errorf("%w: %s", ErrInvalid, why) }

// Assertion is a parsed, not yet verified, client assertion.
type Assertion struct {
	raw    string
	tok    *jwt.JSONWebToken
	claims jwt.Claims
}

// ParseAssertion reads raw far enough to know whose it says it is: a
// compact JWS with one signature by an allowed algorithm, whose iss equals
// its sub.
func ParseAssertion(raw string) (*Assertion, error) {
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalid("not a compact JWS with one signature by RS256, PS256 or ES256")
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return nil, invalid("claims unreadable")
	}
	if c.Issuer == "" || c.Issuer != c.Subject {
		return nil, invalid("iss and sub must both be the client id")
	}
	return &Assertion{raw: raw, tok: tok, claims: c}, nil
}

// ClientID is the client the assertion says it is from.
func (a *Assertion) ClientID() string { return a.claims.Issuer }

// Verified is what a verified assertion guarantees.
type Verified struct {
	JTI    string
	Expiry time.Time
	// Key is the client's key that verified the signature.
	Key Key
}

// Verify checks a against the client's keys at now, as RFC 7523 §3 and the
// current best practice ask: signed by one of keys that is live (the one
// its kid names, or any when it names none), with an algorithm that key
// allows; aud is this server alone (one of audiences, exactly); exp is
// present, not past, and at most maxLifetime ahead; nbf and iat,
// if present, are not in the future; jti is present. Replay is the
// caller's to refuse (jti until Expiry). With no keys (an unknown client)
// it still verifies one signature, so the work does not tell.
func (a *Assertion) Verify(keys []Key, audiences []string, now time.Time, maxLifetime time.Duration) (Verified, error) {
	h := a.tok.Headers[0]
	var candidates []Key
	for _, k := range keys {
		if !k.ExpiredAt(now) && (h.KeyID == "" || k.Kid == h.KeyID) {
			candidates = append(candidates, k)
		}
	}
	verified := false
	var used Key
	for _, k := range candidates {
		var jwk jose.JSONWebKey
		if jwk.UnmarshalJSON(k.JWK) != nil || (k.Alg != "" && k.Alg != h.Algorithm) || !fits(jwk.Key, h.Algorithm) {
			continue
		}
		var c jwt.Claims
		if a.tok.Claims(jwk.Key, &c) == nil {
			verified, used = true, k
			break
		}
	}
	if len(candidates) == 0 {
		var c jwt.Claims
		_ = a.tok.Claims(decoy(h.Algorithm), &c)
	}
	if !verified {
		return Verified{}, invalid("no live key of the client verifies the signature")
	}
	c := a.claims
	switch {
	// One audience, this server, and nothing else: an assertion meant for
	// several servers could be replayed by any of them.
	case len(c.Audience) != 1 || !slices.Contains(audiences, c.Audience[0]):
		return Verified{}, invalid("aud must be this server's issuer or token endpoint, alone")
	case c.Expiry == nil:
		return Verified{}, invalid("exp is required")
	case !now.Before(c.Expiry.Time().Add(Leeway)):
		return Verified{}, invalid("expired")
	case c.Expiry.Time().After(now.Add(maxLifetime + Leeway)):
		return Verified{}, invalid("exp is too far ahead")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(Leeway)):
		return Verified{}, invalid("not valid yet")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(Leeway)):
		return Verified{}, invalid("issued in the future")
	case c.ID == "" || len(c.ID) > 256:
		return Verified{}, invalid("jti is required, at most 256 characters")
	}
	return Verified{JTI: c.ID, Expiry: c.Expiry.Time().Add(Leeway), Key: used}, nil
}

// fits reports whether alg is one key's type signs with.
func fits(key any, alg string) bool {
	switch key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256) || alg == string(jose.PS256)
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256)
	}
	return false
}

// decoys are fixed public keys (whose private halves nobody kept) an
// unknown client's assertion is checked against, so it costs what a known
// client's does. Parsed on first use, not at every start-up.
var decoys = sync.OnceValue(func() map[string]any {
	parse := func(doc string) any {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON([]byte(doc)); err != nil {
			panic("clientkey: decoy key: " + err.Error())
		}
		return k.Key
	}
	ec := parse(`{"kty":"EC","crv":"P-256","x":"LPFpngR5PVQ3-1fiYqgDoaD6OGH6Hs3HsEDf464Z71w","y":"l3R6Ag5YjpeCsxDqTOy9bSHHldI57HEM6_qK6UYS8Tc"}`)
	rs := parse(`{"kty":"RSA","n":"5LRJd9m8pGj1Wp2eeOv6XmiRcZ7KcEg8cL4BHo0A6RzKS_USi3JunCwBP-DdptvUe40y83ymV5yzxIvyKi-ujFeCKXIeLHRdyAudT2affKGywP0jESTxMyJBer_2NKWqABltPQbdUjsA3kUon8v2haSSKtDTOI303KNtz4H5HaFDaMtLLCIRIyg7BWDQKzdLqLV41DTLT4_LOe0PqkjMJhT9F8h1RBIp0iujmd1bMh3hLihit97-MKkDP-zChNUGlJm_BauvjsPhlcCwQzx_CA5LAc8GpuDOxpdBlwb0Uamk5OVcyTbakyX3YHhze8-UMS_vXH5YMUYDKaHqvBGz5Q","e":"AQAB"}`)
	return map[string]any{"ES256": ec, "RS256": rs, "PS256": rs}
})

func decoy(alg string) any { return decoys()[alg] }
