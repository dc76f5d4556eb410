package access

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// GrantsReader is the storage a decision needs: the subject's grants (with
// its client's kill switch) and whether the caller's token was revoked.
type GrantsReader interface {
	Grants(ctx context.Context, tenant, subjectID string) (policy.Grants, error)
	TokenRevoked(ctx context.Context, tenant, clientID, jti string) (bool, error)
}

// Policies is the policy-based Authorizer.
type Policies struct {
	Grants  GrantsReader
	Actions *action.Catalog
	// DefaultLifetime is the deployment's token lifetime, which a client
	// without its own has (policy.TokenRights.Resolve).
	DefaultLifetime time.Duration
}

var _ Authorizer = (*Policies)(nil)

// Authorize implements Authorizer. A caller whose client no longer
// exists is denied, whatever its token says.
func (a *Policies) Authorize(ctx context.Context, p Principal, act, sc string) error {
	// The token's revocation is read beside the decision's own read (which
	// holds the kill switch), so a revoked token stops on the next request
	// at the cost of one small read and no added latency.
	var revoked bool
	var revokedErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		revoked, revokedErr = a.Grants.TokenRevoked(ctx, p.Tenant, p.ClientID, p.TokenID)
	}()
	g, err := a.Grants.Grants(ctx, p.Tenant, p.Subject)
	<-done
	if errors.Is(err, store.ErrSubjectNotFound) {
		return ErrForbidden
	}
	if err = errors.Join(err, revokedErr); err != nil {
		return err
	}
	if revoked || g.Revocation.Revoked(p.TokenID, p.IssuedAt) {
		return ErrRevoked
	}
	if len(policy.Evaluate(a.Actions, g, act, sc)) == 0 {
		return ErrForbidden
	}
	return nil
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
	// The caller itself is what it is: on its own record it may only
	// narrow, which confers nothing on anyone.
	if err != nil || len(g.TrustedBy) == 0 || PrincipalFrom(ctx).Subject == subjectID {
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
	var out []string
	for _, c := range conferred {
		c.TokenRights = c.Resolve(p.ManagementAudience, a.DefaultLifetime)
		for _, l := range policy.Lacks(a.Actions, held, c) {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}
