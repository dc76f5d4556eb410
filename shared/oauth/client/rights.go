package client

import (
	"slices"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

// Fields classifies every field of Client and Spec for the no-escalation
// rule (policy.FieldClass). A field added to either without a line here
// fails the package's tests; a rights-bearing one must also reach
// TokenRights, which the tests check by changing it.
var Fields = map[string]policy.FieldClass{
	"Tenant":          policy.ServerSet,
	"ID":              policy.SetAtCreate,
	"Name":            policy.Neutral,
	"Description":     policy.Neutral,
	"GrantTypes":      policy.RightsBearing,
	"Scopes":          policy.RightsBearing,
	"RedirectURIs":    policy.RightsBearing,
	"Audiences":       policy.RightsBearing,
	"TokenLifetime":   policy.RightsBearing,
	"TokenClaims":     policy.RightsBearing,
	"TokensRevokedAt": policy.ServerSet,
	"Provenance":      policy.ServerSet,
	"CreatedAt":       policy.ServerSet,
	"UpdatedAt":       policy.ServerSet,
	"Version":         policy.ServerSet,
}

// TokenRights are the rights c's fields bear (its policies and groups
// aside), unresolved: see policy.TokenRights.Resolve.
func (c Client) TokenRights() policy.TokenRights { return c.Spec.TokenRights() }

// TokenRights are the rights a client with spec s would bear.
func (s Spec) TokenRights() policy.TokenRights {
	return policy.TokenRights{
		OAuthScopes: slices.Clone(s.Scopes), GrantTypes: slices.Clone(s.GrantTypes), Audiences: slices.Clone(s.Audiences),
		Claims: s.TokenClaims, Lifetime: s.TokenLifetime, RedirectURIs: slices.Clone(s.RedirectURIs),
	}
}

// ReachesManagement reports whether a client with resolved rights t can get
// a token that the management API accepts: one with services.iam, by the
// client_credentials grant, for the management audience.
func ReachesManagement(t policy.TokenRights) bool {
	return slices.Contains(t.OAuthScopes, oauthscope.IAM) && slices.Contains(t.GrantTypes, GrantClientCredentials) &&
		slices.Contains(t.Audiences, policy.DefaultAudience)
}
