// Package tenant holds the rules for tenant names and the issuer URL each
// tenant's tokens carry.
package tenant

import (
	"regexp"
	"strings"
)

// Default is the tenant of requests whose path names none. It exists in every
// deployment.
const Default = "default"

var slug = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// Valid reports whether name is a tenant slug: 1–63 of a-z, 0-9 and '-'.
func Valid(name string) bool { return slug.MatchString(name) }

// MaxBaseURLLength bounds the base URL issuers are formed from: ISSUER_URL,
// or https:// and the request's host name (a DNS name, at most 253
// characters). Every token carries its issuer, and tokens must stay small
// enough for a request header.
const MaxBaseURLLength = 300

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
