package policiesapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/storage/listing"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// Paging of the policy list (cursor envelope).
const (
	defaultPolicyPageSize = 50
	maxPolicyPageSize     = 200
)

// toPolicy is p on the wire.
func toPolicy(tenant string, p policy.Policy) wire.Policy {
	return wire.Policy{Subject: p.Subject, Action: p.Action, Scope: p.Scope, Tenant: tenant,
		CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339)}
}

func toPolicies(tenant string, ps []policy.Policy) []wire.Policy {
	out := make([]wire.Policy, len(ps))
	for i, p := range ps {
		out[i] = toPolicy(tenant, p)
	}
	return out
}

// triple decodes and validates a {subject, action, scope} body, returning
// the normalized key. With inertOK the action may also be one that left the
// catalog (to delete the policies that name it).
func (s *Service) triple(w http.ResponseWriter, r *http.Request, inertOK bool) (policy.Triple, error) {
	var req wire.PolicyRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return policy.Triple{}, err
	}
	f := httpapi.Fields{}
	var k policy.Triple
	if f.Required("subject", req.Subject != nil) {
		if _, _, err := subject.Parse(*req.Subject); err != nil {
			f.Add("subject", err.Error())
		} else {
			k.Subject = *req.Subject
		}
	}
	actions := s.Catalogs.Builtin().Actions
	if req.Action != nil && action.ValidName(*req.Action) {
		var err error
		if actions, err = s.Catalogs.Actions(r.Context(), access.TenantOf(r), *req.Action); err != nil {
			return policy.Triple{}, err
		}
	}
	if f.Required("action", req.Action != nil) {
		if !actions.Has(*req.Action) && !(inertOK && action.ValidName(*req.Action)) {
			f.Add("action", "is not an action of this deployment (see GET /v1/actions)")
		} else {
			k.Action = *req.Action
		}
	}
	if f.Required("scope", req.Scope != nil) {
		if sc, err := resource.Normalize(*req.Scope); err != nil {
			f.Add("scope", err.Error())
		} else {
			k.Scope = sc
		}
	}
	if err := f.Err(); err != nil {
		return policy.Triple{}, err
	}
	return k, nil
}

// mayChange applies the rule that a caller may create or delete a policy
// only with the route's action on the policy's scope and only for an action
// it holds there itself.
func (s *Service) mayChange(r *http.Request, routeAction string, k policy.Triple) error {
	audit.Note(r.Context(), routeAction, k.Subject+" "+k.Action+" "+k.Scope)
	if err := s.Guard.Allow(r.Context(), routeAction, k.Scope); err != nil {
		return err
	}
	actions, err := s.Catalogs.Actions(r.Context(), access.TenantOf(r), k.Action)
	if err != nil {
		return err
	}
	if !actions.Has(k.Action) {
		// An inert policy grants nothing; only an owner of its scope may
		// clear it away.
		if err := s.Guard.Allow(r.Context(), action.Owner, k.Scope); err != nil {
			return httpapi.Forbidden("Only a holder of owner on " + k.Scope + " can delete a policy whose action " + k.Action + " is not in the catalog.")
		}
		return nil
	}
	if err := s.Guard.Allow(r.Context(), k.Action, k.Scope); err != nil {
		var e *httpapi.Error
		if errors.As(err, &e) && e.Status == http.StatusForbidden {
			metric.Refused(metric.RuleNoEscalation)
			return httpapi.Forbidden("The caller cannot grant or remove " + k.Action + " on " + k.Scope + ": it does not hold it there.")
		}
		return err
	}
	return nil
}

func (s *Service) createPolicy(w http.ResponseWriter, r *http.Request) error {
	k, err := s.triple(w, r, false)
	if err != nil {
		return err
	}
	if err := s.mayChange(r, ActionPolicyCreate, k); err != nil {
		return err
	}
	stored, _, err := s.Store.PutPolicy(r.Context(), access.TenantOf(r), policy.Policy{
		Subject: k.Subject, Action: k.Action, Scope: k.Scope, CreatedAt: s.Now().UTC().Truncate(time.Second)})
	switch {
	case errors.Is(err, store.ErrSubjectNotFound):
		f := httpapi.Fields{}
		f.Add("subject", "does not exist in this tenant")
		return f.Err()
	case errors.Is(err, store.ErrLimitExceeded):
		return httpapi.Conflict(fmt.Sprintf("%s holds %d policies, the most a subject may hold (each is read by every authorization decision): delete one first, or grant through a group.",
			k.Subject, policy.MaxPerSubject))
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toPolicy(access.TenantOf(r), stored))
	return nil
}

func (s *Service) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	k, err := s.triple(w, r, true)
	if err != nil {
		return err
	}
	if err := s.mayChange(r, ActionPolicyDelete, k); err != nil {
		return err
	}
	if err := s.Store.DeletePolicy(r.Context(), access.TenantOf(r), k); err != nil {
		return httpapi.Detailed(err, store.ErrNotFound, "No such policy.")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listPolicies filters a subject's policies (with includeInherited, also
// those of its groups) or the tenant's, by exact action and scope, or with
// includeDerived by everything that grants them: ancestor actions and
// ancestor scopes.
func (s *Service) listPolicies(w http.ResponseWriter, r *http.Request) error {
	q, err := readPolicyQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx, ten := r.Context(), access.TenantOf(r)
	actions := s.Catalogs.Builtin().Actions
	if q.action != "" && q.derived {
		if actions, err = s.Catalogs.Actions(ctx, ten, q.action); err != nil {
			return err
		}
	}
	keep := func(p policy.Policy) bool {
		return (q.action == "" || p.Action == q.action || q.derived && actions.Covers(p.Action, q.action)) &&
			(q.scope == "" || p.Scope == q.scope || q.derived && resource.Covers(p.Scope, q.scope))
	}
	var resp wire.PolicyList
	if q.subject == "" {
		// The tenant's policies: one bounded read from the cursor on.
		found, next, err := s.Store.ListPolicies(ctx, ten, q.after, q.size, listing.SearchScan, keep)
		if err != nil {
			return err
		}
		resp.Items = toPolicies(ten, found)
		if next != nil {
			resp.Cursor = encodeCursor(*next)
		}
	} else if resp, err = s.subjectPolicies(ctx, ten, q, keep); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// policyQuery is what GET /v1/policies asks for.
type policyQuery struct {
	subject, action, scope string
	inherited, derived     bool
	size                   int
	after                  *policy.Triple
}

func readPolicyQuery(v url.Values) (policyQuery, error) {
	f := httpapi.Fields{}
	q := policyQuery{
		inherited: httpapi.BoolParam(v, "includeInherited", f),
		derived:   httpapi.BoolParam(v, "includeDerived", f),
		size:      httpapi.IntParam(v, "pageSize", defaultPolicyPageSize, 1, maxPolicyPageSize, f),
		subject:   v.Get("subject"), action: v.Get("action"), scope: v.Get("scope"),
	}
	if q.subject != "" {
		if _, _, err := subject.Parse(q.subject); err != nil {
			f.Add("subject", err.Error())
		}
	}
	if q.action != "" && !action.ValidName(q.action) {
		f.Add("action", "is not a dot-notation action name")
	}
	if q.scope != "" {
		n, err := resource.Normalize(q.scope)
		if err != nil {
			f.Add("scope", err.Error())
		}
		q.scope = n
	}
	after, ok := decodeCursor(v.Get("cursor"))
	if !ok {
		f.Add("cursor", "is not a cursor this API returned")
	}
	q.after = after
	return q, f.Err()
}

// subjectPolicies is a page of one subject's policies (with its groups'
// when inherited). They are bounded (at most policy.MaxPerSubject each), so
// they are filtered and paged in memory.
func (s *Service) subjectPolicies(ctx context.Context, ten string, q policyQuery, keep func(policy.Policy) bool) (wire.PolicyList, error) {
	var all []policy.Policy
	var err error
	if q.inherited {
		var g policy.Grants
		g, err = s.Store.Grants(ctx, ten, q.subject)
		if errors.Is(err, store.ErrSubjectNotFound) {
			err = nil
		}
		all = g.All()
	} else {
		all, err = s.Store.SubjectPolicies(ctx, ten, q.subject)
	}
	if err != nil {
		return wire.PolicyList{}, err
	}
	matched := slices.DeleteFunc(all, func(p policy.Policy) bool {
		return !keep(p) || q.after != nil && policy.Compare(p.Triple(), *q.after) <= 0
	})
	policy.Sort(matched)
	matched = slices.CompactFunc(matched, func(a, b policy.Policy) bool { return a.Triple() == b.Triple() })
	resp := wire.PolicyList{Items: toPolicies(ten, matched[:min(q.size, len(matched))])}
	if len(matched) > q.size {
		resp.Cursor = encodeCursor(matched[q.size-1].Triple())
	}
	return resp, nil
}

// A cursor is the last key of the page, opaque to callers.
func encodeCursor(k policy.Triple) string {
	b, _ := json.Marshal([3]string{k.Subject, k.Action, k.Scope})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (*policy.Triple, bool) {
	if c == "" {
		return nil, true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	var parts [3]string
	if err != nil || len(b) > 2048 || json.Unmarshal(b, &parts) != nil {
		return nil, false
	}
	// The key positions a DynamoDB read: only the shape this API gives.
	if _, _, err := subject.Parse(parts[0]); err != nil || !action.ValidName(parts[1]) || !strings.HasPrefix(parts[2], "/") || len(parts[2]) > 512 {
		return nil, false
	}
	return &policy.Triple{Subject: parts[0], Action: parts[1], Scope: parts[2]}, true
}

func (s *Service) listActions(w http.ResponseWriter, r *http.Request) error {
	reg, err := s.Catalogs.For(r.Context(), access.TenantOf(r))
	if err != nil {
		return err
	}
	all := reg.Actions.All()
	items := make([]wire.Action, len(all))
	for i, a := range all {
		items[i] = wire.Action{Action: a.Name, Description: a.Description}
		if a.Parent != "" {
			items[i].Parent = &all[i].Parent
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.List[wire.Action]{Items: items})
	return nil
}

func (s *Service) check(w http.ResponseWriter, r *http.Request) error {
	k, err := s.triple(w, r, false)
	if err != nil {
		return err
	}
	g, err := s.Store.Grants(r.Context(), access.TenantOf(r), k.Subject)
	if err != nil && !errors.Is(err, store.ErrSubjectNotFound) {
		return err
	}
	actions, err := s.Catalogs.Actions(r.Context(), access.TenantOf(r), k.Action)
	if err != nil {
		return err
	}
	granting := policy.Evaluate(actions, g, k.Action, k.Scope)
	metric.Decided(len(granting) > 0)
	httpapi.WriteJSON(w, http.StatusOK, wire.Decision{Allowed: len(granting) > 0, GrantedBy: toPolicies(access.TenantOf(r), granting)})
	return nil
}

func (s *Service) permissions(w http.ResponseWriter, r *http.Request) error {
	subj := r.PathValue("subjectId")
	page, size, err := pageParams(r)
	if err != nil {
		return err
	}
	noSubject := httpapi.Detailed(store.ErrNotFound, store.ErrNotFound, "No subject with that id exists.")
	if _, _, err := subject.Parse(subj); err != nil {
		return noSubject
	}
	g, err := s.Store.Grants(r.Context(), access.TenantOf(r), subj)
	if errors.Is(err, store.ErrSubjectNotFound) {
		return noSubject
	}
	if err != nil {
		return err
	}
	perms := policy.Effective(g)
	out := make([]wire.Permission, len(perms))
	for i, p := range perms {
		out[i] = wire.Permission{Action: p.Action, Scope: p.Scope, GrantedBy: toPolicies(access.TenantOf(r), p.GrantedBy)}
	}
	httpapi.WriteJSON(w, http.StatusOK, paginate(out, page, size))
	return nil
}
