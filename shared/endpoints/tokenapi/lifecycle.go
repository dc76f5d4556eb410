package tokenapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// ActionIntrospect is what a client must hold on / of a tenant to
// introspect its tokens.
const ActionIntrospect = "iam.token.introspect"

// introspection is the RFC 7662 §2.2 response; only active is present for
// an inactive token.
type introspection struct {
	Active    bool            `json:"active"`
	Scope     string          `json:"scope,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	TokenType string          `json:"token_type,omitempty"`
	Exp       int64           `json:"exp,omitempty"`
	Iat       int64           `json:"iat,omitempty"`
	Nbf       int64           `json:"nbf,omitempty"`
	Sub       string          `json:"sub,omitempty"`
	Aud       token.Audiences `json:"aud,omitempty"`
	Iss       string          `json:"iss,omitempty"`
	Jti       string          `json:"jti,omitempty"`
	Tid       string          `json:"tid,omitempty"`
}

// introspection is RFC 7662's endpoint: a client of the tenant that holds
// iam.token.introspect on / learns whether a token is active.
func (s *Service) introspection(r *http.Request, ten string) (*introspection, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	caller, err := s.authenticateClient(r, ten, form, "token.introspect")
	if err != nil {
		return nil, err
	}
	g, err := s.Credentials.Grants(r.Context(), ten, caller.SubjectID())
	if err != nil && !errors.Is(err, store.ErrSubjectNotFound) {
		return nil, err
	}
	if len(policy.Evaluate(s.Catalogs.Builtin().Actions, g, ActionIntrospect, resource.Root)) == 0 {
		return nil, &httpapi.OAuthError{Code: "access_denied", Status: http.StatusForbidden,
			Description: "The client may not introspect tokens: it needs " + ActionIntrospect + " on /."}
	}
	c, live, err := s.liveToken(r, ten, form.Get("token"))
	if err != nil {
		return nil, err
	}
	if !live {
		return &introspection{}, nil // {"active": false}
	}
	return &introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer", Exp: c.Expiry,
		Iat: c.IssuedAt, Nbf: c.NotBefore, Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, Jti: c.ID, Tid: c.Tenant}, nil
}

// liveToken reports whether raw is an access token of tenant ten that is
// valid now: signed by a published key, within its lifetime, of a client
// that exists, and not revoked.
func (s *Service) liveToken(r *http.Request, ten, raw string) (token.Claims, bool, error) {
	if raw == "" {
		return token.Claims{}, false, httpapi.InvalidRequest("token is required.")
	}
	c, err := s.Verifier.Check(r.Context(), raw, s.IssuerBase(r))
	if errors.Is(err, token.ErrInvalid) || err == nil && c.Tenant != ten {
		return token.Claims{}, false, nil
	}
	if err != nil {
		return token.Claims{}, false, err
	}
	live, err := s.notRevoked(r.Context(), ten, c.ClientID, c.ID, time.Unix(c.IssuedAt, 0))
	return c, live, err
}

// notRevoked reports whether the token jti, issued at iat to clientID of
// tenant ten, still counts: the client exists, its kill switch was not
// pulled after iat, and the token itself was not revoked.
func (s *Service) notRevoked(ctx context.Context, ten, clientID, jti string, iat time.Time) (bool, error) {
	_, err := access.TokenGrants(ctx, s.Credentials, ten, subject.ID(subject.Client, clientID), &access.TokenRef{ClientID: clientID, ID: jti, IssuedAt: iat})
	if errors.Is(err, store.ErrSubjectNotFound) || errors.Is(err, access.ErrRevoked) {
		return false, nil
	}
	return err == nil, err
}

// revocation is RFC 7009's endpoint: a client revokes one of its own
// tokens. A token that is unknown, expired, of another client or another
// tenant is answered 200 as well, and nothing changes. A client that has
// revoked store.MaxRevocations tokens in the current span gets 503 with
// Retry-After until the span ends (RFC 7009 §2.2.1: the token is still
// valid); its kill switch still revokes them all.
func (s *Service) revocation(r *http.Request, ten string) (*struct{}, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	caller, err := s.authenticateClient(r, ten, form, "token.revoke")
	if err != nil {
		return nil, err
	}
	c, live, err := s.liveToken(r, ten, form.Get("token"))
	if err != nil || !live || c.ClientID != caller.ID {
		return nil, err
	}
	audit.Note(r.Context(), "token.revoke", c.ID)
	now := s.Now()
	err = s.Credentials.RevokeToken(r.Context(), ten, caller.ID, c.ID, time.Unix(c.Expiry, 0),
		store.RevocationLimit{Max: store.MaxRevocations, Span: s.revocationSpan(), Now: now})
	var limit *store.LimitError
	if errors.As(err, &limit) {
		seconds := int(math.Ceil(limit.Until.Sub(now).Seconds()))
		return nil, &httpapi.OAuthError{Code: httpapi.CodeTemporarilyUnavailable, Status: http.StatusServiceUnavailable,
			Description: "The client revoked too many tokens one by one for now; retry later, or revoke all its tokens at once.",
			Header:      http.Header{"Retry-After": {strconv.Itoa(max(1, seconds))}}}
	}
	return nil, err
}

// revocationSpan is the span MaxRevocations counts over: a token's
// longest life and the ten minutes its revocation is kept past it, so that
// a span's revoked tokens are gone by the end of the next.
func (s *Service) revocationSpan() time.Duration {
	return max(s.MaxLifetime, s.Minter.Lifetime) + 10*time.Minute
}
