// Package token mints and verifies the service's access tokens: RFC 9068
// JWTs ("at+jwt") signed by a signer.Signer, and verified against a
// signer.KeySet with go-jose, which checks the signature and restricts the
// algorithms to those the service issues.
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/machine-iam/machine-iam/shared/oauth/claim"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

// Type is the JWT typ of access tokens (RFC 9068 §2.1).
const Type = "at+jwt"

// DefaultLifetime is how long a token lives unless configured otherwise.
const DefaultLifetime = time.Hour

// Claims are the claims of an access token (RFC 9068 §2.2 plus tid), and
// a client's own string claims (Extra), which never replace these.
type Claims struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  Audiences         `json:"aud"`
	ClientID  string            `json:"client_id"`
	Scope     string            `json:"scope"`
	Tenant    string            `json:"tid"`
	IssuedAt  int64             `json:"iat"`
	NotBefore int64             `json:"nbf"`
	Expiry    int64             `json:"exp"`
	ID        string            `json:"jti"`
	External  *External         `json:"ext,omitempty"`
	Extra     map[string]string `json:"-"`
}

// External names the outside identity a client authenticated with through
// a federated credential (the ext claim): the issuer and subject of the
// OIDC token it presented, or for AWS the STS endpoint and the caller's
// ARN. Resource servers log it to know who really called; what the token
// may do is still the client's (sub), not the external identity's.
type External struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
}

// key is e in a token reuse key: a token minted for one external identity
// is never handed to another.
func (e *External) key() string {
	if e == nil {
		return ""
	}
	return e.Issuer + "\x02" + e.Subject
}

// Audiences is the aud claim: one string for one audience, as most
// resource servers expect (RFC 7519 §4.1.3 allows both), an array for more.
type Audiences []string

// MarshalJSON implements json.Marshaler.
func (a Audiences) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *Audiences) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = Audiences{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// reserved are the claims a client's own claims may not name: JWT's
// registered claims (RFC 7519 §4.1), RFC 9068's, the protocol claims of
// RFC 7800 and RFC 8693, the scope claims resource servers read besides
// scope (scp, which API Gateway's JWT authorizers honour, scopes,
// permissions), and this service's tid.
// Reserved reports whether name is a claim this service sets or a protocol
// defines, which a client's own claims may not name (package claim).
func Reserved(name string) bool { return claim.Reserved(name) }

// payload is the JSON of c: the registered claims, then Extra's (any
// reserved name among them left out).
func (c Claims) payload() ([]byte, error) {
	base, err := json.Marshal(c)
	if err != nil || len(c.Extra) == 0 {
		return base, err
	}
	own := make(map[string]string, len(c.Extra))
	for k, v := range c.Extra {
		if !Reserved(k) {
			own[k] = v
		}
	}
	if len(own) == 0 {
		return base, nil
	}
	extra, err := json.Marshal(own)
	if err != nil {
		return nil, err
	}
	return append(append(base[:len(base)-1], ','), extra[1:]...), nil
}

// Scopes splits the scope claim.
func (c Claims) Scopes() []string { return strings.Fields(c.Scope) }

// Audience is the aud of every token an issuer mints: one static audience per
// issuer, as Duende IdentityServer emits with EmitStaticAudienceClaim.
func Audience(issuer string) string { return issuer + "/resources" }

// Minter mints access tokens.
type Minter struct {
	Signer   signer.Signer
	Lifetime time.Duration
	Now      func() time.Time
}

// Grant says who a token is for and what it may reach.
type Grant struct {
	Issuer   string
	Tenant   string
	Subject  string
	ClientID string
	Scopes   []string
	// Audiences are the aud values; none means Audience(Issuer).
	Audiences []string
	// Lifetime, when not 0, replaces the Minter's.
	Lifetime time.Duration
	// Claims are the client's own claims, added to the token.
	Claims map[string]string
	// External, when set, is the outside identity the client
	// authenticated with (the ext claim).
	External *External
}

// Mint returns a signed token for g and its claims. The only remote call is
// the signature.
func (m *Minter) Mint(ctx context.Context, g Grant) (string, Claims, error) {
	key, err := m.Signer.Key(ctx)
	if err != nil {
		return "", Claims{}, err
	}
	now := m.Now().Truncate(time.Second)
	aud, lifetime := Audiences(g.Audiences), m.Lifetime
	if len(aud) == 0 {
		aud = Audiences{Audience(g.Issuer)}
	}
	if g.Lifetime != 0 {
		lifetime = g.Lifetime
	}
	c := Claims{
		Issuer: g.Issuer, Subject: g.Subject, Audience: aud, ClientID: g.ClientID,
		Scope: strings.Join(g.Scopes, " "), Tenant: g.Tenant,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(lifetime).Unix(), ID: newJTI(),
		Extra: g.Claims, External: g.External,
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{key.Algorithm, key.ID, Type})
	if err != nil {
		return "", Claims{}, err
	}
	payload, err := c.payload()
	if err != nil {
		return "", Claims{}, err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := m.Signer.Sign(ctx, key, digest[:])
	if err != nil {
		return "", Claims{}, err
	}
	return input + "." + enc.EncodeToString(sig), c, nil
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrInvalid is wrapped by every rejection of Verify. The wrapping text says
// why, for logs; callers get only "invalid token".
var ErrInvalid = errors.New("invalid token")

// DefaultLeeway is the clock skew tolerated on exp and nbf.
const DefaultLeeway = 60 * time.Second

// Verifier checks bearer tokens offline against the published keys.
type Verifier struct {
	Keys   signer.KeySet
	Leeway time.Duration
	Now    func() time.Time
}

var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// Verify returns the claims of raw if it is an access token of this service:
// signed by a published key with that key's algorithm, typ at+jwt, a valid
// tid whose issuer under issuerBase equals iss, this service's own audience
// among aud, and within its lifetime.
// Scope checks are the caller's.
func (v *Verifier) Verify(ctx context.Context, raw, issuerBase string) (Claims, error) {
	c, err := v.Check(ctx, raw, issuerBase)
	if err != nil {
		return Claims{}, err
	}
	// A token minted for other resource servers (RFC 8707) is not one for
	// this service's own API.
	if !slices.Contains(c.Audience, Audience(c.Issuer)) {
		return Claims{}, &AudienceError{Audiences: c.Audience, Want: Audience(c.Issuer)}
	}
	return c, nil
}

// AudienceError is Verify's refusal of a genuine token minted for other
// audiences (RFC 8707 resources): the one refusal whose reason may be told,
// since the caller holds a valid token, and the commonest surprise once a
// client has allowedAudiences. It is an ErrInvalid.
type AudienceError struct {
	Audiences []string
	Want      string
}

func (e *AudienceError) Error() string {
	return "invalid token: audience " + strings.Join(e.Audiences, " ") + " is not " + e.Want
}
func (e *AudienceError) Unwrap() error { return ErrInvalid }

// Check is Verify for a token of any audience: what introspection and
// revocation accept.
func (v *Verifier) Check(ctx context.Context, raw, issuerBase string) (Claims, error) {
	tok, err := jwt.ParseSigned(raw, algorithms)
	if err != nil {
		return Claims{}, invalid("not a compact JWS with an accepted algorithm")
	}
	if len(tok.Headers) != 1 {
		return Claims{}, invalid("expected exactly one signature")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return Claims{}, invalid("typ is not at+jwt")
	}
	key, err := v.key(ctx, h.KeyID)
	if err != nil {
		return Claims{}, err
	}
	if key == nil {
		return Claims{}, invalid("unknown kid")
	}
	if h.Algorithm != key.Algorithm {
		return Claims{}, invalid("alg does not match the key")
	}
	var c Claims
	if err := tok.Claims(key.Public, &c); err != nil {
		return Claims{}, invalid("bad signature or claims")
	}
	if !tenant.Valid(c.Tenant) || c.Issuer != tenant.Issuer(issuerBase, c.Tenant) {
		return Claims{}, invalid("issuer does not match the tenant")
	}
	now := v.Now()
	if c.Expiry == 0 || !now.Before(time.Unix(c.Expiry, 0).Add(v.Leeway)) {
		return Claims{}, invalid("expired")
	}
	if time.Unix(c.NotBefore, 0).After(now.Add(v.Leeway)) {
		return Claims{}, invalid("not yet valid")
	}
	if c.Subject == "" || c.ClientID == "" {
		return Claims{}, invalid("sub and client_id are required")
	}
	return c, nil
}

// RFC 9068 §4: typ is at+jwt or application/at+jwt, compared
// case-insensitively.
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == Type || typ == "application/"+Type
}

func invalid(why string) error { return &invalidError{why} }

type invalidError struct{ why string }

func (e *invalidError) Error() string { return "invalid token: " + e.why }
func (e *invalidError) Unwrap() error { return ErrInvalid }

// key finds the published key kid names; a key set that can change is
// asked to refresh once when kid is not among its keys (a rotation it has
// not seen yet).
func (v *Verifier) key(ctx context.Context, kid string) (*signer.Key, error) {
	for attempt := 0; ; attempt++ {
		keys, err := v.Keys.Keys(ctx)
		if err != nil {
			return nil, err
		}
		for i := range keys {
			if keys[i].ID == kid {
				return &keys[i], nil
			}
		}
		r, ok := v.Keys.(signer.Refresher)
		if !ok || attempt == 1 {
			return nil, nil
		}
		r.Refresh(ctx)
	}
}
