// Package access decides who may call the management API and what a call
// may confer. The Guard accepts a request only with a bearer access token of
// this service, for the tenant it names, holding the services.iam scope
// (authentication), then asks an Authorizer whether the token's subject may
// perform the route's action on the route's resource scope, and whether it
// holds what a change confers (authorization, the no-escalation rule).
// Policies is the Authorizer that decides with IAM policies.
package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// Principal is the authenticated caller of a management request.
type Principal struct {
	Tenant   string
	Subject  string
	ClientID string
	Scopes   []string
	// TokenID and IssuedAt identify the token, for revocation.
	TokenID  string
	IssuedAt time.Time
	// ManagementAudience is the audience of the tenant's management API,
	// which a client that names no audience gets (policy.DefaultAudience).
	ManagementAudience string
}

type principalKey struct{}

// PrincipalFrom returns the caller Guard.Require authenticated.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// TenantOf is the tenant of r's caller: every handler reads and writes in
// it alone.
func TenantOf(r *http.Request) string { return PrincipalFrom(r.Context()).Tenant }

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// ErrForbidden is what an Authorizer returns to deny.
var ErrForbidden = errors.New("forbidden")

// ErrRevoked is what an Authorizer returns for a token that was revoked
// (RFC 7009) or whose client's tokens were all revoked (the kill switch).
var ErrRevoked = errors.New("token revoked")

// Authorizer decides what callers may do. Authorize decides whether p may
// perform action on the resource scope: nil to allow, ErrForbidden to deny,
// or another error when it could not decide. Holdings returns everything a
// subject holds (nothing for one that does not exist), and Lacks what p does
// not hold of conferred: the no-escalation rule of api.md.
type Authorizer interface {
	Authorize(ctx context.Context, p Principal, action, scope string) error
	Holdings(ctx context.Context, tenant, subjectID string) (policy.Grants, error)
	HoldingsWith(ctx context.Context, tenant, subjectID string, rights ...policy.TokenRights) ([]policy.Grants, error)
	Lacks(ctx context.Context, p Principal, conferred ...policy.Grants) ([]string, error)
	// AuthorizeAll is Authorize for several checks at once: whether each
	// is allowed, or ErrRevoked, or the failure that kept it from deciding.
	AuthorizeAll(ctx context.Context, p Principal, checks []Check) ([]bool, error)
}

// Guard authenticates and authorizes management requests.
type Guard struct {
	Verifier   *token.Verifier
	IssuerBase func(*http.Request) string
	Authorizer Authorizer
}

// Require wraps next so it runs only for a caller allowed action on the
// resource scope that scope computes from the request.
func (g *Guard) Require(action string, scope func(*http.Request) string, next httpapi.HandlerFunc) http.Handler {
	authenticated := g.Authenticate(httpapi.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := g.Allow(r.Context(), action, scope(r)); err != nil {
			return err
		}
		return next(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.Note(r.Context(), action, scope(r))
		authenticated.ServeHTTP(w, r)
	})
}

// Authenticate wraps next so it runs only for a caller with a valid token;
// next must call Allow itself. Routes whose scope comes from the request
// body (policies) use it.
func (g *Guard) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.authenticate(r)
		if err != nil {
			httpapi.WriteProblem(w, r, err)
			return
		}
		audit.NoteCaller(r.Context(), p.Tenant, p.Subject)
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Allow returns nil when the authenticated caller in ctx may perform
// action on scope, a 403 problem when not, or the failure that kept the
// Authorizer from deciding.
func (g *Guard) Allow(ctx context.Context, action, scope string) error {
	err := g.Authorizer.Authorize(ctx, PrincipalFrom(ctx), action, scope)
	if errors.Is(err, ErrRevoked) {
		return httpapi.Unauthorized("The access token was revoked.")
	}
	if errors.Is(err, ErrForbidden) {
		return httpapi.Forbidden("The caller is not allowed " + action + " on " + scope + ".")
	}
	return err
}

// AllowAll is Allow for every one of checks: nil when all are allowed, else
// a 403 problem naming the first that is not.
func (g *Guard) AllowAll(ctx context.Context, checks []Check) error {
	ok, err := g.Authorizer.AuthorizeAll(ctx, PrincipalFrom(ctx), checks)
	if errors.Is(err, ErrRevoked) {
		return httpapi.Unauthorized("The access token was revoked.")
	}
	if err != nil {
		return err
	}
	for i, c := range checks {
		if !ok[i] {
			return httpapi.Forbidden("The caller is not allowed " + c.Action + " on " + c.Scope + ".")
		}
	}
	return nil
}

// RequireHolds returns nil when the authenticated caller in ctx holds all
// that each of conferred grants, and otherwise a 403 problem that names
// what it lacks; change says what was attempted, for the detail.
func (g *Guard) RequireHolds(ctx context.Context, change string, conferred ...policy.Grants) error {
	lacking, err := g.Authorizer.Lacks(ctx, PrincipalFrom(ctx), conferred...)
	if err != nil || len(lacking) == 0 {
		return err
	}
	metric.Refused(metric.RuleNoEscalation)
	const shown = 5
	list := strings.Join(lacking[:min(shown, len(lacking))], ", ")
	if len(lacking) > shown {
		list += fmt.Sprintf(" and %d more", len(lacking)-shown)
	}
	return httpapi.Forbidden("The caller cannot " + change + ": that confers or removes what the caller does not hold itself: " + list + ".")
}

// RequireHoldsSubject is RequireHolds for everything subjectID holds: the
// rule for credentials of another client and for deleting one. The caller
// holds what it holds itself, so its own subject passes without a read.
func (g *Guard) RequireHoldsSubject(ctx context.Context, change, subjectID string) error {
	if subjectID == PrincipalFrom(ctx).Subject {
		return nil
	}
	held, err := g.Authorizer.Holdings(ctx, PrincipalFrom(ctx).Tenant, subjectID)
	if err != nil {
		return err
	}
	return g.RequireHolds(ctx, change, held)
}

// RequireMayChange is the one check of a change to the rights-bearing
// fields of subject target, whose holdings go from before to after: the
// caller must hold all of after and, on another subject, all of before too
// (taking rights away from someone takes away what the caller must hold).
// On itself the caller holds before already, so it may only narrow. A
// change that leaves every right as it was needs nothing.
func (g *Guard) RequireMayChange(ctx context.Context, change, target string, before, after policy.Grants) error {
	if before.TokenRights.Equal(after.TokenRights) && slices.Equal(before.All(), after.All()) {
		return nil
	}
	if target == PrincipalFrom(ctx).Subject {
		return g.RequireHolds(ctx, change, after)
	}
	// What before holds and after drops is taken from target, what after
	// adds is conferred on it: the caller must hold both states.
	return g.RequireHolds(ctx, change, before, after)
}

// MaxTokenLength bounds the bearer tokens the guard parses; this service's
// tokens stay under it (the bounds on claims and audiences, shared/oauth/client).
const MaxTokenLength = 8 << 10

func (g *Guard) authenticate(r *http.Request) (Principal, error) {
	auth := r.Header.Get("Authorization")
	if len(auth) > MaxTokenLength {
		return Principal{}, httpapi.Unauthorized("The access token is not valid.")
	}
	scheme, raw, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return Principal{}, httpapi.Unauthorized("A bearer access token is required.")
	}
	claims, err := g.Verifier.Verify(r.Context(), strings.TrimSpace(raw), g.IssuerBase(r))
	if ae := (*token.AudienceError)(nil); errors.As(err, &ae) {
		return Principal{}, httpapi.Unauthorized("The access token is for " + strings.Join(ae.Audiences, ", ") + ", not for this management API (" +
			ae.Want + "): request a token without resource, or with resource=" + ae.Want + " if the client's allowedAudiences list it.")
	}
	if errors.Is(err, token.ErrInvalid) {
		return Principal{}, httpapi.Unauthorized("The access token is not valid.")
	}
	if err != nil {
		return Principal{}, err
	}
	scopes := claims.Scopes()
	if !slices.Contains(scopes, oauthscope.IAM) {
		return Principal{}, httpapi.Unauthorized("The access token lacks the " + oauthscope.IAM + " scope.")
	}
	return Principal{Tenant: claims.Tenant, Subject: claims.Subject, ClientID: claims.ClientID, Scopes: scopes,
		TokenID: claims.ID, IssuedAt: time.Unix(claims.IssuedAt, 0),
		ManagementAudience: token.Audience(tenant.Issuer(g.IssuerBase(r), claims.Tenant))}, nil
}
