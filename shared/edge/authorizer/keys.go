package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are what a verified access token says about its caller.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"-"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	Tenant    string   `json:"tid"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	ID        string   `json:"jti"`
}

// HasScope reports whether the token's scope claim holds sc.
func (c Claims) HasScope(sc string) bool { return slices.Contains(strings.Fields(c.Scope), sc) }

// Limits of the key cache.
const (
	// maxKeys bounds the keys kept from one JWKS document: an issuer
	// publishes its current key and those its live tokens were signed with.
	maxKeys = 20
	// keysRefreshEvery is how long a key set is used before it is read
	// again, so a key the issuer withdrew stops verifying.
	keysRefreshEvery = time.Hour
	// unknownKidEvery is the least time between two reads caused by a kid
	// the cache does not know: a stream of forged kids cannot turn into a
	// stream of requests to the issuer.
	unknownKidEvery = 30 * time.Second
	// leeway tolerates clock skew on exp and nbf, as the issuer does.
	leeway = 60 * time.Second
	// maxDocument bounds what is read of a discovery or JWKS document.
	maxDocument = 1 << 20
)

// algorithms are those the service signs access tokens with.
var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// errToken is every refusal of a token; the wrapped text says why, for logs.
var errToken = errors.New("invalid token")

func badToken(why string) error { return fmt.Errorf("%w: %s", errToken, why) }

// keySet is an issuer's public keys, found through its discovery
// document's jwks_uri and cached.
type keySet struct {
	issuer string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   time.Time // last successful read
	attempted time.Time // last read caused by an unknown kid
}

// key returns the signing key kid names.
func (k *keySet) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.fetched.IsZero() || now.Sub(k.fetched) >= keysRefreshEvery {
		if err := k.fetch(ctx); err != nil {
			if k.fetched.IsZero() {
				return nil, err
			}
			// Keep the keys in hand while the issuer is unreachable, and
			// try again after a pause rather than on every request.
			k.fetched = now.Add(-keysRefreshEvery + unknownKidEvery)
		}
	}
	if key := k.find(kid); key != nil {
		return key, nil
	}
	if now.Sub(k.attempted) < unknownKidEvery {
		return nil, badToken("unknown kid")
	}
	k.attempted = now
	if err := k.fetch(ctx); err != nil {
		return nil, err
	}
	if key := k.find(kid); key != nil {
		return key, nil
	}
	return nil, badToken("unknown kid")
}

func (k *keySet) find(kid string) *jose.JSONWebKey {
	for i := range k.keys {
		if k.keys[i].KeyID == kid {
			return &k.keys[i]
		}
	}
	return nil
}

func (k *keySet) fetch(ctx context.Context) error {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, k.client, k.issuer+"/.well-known/openid-configuration", &doc); err != nil {
		return err
	}
	if doc.Issuer != k.issuer || doc.JWKSURI == "" {
		return fmt.Errorf("authorizer: the discovery document of %s names issuer %q and jwks_uri %q", k.issuer, doc.Issuer, doc.JWKSURI)
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, k.client, doc.JWKSURI, &set); err != nil {
		return err
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && (key.Use == "" || key.Use == "sig") && key.KeyID != "" && len(keys) < maxKeys {
			keys = append(keys, key)
		}
	}
	k.keys, k.fetched = keys, k.now()
	return nil
}

// getJSON reads one bounded JSON document.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("authorizer: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("authorizer: GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocument)).Decode(v); err != nil {
		return fmt.Errorf("authorizer: GET %s: %w", url, err)
	}
	return nil
}

// verify checks raw offline, as RFC 9068 §4 asks of a resource server: a
// JWS by one of the issuer's keys with that key's algorithm, typ at+jwt,
// iss exactly the issuer, audience among aud, within its lifetime, with a
// subject and client_id.
func (k *keySet) verify(ctx context.Context, raw, audience string) (Claims, error) {
	tok, err := jwt.ParseSigned(raw, algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return Claims{}, badToken("not a compact JWS with one ES256 or RS256 signature")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return Claims{}, badToken("typ is not at+jwt")
	}
	key, err := k.key(ctx, h.KeyID)
	if err != nil {
		return Claims{}, err
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return Claims{}, badToken("alg does not match the key")
	}
	var c Claims
	var reg jwt.Claims
	if err := tok.Claims(key.Key, &c, &reg); err != nil {
		return Claims{}, badToken("bad signature or claims")
	}
	c.Audience = reg.Audience
	now := k.now()
	switch {
	case c.Issuer != k.issuer:
		return Claims{}, badToken("iss is not the trusted issuer")
	case !slices.Contains(c.Audience, audience):
		return Claims{}, badToken("aud does not hold this API")
	case c.Expiry == 0 || !now.Before(time.Unix(c.Expiry, 0).Add(leeway)):
		return Claims{}, badToken("expired")
	case time.Unix(c.NotBefore, 0).After(now.Add(leeway)):
		return Claims{}, badToken("not yet valid")
	case c.Subject == "" || c.ClientID == "":
		return Claims{}, badToken("sub and client_id are required")
	}
	return c, nil
}
