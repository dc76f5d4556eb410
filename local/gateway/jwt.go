package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/machine-iam/machine-iam/local/samtemplate"
)

// jwtAuthorizer applies an HTTP API JWT authorizer as API Gateway documents
// it ("Control access to HTTP APIs with JWT authorizers" and "Troubleshooting
// issues with HTTP API JWT authorizers", API Gateway Developer Guide):
//
//   - the token is the Authorization header, with or without "Bearer ";
//   - only RSA-based algorithms; the key is the issuer's jwks_uri key that
//     the header's kid names;
//   - iss must equal the configured issuer exactly;
//   - aud must hold one of the configured audiences, or, only when there is
//     no aud, client_id must be one of them;
//   - exp must be after, and nbf and iat before, the current time;
//   - with route scopes, scope (or scp) must hold at least one of them.
//
// A failure is 401 {"message":"Unauthorized"} with a WWW-Authenticate
// challenge saying why; a valid token lacking the route's scopes is 403
// {"message":"Forbidden"}. The claims reach the function as strings in
// requestContext.authorizer.jwt.claims.
type jwtAuthorizer struct {
	cfg  samtemplate.JWTAuthorizer
	keys *issuerKeys
	now  func() time.Time
}

var rsaAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512}

// authError is a refusal in API Gateway's words.
type authError struct {
	status    int
	challenge string
}

func (e *authError) Error() string { return e.challenge }

func unauthorized(why string) *authError {
	return &authError{http.StatusUnauthorized, `Bearer scope="" error="invalid_token" error_description="` + why + `"`}
}

func (a *jwtAuthorizer) authorize(r *http.Request) (map[string]string, error) {
	raw := strings.TrimSpace(r.Header.Get("Authorization"))
	if raw == "" {
		return nil, &authError{http.StatusUnauthorized, `Bearer`}
	}
	if len(raw) > 7 && strings.EqualFold(raw[:7], "Bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	tok, err := jwt.ParseSigned(raw, rsaAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, unauthorized("the token could not be parsed or is not signed with an RSA algorithm")
	}
	key, err := a.keys.key(r.Context(), tok.Headers[0].KeyID)
	if err != nil {
		return nil, unauthorized("no key of the issuer matches the token's kid")
	}
	var claims map[string]any
	if err := tok.Claims(key, &claims); err != nil {
		return nil, unauthorized("the signature is not valid")
	}
	if iss, _ := claims["iss"].(string); iss != a.cfg.Issuer {
		return nil, unauthorized("the token does not have a valid issuer")
	}
	aud := stringsOf(claims["aud"])
	if _, present := claims["aud"]; !present {
		aud = stringsOf(claims["client_id"])
	}
	if !slices.ContainsFunc(aud, func(v string) bool { return slices.Contains(a.cfg.Audiences, v) }) {
		return nil, unauthorized("the token does not have a valid audience")
	}
	now := a.now().Unix()
	exp, ok := number(claims["exp"])
	if !ok || exp <= now {
		return nil, unauthorized("the token has expired")
	}
	if nbf, ok := number(claims["nbf"]); ok && nbf > now {
		return nil, unauthorized("the token is not valid yet")
	}
	if iat, ok := number(claims["iat"]); ok && iat > now {
		return nil, unauthorized("the token was issued in the future")
	}
	if len(a.cfg.Scopes) > 0 {
		var scopes []string
		for _, sc := range stringsOf(claims["scope"]) {
			scopes = append(scopes, strings.Fields(sc)...)
		}
		scopes = append(scopes, stringsOf(claims["scp"])...)
		if !slices.ContainsFunc(a.cfg.Scopes, func(s string) bool { return slices.Contains(scopes, s) }) {
			return nil, &authError{http.StatusForbidden,
				`Bearer scope="` + strings.Join(a.cfg.Scopes, " ") + `" error="insufficient_scope" error_description="the token does not have the required scope"`}
		}
	}
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out, nil
}

// stringsOf reads a claim that may be a string or an array of strings.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func number(v any) (int64, bool) {
	f, ok := v.(float64)
	return int64(f), ok
}

// claimString renders a claim as API Gateway passes it on: strings as they
// are, numbers in plain notation, arrays as [a b].
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// issuerKeys reads an issuer's public keys the way API Gateway finds them,
// through its OpenID discovery document's jwks_uri, and caches them; an
// unknown kid reads them again, at most every ten seconds.
type issuerKeys struct {
	issuer string
	client *http.Client

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetched time.Time
}

func (k *issuerKeys) key(ctx context.Context, kid string) (any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	find := func() any {
		for _, jwk := range k.set.Key(kid) {
			if jwk.Use == "" || jwk.Use == "sig" {
				return jwk.Key
			}
		}
		return nil
	}
	if key := find(); key != nil && time.Since(k.fetched) < 5*time.Minute {
		return key, nil
	}
	if time.Since(k.fetched) > 10*time.Second {
		if err := k.fetch(ctx); err != nil {
			return nil, err
		}
	}
	if key := find(); key != nil {
		return key, nil
	}
	return nil, errors.New("unknown kid")
}

func (k *issuerKeys) fetch(ctx context.Context) error {
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := k.get(ctx, strings.TrimSuffix(k.issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := k.get(ctx, doc.JWKSURI, &set); err != nil {
		return err
	}
	k.set, k.fetched = set, time.Now()
	return nil
}

func (k *issuerKeys) get(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
