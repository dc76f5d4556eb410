// Package policy holds IAM policies and their evaluation. A policy grants
// one subject one action (and its descendants) on one resource scope (and
// its descendants). A subject is allowed an action on a scope when one of
// its own policies, or of a group it belongs to, covers both. The package
// has no storage or AWS types: callers hand it the policies.
package policy

import (
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
)

// Policy is one grant. Policies have no id: the triple is the identity.

// MaxPerSubject bounds the policies of one subject (a client, group or
// user): an authorization decision reads them all, and those of each of its
// groups, on every request (one grants item each, docs/performance.md).
const MaxPerSubject = 100

type Policy struct {
	Subject   string
	Action    string
	Scope     string
	CreatedAt time.Time
}

// Triple identifies a policy.
type Triple struct{ Subject, Action, Scope string }

// Triple returns p's identity.
func (p Policy) Triple() Triple { return Triple{p.Subject, p.Action, p.Scope} }

// Grants are what one subject holds: its own policies, those of each group
// it belongs to, and, for a client, the OAuth scopes it may put in a token.
type Grants struct {
	Direct []Policy
	Groups []GroupGrants
	// TokenRights are, for a client, what it may obtain in its tokens.
	TokenRights
	// Revocation says which of the subject's tokens no longer count.
	Revocation Revocation
}

// Revocation is what was revoked of a client's access tokens: every token
// issued up to KilledAt (the kill switch), and single tokens by jti.
type Revocation struct {
	KilledAt time.Time
	JTIs     []string
}

// Revoked reports whether a token with jti issued at iat is revoked. A
// token issued in the very second of the kill switch counts as revoked:
// token times have whole seconds.
func (r Revocation) Revoked(jti string, iat time.Time) bool {
	return !r.KilledAt.IsZero() && !iat.After(r.KilledAt) || slices.Contains(r.JTIs, jti)
}

// GroupGrants are the policies of one group.
type GroupGrants struct {
	GroupID  string
	Policies []Policy
}

// All returns the direct policies, then each group's.
func (g Grants) All() []Policy {
	out := slices.Clone(g.Direct)
	for _, gg := range g.Groups {
		out = append(out, gg.Policies...)
	}
	return out
}

// Evaluate returns the policies in g that allow act on sc, direct ones
// first; none means denied. The request's ancestor actions are computed
// once, so each policy costs a short slice scan and a prefix comparison.
func Evaluate(actions *action.Catalog, g Grants, act, sc string) []Policy {
	granting := actions.Ancestors(act)
	if granting == nil {
		return nil
	}
	var out []Policy
	check := func(ps []Policy) {
		for _, p := range ps {
			if slices.Contains(granting, p.Action) && resource.Covers(p.Scope, sc) {
				out = append(out, p)
			}
		}
	}
	check(g.Direct)
	for _, gg := range g.Groups {
		check(gg.Policies)
	}
	return out
}

// Permission is an (action, scope) pair a subject effectively holds, with
// the policies that grant exactly that pair.
type Permission struct {
	Action    string
	Scope     string
	GrantedBy []Policy
}

// Effective lists the distinct (action, scope) pairs of g, ordered by scope
// and action.
func Effective(g Grants) []Permission {
	index := map[[2]string]int{}
	var out []Permission
	for _, p := range g.All() {
		k := [2]string{p.Action, p.Scope}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Permission{Action: p.Action, Scope: p.Scope})
		}
		out[i].GrantedBy = append(out[i].GrantedBy, p)
	}
	slices.SortFunc(out, func(a, b Permission) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Action, b.Action)
	})
	return out
}

// Sort orders policies by subject, action and scope: the listing order.
func Sort(ps []Policy) {
	slices.SortFunc(ps, func(a, b Policy) int { return Compare(a.Triple(), b.Triple()) })
}

// Compare orders keys by subject, action and scope.
func Compare(a, b Triple) int {
	if c := strings.Compare(a.Subject, b.Subject); c != 0 {
		return c
	}
	if c := strings.Compare(a.Action, b.Action); c != 0 {
		return c
	}
	return strings.Compare(a.Scope, b.Scope)
}

// Lacks returns what holder does not hold of conferred, as readable items:
// "<action> on <scope>" for each policy of conferred that no policy of
// holder covers, then what conferred may obtain in its tokens that holder
// may not in its own ("OAuth scope <s>", "audience <uri>", "token claim
// <name>=<value>", ...; see TokenRights). Both must be resolved
// (TokenRights.Resolve). A holder allowed owner on the tenant root holds
// everything. Policies whose action is not in the catalog are inert
// (retired actions cannot return, see action.Parse) and confer nothing.
// The result is empty when holder holds all of conferred.
func Lacks(actions *action.Catalog, holder, conferred Grants) []string {
	if len(Evaluate(actions, holder, action.Owner, resource.Root)) > 0 {
		return nil
	}
	var out []string
	for _, p := range conferred.All() {
		if !actions.Has(p.Action) || len(Evaluate(actions, holder, p.Action, p.Scope)) > 0 {
			continue
		}
		if item := p.Action + " on " + p.Scope; !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return append(out, holder.TokenRights.lacks(conferred.TokenRights)...)
}
