// Package claim names the JWT claims this service sets or a protocol
// defines, which a client's own token claims may not name. It stands apart
// from package token, which signs, so that what checks a client's fields
// (package client, and iamctl's plan through it) links no signing code.
package claim

import (
	"slices"
	"strings"
)

var reserved = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "scp", "scopes", "permissions", "tid",
	"auth_time", "acr", "amr", "groups", "roles", "entitlements", "cnf", "act", "may_act", "azp", "nonce", "ext",
	"typ", "at_hash", "c_hash", "sid"}

// Reserved reports whether name is a claim this service sets or a protocol
// defines, whatever its case.
func Reserved(name string) bool { return slices.Contains(reserved, strings.ToLower(name)) }
