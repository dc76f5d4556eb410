// Package client holds the domain model of an OAuth client (a machine
// identity): its fields, the rules a create or replace request must follow,
// and the subject id under which IAM knows it. It has no wire or storage
// form; those live with the API and the store.
package client

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/claim"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

// Grant types a client may be allowed.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
)

// Limits on the fields of a client.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 1000
	MaxRedirectURIs      = 20
	MaxRedirectURILength = 2000
	MaxAudiences         = 20
	MaxTokenClaims       = 10
	MaxClaimValueLength  = 256
	MinTokenLifetime     = time.Minute
)

// Client is a registered machine identity of one tenant: what a caller set
// (Spec) and what the server keeps beside it.
type Client struct {
	Tenant string
	ID     string
	Spec
	// TokensRevokedAt is when the kill switch last revoked every token
	// it held; zero for never.
	TokensRevokedAt time.Time
	// Provenance is how the client came to be; written once, at creation.
	Provenance provenance.Record
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version counts writes; it is the client's ETag and the guard of
	// conditional updates.
	Version int64
}

// SubjectID is the client's IAM subject id.
func (c Client) SubjectID() string { return subject.ID(subject.Client, c.ID) }

// AllowsGrant reports whether the client may use grant type g.
func (c Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// Spec is what a caller sets on create and replace: the Aritma fields,
// all required, and the optional token settings.
type Spec struct {
	Name          string
	Description   string
	GrantTypes    []string
	Scopes        []string
	RedirectURIs  []string
	Audiences     []string
	TokenLifetime time.Duration
	TokenClaims   map[string]string
}

// claimName is compiled on first use: its bounded repetition makes a large
// program, and only writes of custom claims need it.
var claimName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:-]{0,63}$`) })

// Validate checks s against the API's rules (docs/openapi.yaml) and returns, per JSON field
// name, what is wrong; nil means valid. maxLifetime is the deployment's
// longest token lifetime.
func (s Spec) Validate(scopes *oauthscope.Catalog, maxLifetime time.Duration) map[string][]string {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }

	checkText(add, "name", s.Name, MaxNameLength)
	if strings.ContainsFunc(s.Name, unicode.IsControl) {
		// A name is one line wherever it is shown (a plan, a table).
		add("name", "must not contain line breaks or tabs")
	}
	checkText(add, "description", s.Description, MaxDescriptionLength)

	if len(s.GrantTypes) == 0 {
		add("allowedGrantTypes", "must name at least one grant type")
	}
	for i, g := range s.GrantTypes {
		if g != GrantClientCredentials && g != GrantAuthorizationCode {
			add("allowedGrantTypes", fmt.Sprintf("[%d] must be %q or %q", i, GrantClientCredentials, GrantAuthorizationCode))
		} else if slices.Index(s.GrantTypes, g) != i {
			add("allowedGrantTypes", fmt.Sprintf("[%d] %q is listed twice", i, g))
		}
	}

	for i, sc := range s.Scopes {
		if !scopes.Has(sc) {
			add("allowedScopes", fmt.Sprintf("[%d] %q is not a scope of this deployment", i, sc))
		} else if slices.Index(s.Scopes, sc) != i {
			add("allowedScopes", fmt.Sprintf("[%d] %q is listed twice", i, sc))
		}
	}

	if len(s.RedirectURIs) > MaxRedirectURIs {
		add("redirectUris", fmt.Sprintf("must hold at most %d URIs", MaxRedirectURIs))
	}
	for i, u := range s.RedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			add("redirectUris", fmt.Sprintf("[%d] %s", i, msg))
		} else if slices.Index(s.RedirectURIs, u) != i {
			add("redirectUris", fmt.Sprintf("[%d] is listed twice", i))
		}
	}
	if slices.Contains(s.GrantTypes, GrantAuthorizationCode) && len(s.RedirectURIs) == 0 {
		add("redirectUris", "must not be empty when authorization_code is allowed")
	}

	s.validateTokenSettings(add, maxLifetime)

	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateTokenSettings checks what s adds to its tokens: audiences, the
// lifetime and claims, each bounded so that every token fits a header.
func (s Spec) validateTokenSettings(add func(string, string), maxLifetime time.Duration) {
	if len(s.Audiences) > MaxAudiences {
		add("allowedAudiences", fmt.Sprintf("must hold at most %d URIs", MaxAudiences))
	}
	for i, a := range s.Audiences {
		if msg := CheckResource(a); msg != "" {
			add("allowedAudiences", fmt.Sprintf("[%d] %s", i, msg))
		} else if slices.Index(s.Audiences, a) != i {
			add("allowedAudiences", fmt.Sprintf("[%d] is listed twice", i))
		}
	}
	if n := audiencesSize(s.Audiences); n > MaxAudiencesSize {
		add("allowedAudiences", fmt.Sprintf("must total at most %d bytes (these total %d)", MaxAudiencesSize, n))
	}
	if s.TokenLifetime != 0 && (s.TokenLifetime < MinTokenLifetime || s.TokenLifetime > maxLifetime) {
		add("accessTokenLifetime", fmt.Sprintf("must be from %d to %d seconds", int(MinTokenLifetime.Seconds()), int(maxLifetime.Seconds())))
	}
	if len(s.TokenClaims) > MaxTokenClaims {
		add("tokenClaims", fmt.Sprintf("must hold at most %d claims", MaxTokenClaims))
	}
	for _, name := range slices.Sorted(maps.Keys(s.TokenClaims)) {
		switch v := s.TokenClaims[name]; {
		case !claimName().MatchString(name):
			add("tokenClaims", fmt.Sprintf("%q is not a claim name (a letter, then up to 63 letters, digits, _ . : -)", name))
		case claim.Reserved(name):
			add("tokenClaims", fmt.Sprintf("%q is a registered or protocol claim, which the service sets itself", name))
		case utf8.RuneCountInString(v) > MaxClaimValueLength || strings.ContainsFunc(v, unicode.IsControl):
			add("tokenClaims", fmt.Sprintf("%q must be at most %d characters, without control characters", name, MaxClaimValueLength))
		}
	}
	if n := claimsSize(s.TokenClaims); n > MaxTokenClaimsSize {
		add("tokenClaims", fmt.Sprintf("names and values must total at most %d bytes (these total %d)", MaxTokenClaimsSize, n))
	}
}

func checkText(add func(string, string), field, v string, max int) {
	switch n := utf8.RuneCountInString(v); {
	case strings.TrimSpace(v) == "":
		add(field, "must not be empty")
	case n > max:
		add(field, fmt.Sprintf("must be at most %d characters", max))
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }) {
		add(field, "must not contain control characters")
	}
}

// CheckResource applies RFC 8707 §2 to a resource (audience) URI: absolute,
// without a fragment, and, as the RFC advises, without a query. It returns
// what is wrong, or "".
func CheckResource(raw string) string {
	if len(raw) > MaxRedirectURILength {
		return fmt.Sprintf("must be at most %d characters", MaxRedirectURILength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" && u.Opaque == "":
		return "must be an absolute URI"
	case checkPort(u) != "":
		return checkPort(u)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	case u.RawQuery != "" || strings.Contains(raw, "?"):
		return "must not have a query"
	}
	return ""
}

// checkRedirectURI applies RFC 6749 §3.1.2 (absolute, no fragment) and the
// product rule: https everywhere, plain http only for a loopback host name.
func checkRedirectURI(raw string) string {
	if len(raw) > MaxRedirectURILength {
		return fmt.Sprintf("must be at most %d characters", MaxRedirectURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "must be an absolute URI"
	}
	if msg := checkPort(u); msg != "" {
		return msg
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && u.Hostname() == "localhost":
		return ""
	default:
		return "must use https (plain http only for localhost)"
	}
}

// checkPort refuses the ports url.Parse lets through: it checks only that
// a port is digits, so http://localhost:999999 parses. A port, when the URI
// has one, must be 1-65535 written plainly; an empty one ("host:") or
// leading zeros would let one endpoint be registered under several
// spellings, which exact matching then tells apart.
func checkPort(u *url.URL) string {
	const msg = "must have a port from 1 to 65535 (without leading zeros), or none"
	p := u.Port()
	if p == "" {
		if strings.HasSuffix(u.Host, ":") {
			return msg
		}
		return ""
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '0' {
		return msg
	}
	return ""
}

// Bounds on what a client adds to every token: gateways, and this service's
// own guard, refuse bearer tokens past 8 KiB. TestLargestTokenFitsInAHeader
// (shared/endpoints/tokenapi) mints the largest token they allow. Sizes are counted
// as the token's JSON carries them (jsonSize).
const (
	MaxTokenClaimsSize = 2048 // bytes of all tokenClaims names and values
	MaxAudiencesSize   = 2048 // bytes of all allowedAudiences
)

// jsonSize is the bytes s takes inside a JSON string of the token: its
// UTF-8, with each character encoding/json escapes (", \, <, >, &, U+2028,
// U+2029) counted as its escape, since that is what the token carries.
func jsonSize(s string) int {
	b, _ := json.Marshal(s)
	return len(b) - 2
}

func claimsSize(claims map[string]string) int {
	n := 0
	for k, v := range claims {
		n += jsonSize(k) + jsonSize(v)
	}
	return n
}

func audiencesSize(audiences []string) int {
	n := 0
	for _, a := range audiences {
		n += jsonSize(a)
	}
	return n
}
