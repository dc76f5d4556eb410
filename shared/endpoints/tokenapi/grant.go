package tokenapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func (s *Service) issue(r *http.Request, ten string) (*tokenResponse, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	switch gt := form.Get("grant_type"); {
	case gt == "":
		return nil, httpapi.InvalidRequest("grant_type is required.")
	case gt != client.GrantClientCredentials:
		return nil, &httpapi.OAuthError{Code: httpapi.CodeUnsupportedGrantType,
			Description: "Only client_credentials is supported.", Status: http.StatusBadRequest}
	}
	c, err := s.authenticateClient(r, ten, form, "token.issue")
	if err != nil {
		return nil, err
	}
	realm := tenant.Issuer(s.IssuerBase(r), ten)
	if !c.AllowsGrant(client.GrantClientCredentials) {
		return nil, &httpapi.OAuthError{Code: httpapi.CodeUnauthorizedClient,
			Description: "The client may not use client_credentials.", Status: http.StatusBadRequest}
	}
	scopes, err := s.grantedScopes(r.Context(), c.Client, form)
	if err != nil {
		return nil, err
	}
	audiences, err := grantedAudiences(c.Client, form)
	if err != nil {
		return nil, err
	}
	lifetime := c.TokenLifetime
	if s.MaxLifetime != 0 && lifetime > s.MaxLifetime {
		// The deployment's maximum was lowered after the client was set.
		lifetime = s.MaxLifetime
	}
	grant := token.Grant{Issuer: realm, Tenant: ten, Subject: c.SubjectID(), ClientID: c.ID, Scopes: scopes,
		Audiences: audiences, Lifetime: lifetime, Claims: c.TokenClaims, External: c.external}
	now := s.Now()
	state := c.revocationState()
	if s.Reuse != nil {
		// Only while the client's revocation state is unchanged since it
		// was minted (no revocation, by RFC 7009 or the kill switch, since),
		// and never a token the kill switch covers.
		if raw, claims, ok := s.Reuse.Get(grant, state, now); ok && time.Unix(claims.IssuedAt, 0).After(c.TokensRevokedAt) {
			metric.TokenIssued(c.method)
			return &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - now.Unix(), Scope: claims.Scope}, nil
		}
	}
	raw, claims, err := s.Minter.Mint(r.Context(), grant)
	if err != nil {
		return nil, err
	}
	if s.Reuse != nil {
		s.Reuse.Put(grant, state, raw, claims, now)
	}
	metric.TokenIssued(c.method)
	return &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - claims.IssuedAt, Scope: claims.Scope}, nil
}

// grantedAudiences applies RFC 8707: the requested resources, each of
// which must be an absolute URI the client may ask for; or, when none is
// requested, the client's allowed audiences; or none, for the deployment's
// default (the service's own API).
func grantedAudiences(c client.Client, form url.Values) ([]string, error) {
	requested := form["resource"]
	if len(requested) == 0 {
		return c.Audiences, nil
	}
	invalid := func(msg string) error {
		return &httpapi.OAuthError{Code: httpapi.CodeInvalidTarget, Description: msg, Status: http.StatusBadRequest}
	}
	for i, res := range requested {
		if msg := client.CheckResource(res); msg != "" {
			return nil, invalid("resource " + strconv.Itoa(i+1) + " " + msg + ".")
		}
		if !slices.Contains(c.Audiences, res) {
			return nil, invalid("Resource " + strconv.Itoa(i+1) + " is not one the client may ask for.")
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(requested))), nil
}

// grantedScopes applies RFC 6749 §3.3: the requested scopes, each of which the
// client must be allowed, or all it is allowed when none are requested.
func (s *Service) grantedScopes(ctx context.Context, c client.Client, form url.Values) ([]string, error) {
	invalid := func(msg string) error {
		return &httpapi.OAuthError{Code: httpapi.CodeInvalidScope, Description: msg, Status: http.StatusBadRequest}
	}
	// A scope whose API was removed stays in allowedScopes, inert.
	known, err := s.Catalogs.Scopes(ctx, c.Tenant, c.Scopes...)
	if err != nil {
		return nil, err
	}
	allowed := slices.DeleteFunc(slices.Clone(c.Scopes), func(sc string) bool { return !known.Has(sc) })
	requested, ok := oauthscope.ParseRequest(form.Get("scope"))
	if !ok {
		return nil, invalid("The scope parameter is malformed.")
	}
	if len(requested) == 0 {
		if len(allowed) == 0 {
			return nil, invalid("The client is allowed no scopes.")
		}
		return allowed, nil
	}
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return nil, invalid("The client is not allowed scope " + sc + ".")
		}
	}
	return requested, nil
}
