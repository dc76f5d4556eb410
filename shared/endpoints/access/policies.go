package access

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// TokenGrantsReader is the storage a decision needs: the subject's grants
// (with its client's kill switch) and whether the caller's token was
// revoked.
type TokenGrantsReader interface {
	Grants(ctx context.Context, tenant, subjectID string) (policy.Grants, error)
	TokenRevoked(ctx context.Context, tenant, clientID, jti string) (bool, error)
}

// GrantsReader is a TokenGrantsReader that also tells, for the
// no-escalation rule, which clients of other tenants trust a client.
type GrantsReader interface {
	TokenGrantsReader
	TrustedBy(ctx context.Context, tenant, clientID string, audiences []string) ([]string, error)
}

// TokenRef names a token whose revocation TokenGrants checks.
type TokenRef struct {
	ClientID, ID string // ID is the jti
	IssuedAt     time.Time
}

// TokenGrants reads what subjectID holds and, beside it when tok is not
// nil, whether tok still counts: not revoked itself (read only when it has
// a jti), nor by its client's kill switch, which the grants carry. The
// revocation costs one small read and no added latency.
// store.ErrSubjectNotFound when the subject does not exist, ErrRevoked when
// the token no longer counts.
func TokenGrants(ctx context.Context, r TokenGrantsReader, tenant, subjectID string, tok *TokenRef) (policy.Grants, error) {
	var revoked bool
	var revokedErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if tok != nil && tok.ID != "" {
			revoked, revokedErr = r.TokenRevoked(ctx, tenant, tok.ClientID, tok.ID)
		}
	}()
	g, err := r.Grants(ctx, tenant, subjectID)
	<-done
	if errors.Is(err, store.ErrSubjectNotFound) {
		return policy.Grants{}, err
	}
	if err = errors.Join(err, revokedErr); err != nil {
		return policy.Grants{}, err
	}
	if tok != nil && (revoked || g.Revocation.Revoked(tok.ID, tok.IssuedAt)) {
		return policy.Grants{}, ErrRevoked
	}
	return g, nil
}

// Policies is the policy-based Authorizer.
type Policies struct {
	Grants GrantsReader
	// Catalogs hold each tenant's actions: the declared ones and those of
	// its registered APIs.
	Catalogs *Catalogs
	// DefaultLifetime is the deployment's token lifetime, which a client
	// without its own has (policy.TokenRights.Resolve).
	DefaultLifetime time.Duration
}

var _ Authorizer = (*Policies)(nil)

// Authorize implements Authorizer. A caller whose client no longer
// exists is denied, whatever its token says.
func (a *Policies) Authorize(ctx context.Context, p Principal, act, sc string) error {
	// A revoked token stops on the next request.
	g, err := TokenGrants(ctx, a.Grants, p.Tenant, p.Subject, &TokenRef{ClientID: p.ClientID, ID: p.TokenID, IssuedAt: p.IssuedAt})
	if errors.Is(err, store.ErrSubjectNotFound) {
		return ErrForbidden
	}
	if err != nil {
		return err
	}
	actions, err := a.Catalogs.Actions(ctx, p.Tenant, act)
	if err != nil {
		return err
	}
	if len(policy.Evaluate(actions, g, act, sc)) == 0 {
		return ErrForbidden
	}
	return nil
}

// Check is one (action, scope) pair a caller may be allowed.
type Check struct{ Action, Scope string }

// AuthorizeAll implements Authorizer: Authorize for each check, with one
// read of the caller's grants.
func (a *Policies) AuthorizeAll(ctx context.Context, p Principal, checks []Check) ([]bool, error) {
	g, err := TokenGrants(ctx, a.Grants, p.Tenant, p.Subject, &TokenRef{ClientID: p.ClientID, ID: p.TokenID, IssuedAt: p.IssuedAt})
	out := make([]bool, len(checks))
	if errors.Is(err, store.ErrSubjectNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Action
	}
	actions, err := a.Catalogs.Actions(ctx, p.Tenant, names...)
	if err != nil {
		return nil, err
	}
	for i, c := range checks {
		out[i] = len(policy.Evaluate(actions, g, c.Action, c.Scope)) > 0
	}
	return out, nil
}

// Holdings implements Authorizer: the subject's grants, then its groups'
// in one call (store.Policies.Grants). A subject that does not exist holds
// nothing. Trust chains count: a client whose tokens a client of another
// tenant accepts (a federated credential there) can act as that client
// too, and what that one holds is counted, in this tenant, as owner on /;
// so only a tenant owner may give such a client a credential or change its
// rights.
func (a *Policies) Holdings(ctx context.Context, tenant, subjectID string) (policy.Grants, error) {
	g, err := a.holdings(ctx, tenant, subjectID)
	if err != nil {
		return g, err
	}
	return a.withTrust(ctx, tenant, subjectID, g)
}

// HoldingsWith implements Authorizer: Holdings as they would be with each
// of rights as the client's token rights (one read of what it holds),
// trust chains counted for the audiences each names (which a change of
// allowedAudiences may open), also for a client that does not exist yet (a
// chosen clientId may be a deleted client's, which other tenants'
// credentials still trust).
func (a *Policies) HoldingsWith(ctx context.Context, tenant, subjectID string, rights ...policy.TokenRights) ([]policy.Grants, error) {
	g, err := a.holdings(ctx, tenant, subjectID)
	if err != nil {
		return nil, err
	}
	out := make([]policy.Grants, len(rights))
	for i, r := range rights {
		as := g
		as.TokenRights = r
		if out[i], err = a.withTrust(ctx, tenant, subjectID, as); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// withTrust adds to g, a client's holdings, owner on / when a client of
// another tenant trusts it for an audience its token rights name.
func (a *Policies) withTrust(ctx context.Context, tenant, subjectID string, g policy.Grants) (policy.Grants, error) {
	clientID, isClient := strings.CutPrefix(subjectID, subject.ID(subject.Client, ""))
	// The caller itself is what it is: on its own record it may only
	// narrow, which confers nothing on anyone.
	if !isClient || PrincipalFrom(ctx).Subject == subjectID {
		return g, nil
	}
	// A trusting credential accepts tokens for its audience only, which
	// the client gets only when its allowedAudiences name it.
	audiences := slices.DeleteFunc(slices.Clone(g.TokenRights.Audiences), func(a string) bool { return a == policy.DefaultAudience })
	if len(audiences) == 0 {
		return g, nil
	}
	var err error
	if g.TrustedBy, err = a.Grants.TrustedBy(ctx, tenant, clientID, audiences); err != nil || len(g.TrustedBy) == 0 {
		return g, err
	}
	g.Direct = append(slices.Clone(g.Direct), policy.Policy{Subject: subjectID, Action: action.Owner, Scope: "/"})
	return g, nil
}

// holdings is what the subject itself holds, trust chains aside: what a
// caller has to confer.
func (a *Policies) holdings(ctx context.Context, tenant, subjectID string) (policy.Grants, error) {
	g, err := a.Grants.Grants(ctx, tenant, subjectID)
	if errors.Is(err, store.ErrSubjectNotFound) {
		return policy.Grants{}, nil
	}
	return g, err
}

// Lacks implements Authorizer, reading the caller's holdings afresh. The
// token rights of both sides are resolved for the caller's tenant first, so
// that a client naming the management audience holds what one naming none
// does.
func (a *Policies) Lacks(ctx context.Context, p Principal, conferred ...policy.Grants) ([]string, error) {
	held, err := a.holdings(ctx, p.Tenant, p.Subject)
	if err != nil {
		return nil, err
	}
	held.TokenRights = held.Resolve(p.ManagementAudience, a.DefaultLifetime)
	var names []string
	for _, c := range conferred {
		for _, pol := range c.All() {
			names = append(names, pol.Action)
		}
	}
	actions, err := a.Catalogs.Actions(ctx, p.Tenant, names...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range conferred {
		c.TokenRights = c.Resolve(p.ManagementAudience, a.DefaultLifetime)
		for _, l := range policy.Lacks(actions, held, c) {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}
