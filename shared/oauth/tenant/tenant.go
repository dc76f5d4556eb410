// Package tenant holds the rules for tenant names and the issuer URL each
// tenant's tokens carry.
package tenant

import (
	"slices"
	"strings"
)

// Default is the tenant of requests whose path names none. It exists in every
// deployment.
const Default = "default"

// Valid reports whether name is a tenant slug: 1–63 of a-z, 0-9 and '-'.
// A loop, not a regular expression: every request checks one, and
// `[a-z0-9-]{1,63}` costs most of a millisecond to compile at start-up.
func Valid(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MaxBaseURLLength bounds the base URL issuers are formed from: ISSUER_URL,
// or https:// and the request's host name (a DNS name, at most 253
// characters). Every token carries its issuer, and tokens must stay small
// enough for a request header.
const MaxBaseURLLength = 300

// ReservedWords are the path words of the service: first path segments of
// its routes (v1, connect, .well-known), of its management audience
// (resources) and of what it may serve later (apis, openapi.yaml). A tenant's
// issuer is <base>/<tenant>, so a tenant with one of these names would have an
// issuer or endpoints that are the service's own paths. Those that are not
// slugs anyway are listed for completeness.
var ReservedWords = []string{".well-known", "apis", "connect", "openapi.yaml", "resources", "v1"}

// Reserved reports whether name is one of ReservedWords: no tenant may be
// called so.
func Reserved(name string) bool { return slices.Contains(ReservedWords, name) }

// TokenEndpoint is the token endpoint of the issuer iss.
func TokenEndpoint(iss string) string { return iss + "/connect/token" }

// Issuer returns the issuer URL of tenant under base (an absolute URL with no
// trailing slash). The default tenant's issuer is base itself, so that the
// tenant-less endpoints (/connect/token, /.well-known/openid-configuration)
// form a complete OIDC issuer; every other tenant's is base/<tenant>, where
// its discovery document lives.
func Issuer(base, name string) string {
	base = strings.TrimSuffix(base, "/")
	if name == Default {
		return base
	}
	return base + "/" + name
}
