// Package apisapi serves a tenant's registry of its own APIs (resource
// servers with their scopes and actions) and the decisions those APIs' servers
// ask for at request time, as docs/authorization.md describes. Its routes
// are served by the policies function.
package apisapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// IAM actions of the routes.
const (
	ActionRead     = "iam.api.read"
	ActionWrite    = "iam.api.write"
	ActionDecision = "iam.decision.check"
)

// Store is the storage the routes use.
type Store interface {
	store.APIs
	access.GrantsReader
}

// Service serves /v1/apis and /v1/decisions.
type Service struct {
	Store    Store
	Catalogs *access.Catalogs
	Guard    *access.Guard
	// Verifier checks the tokens decisions are asked about.
	Verifier   *token.Verifier
	IssuerBase func(*http.Request) string
	// DecisionTTL is how long a decision may be cached.
	DecisionTTL time.Duration
	Now         func() time.Time
}

// FromDeps is the Service over d.
func FromDeps(d *app.Deps) *Service {
	return &Service{Store: d.Store, Catalogs: d.Catalogs, Guard: d.Guard(), IssuerBase: d.IssuerBase,
		Verifier: &token.Verifier{Keys: d.Signer, Leeway: token.DefaultLeeway, Now: d.Now}, DecisionTTL: d.Config.DecisionTTL, Now: d.Now}
}

// Routes adds the service's routes to rt.
func (s *Service) Routes(rt *httpapi.Router) {
	all := func(*http.Request) string { return "/apis" }
	one := func(r *http.Request) string { return "/apis/" + r.PathValue("apiId") }
	rt.Route("/v1/apis", httpapi.Methods{
		http.MethodGet:  s.Guard.Require(ActionRead, all, s.list),
		http.MethodPost: s.Guard.Require(ActionWrite, all, s.create),
	})
	rt.Route("/v1/apis/{apiId}", httpapi.Methods{
		http.MethodGet:    s.Guard.Require(ActionRead, one, s.get),
		http.MethodPut:    s.Guard.Require(ActionWrite, one, s.replace),
		http.MethodDelete: s.Guard.Require(ActionWrite, one, s.delete),
	})
	// Which APIs' permissions a decision needs depends on the body.
	rt.Route("/v1/decisions", httpapi.Methods{
		http.MethodPost: audit.Noted(ActionDecision, "/decisions", s.Guard.Authenticate(httpapi.Handle(s.decide))),
	})
}

// noun names APIs in store errors' problem details.
const noun = "API"

// toResponse is a on the wire; mgmt is the tenant's management audience,
// the identifier of the management API.
func toResponse(a apis.API, mgmt string) wire.API {
	out := wire.API{APIID: a.ID, Identifier: a.Identifier, Name: a.Name, Description: a.Description,
		Discoverable: a.Discoverable, Scopes: []wire.APIScope{}, Actions: []wire.APIAction{}, Builtin: a.Builtin,
		Provenance: wire.ProvenanceOf(a.Provenance)}
	if a.ID == apis.ManagementAPI {
		out.Identifier = mgmt
	}
	if !a.Builtin {
		out.CreatedAt, out.UpdatedAt = a.CreatedAt.UTC().Format(time.RFC3339), a.UpdatedAt.UTC().Format(time.RFC3339)
	}
	for _, sc := range a.Scopes {
		out.Scopes = append(out.Scopes, wire.APIScope{Name: sc.Name, Description: sc.Description})
	}
	for _, x := range a.Actions {
		w := wire.APIAction{Action: x.Name, Description: x.Description}
		if x.Parent != "" {
			w.Parent = &x.Parent
		}
		out.Actions = append(out.Actions, w)
	}
	return out
}

func etag(a apis.API) string { return `"` + strconv.FormatInt(a.Version, 10) + `"` }

// issuerBase is the deployment's issuer base in normalised form, which
// identifiers are compared with.
func (s *Service) issuerBase(r *http.Request) string {
	base := s.IssuerBase(r)
	if n, err := apis.NormalizeIdentifier(base); err == nil {
		return n
	}
	return base
}

func (s *Service) managementAudience(r *http.Request) string {
	return token.Audience(tenant.Issuer(s.IssuerBase(r), access.TenantOf(r)))
}

// readSpec decodes and validates a create or replace body. On a replace,
// cur is the API as it is: the identifier may be left out, and if given
// must be its own.
func (s *Service) readSpec(w http.ResponseWriter, r *http.Request, cur *apis.API) (apis.Spec, provenance.Label, error) {
	var req wire.APIRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return apis.Spec{}, provenance.Label{}, err
	}
	f := httpapi.Fields{}
	var spec apis.Spec
	switch {
	case req.Identifier == nil && cur != nil:
		spec.Identifier = cur.Identifier
	case f.Required("identifier", req.Identifier != nil):
		n, err := apis.NormalizeIdentifier(*req.Identifier)
		switch {
		case err != nil:
			f.Add("identifier", err.Error())
		case cur != nil && n != cur.Identifier:
			f.Add("identifier", "cannot change: it is what tokens for the API carry in aud (register a new API instead)")
		case apis.Within(n, s.issuerBase(r)):
			f.Add("identifier", "must not be this service's own issuer or management API, nor under them")
		}
		spec.Identifier = n
	}
	if f.Required("name", req.Name != nil) {
		spec.Name = *req.Name
	}
	if req.Description != nil {
		spec.Description = *req.Description
	}
	if req.Discoverable != nil {
		spec.Discoverable = *req.Discoverable
	}
	if req.Scopes != nil {
		for _, sc := range *req.Scopes {
			spec.Scopes = append(spec.Scopes, apis.Scope{Name: sc.Name, Description: sc.Description})
		}
	}
	if req.Actions != nil {
		for _, x := range *req.Actions {
			a := apis.Action{Name: x.Action, Description: x.Description}
			if x.Parent != nil {
				a.Parent = *x.Parent
			}
			spec.Actions = append(spec.Actions, a)
		}
	}
	if len(f["name"]) == 0 {
		f.Merge(spec.Validate())
	}
	var label provenance.Label
	if cur == nil {
		label = httpapi.ProvenanceLabel(req.Provenance, f)
	} else if req.Provenance != nil {
		f.Add("provenance", "is recorded at creation and cannot be changed")
	}
	return spec, label, f.Err()
}

// requireFree refuses, with a 409, a spec that takes a name or identifier
// the deployment's declaration holds or retired.
func (s *Service) requireFree(spec apis.Spec) error {
	taken := s.Catalogs.Declaration().Taken(spec)
	for _, a := range s.Catalogs.Declaration().APIs {
		if a.Identifier != "" && a.Identifier == spec.Identifier {
			taken = append(taken, "identifier "+spec.Identifier)
		}
	}
	if len(taken) > 0 {
		return httpapi.NameTaken("The deployment's own APIs hold " + strings.Join(taken, ", ") + "; choose other names.")
	}
	return nil
}

// nameConflict words a store conflict over names.
func nameConflict(err error) error {
	var nc *store.NameConflict
	if errors.As(err, &nc) {
		return httpapi.NameTaken("Another API of this tenant holds, or once held, " + strings.Join(nc.Names, ", ") +
			": a name once used stays with its API, so that policies naming it never apply to another.")
	}
	return err
}

// requireActionChange applies the no-escalation rule to a change of an
// API's actions (apis.ActionChanges): the caller must hold on / each action
// it adds, moves or removes, and each new parent, in the catalog as it is
// or as it would be. Only policies on actions that exist now count, so an
// inert policy naming a dropped action does not vouch for its return.
func (s *Service) requireActionChange(ctx context.Context, before, after apis.Spec, cur *apis.Registry, next []apis.API) error {
	needs := apis.ActionChanges(before, after)
	if len(needs) == 0 {
		return nil
	}
	p := access.PrincipalFrom(ctx)
	g, err := s.Guard.Authorizer.Holdings(ctx, p.Tenant, p.Subject)
	if err != nil {
		return err
	}
	live := func(ps []policy.Policy) []policy.Policy {
		return slices.DeleteFunc(slices.Clone(ps), func(pol policy.Policy) bool { return !cur.Actions.Has(pol.Action) })
	}
	g.Direct = live(g.Direct)
	for i := range g.Groups {
		g.Groups[i].Policies = live(g.Groups[i].Policies)
	}
	nextReg, err := apis.NewRegistry(s.Catalogs.Declaration(), next)
	if err != nil {
		return err
	}
	var lacking []string
	for _, n := range needs {
		cat := cur.Actions
		if n.After {
			cat = nextReg.Actions
		}
		if len(policy.Evaluate(cat, g, n.Action, resource.Root)) == 0 && !slices.Contains(lacking, n.Action) {
			lacking = append(lacking, n.Action)
		}
	}
	if len(lacking) == 0 {
		return nil
	}
	return httpapi.Forbidden("The caller cannot add, move or remove these actions: that confers or removes what the caller does not hold itself on /: " +
		strings.Join(lacking, ", ") + ".")
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	spec, label, err := s.readSpec(w, r, nil)
	if err != nil {
		return err
	}
	if err := s.requireFree(spec); err != nil {
		return err
	}
	ctx, ten := r.Context(), access.TenantOf(r)
	cur, err := s.Catalogs.For(ctx, ten)
	if err != nil {
		return err
	}
	full := httpapi.Conflict(fmt.Sprintf("The tenant has %d APIs, the most it may register.", apis.MaxPerTenant))
	if len(cur.Registered()) >= apis.MaxPerTenant {
		return full
	}
	now := s.Now().UTC().Truncate(time.Second)
	a := apis.API{Tenant: ten, Spec: spec, CreatedAt: now, UpdatedAt: now, Version: 1,
		Provenance: provenance.Made(access.PrincipalFrom(ctx).Subject, label)}
	if err := s.requireActionChange(ctx, apis.Spec{}, spec, cur, append(cur.Registered(), a)); err != nil {
		return err
	}
	a.ID, err = store.CreateWithNewID(func(newID string) error {
		a.ID = newID
		return s.Store.CreateAPI(ctx, a)
	})
	if errors.Is(err, store.ErrLimitExceeded) {
		// Another create took the last place since the count above.
		return full
	}
	if err != nil {
		return nameConflict(err)
	}
	audit.Note(ctx, ActionWrite, "/apis/"+a.ID)
	w.Header().Set("Location", "/v1/apis/"+a.ID)
	w.Header().Set("ETag", etag(a))
	httpapi.WriteJSON(w, http.StatusCreated, toResponse(a, s.managementAudience(r)))
	return nil
}

// find returns the API {apiId} names: a declared one, or a registered one
// of the caller's tenant; ErrNotFound.
func (s *Service) find(r *http.Request) (apis.API, error) {
	apiID := r.PathValue("apiId")
	if strings.HasPrefix(apiID, apis.BuiltinPrefix) {
		for _, a := range s.Catalogs.Builtin().Declared() {
			if a.ID == apiID {
				return a, nil
			}
		}
		return apis.API{}, httpapi.About(store.ErrNotFound, noun)
	}
	if !id.Valid(apiID) {
		return apis.API{}, httpapi.About(store.ErrNotFound, noun)
	}
	a, err := s.Store.GetAPI(r.Context(), access.TenantOf(r), apiID)
	if err != nil {
		return apis.API{}, httpapi.About(err, noun)
	}
	return a, nil
}

// readOnly refuses a change to a declared API.
func readOnly(a apis.API) error {
	return httpapi.Forbidden("The API " + a.ID + " is declared by the deployment for every tenant and is read-only.")
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	a, err := s.find(r)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(a))
	httpapi.WriteJSON(w, http.StatusOK, toResponse(a, s.managementAudience(r)))
	return nil
}

// requireMatch applies If-Match (RFC 9110 §13.1.1, strong comparison) to a
// write over version: nil when it may go ahead, else a 412 (or a 400 for a
// malformed header).
func requireMatch(r *http.Request, version int64) error {
	m, err := httpapi.ParseIfMatch(r.Header)
	if err != nil || !m.Present || m.Any {
		return err
	}
	for _, t := range m.Tags {
		if !t.Weak && t.Opaque == strconv.FormatInt(version, 10) {
			return nil
		}
	}
	return httpapi.About(store.ErrVersionMismatch, noun)
}

func (s *Service) replace(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.find(r)
	if err != nil {
		return err
	}
	if cur.Builtin {
		return readOnly(cur)
	}
	spec, _, err := s.readSpec(w, r, &cur)
	if err != nil {
		return err
	}
	if err := requireMatch(r, cur.Version); err != nil {
		return err
	}
	if err := s.requireFree(spec); err != nil {
		return err
	}
	ctx := r.Context()
	reg, err := s.Catalogs.For(ctx, cur.Tenant)
	if err != nil {
		return err
	}
	next := apis.API{Tenant: cur.Tenant, ID: cur.ID, Spec: spec, UpdatedAt: s.Now().UTC().Truncate(time.Second)}
	registered := slices.Clone(reg.Registered())
	for i := range registered {
		if registered[i].ID == cur.ID {
			registered[i] = next
		}
	}
	if err := s.requireActionChange(ctx, cur.Spec, spec, reg, registered); err != nil {
		return err
	}
	stored, err := s.Store.ReplaceAPI(ctx, next, cur.Version)
	if err != nil {
		return nameConflict(httpapi.About(err, noun))
	}
	w.Header().Set("ETag", etag(stored))
	httpapi.WriteJSON(w, http.StatusOK, toResponse(stored, s.managementAudience(r)))
	return nil
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.find(r)
	if err != nil {
		return err
	}
	if cur.Builtin {
		return readOnly(cur)
	}
	if err := requireMatch(r, cur.Version); err != nil {
		return err
	}
	ctx := r.Context()
	reg, err := s.Catalogs.For(ctx, cur.Tenant)
	if err != nil {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(reg.Registered()), func(a apis.API) bool { return a.ID == cur.ID })
	if err := s.requireActionChange(ctx, cur.Spec, apis.Spec{}, reg, rest); err != nil {
		return err
	}
	if err := s.Store.DeleteAPI(ctx, cur.Tenant, cur.ID); err != nil {
		return httpapi.About(err, noun)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Paging of the listing (envelope A).
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// list answers envelope A: the declared APIs, then the tenant's by name.
// All of them come from one read, which every decision makes anyway.
func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	errs := map[string][]string{}
	page := httpapi.IntParam(q, "page", 1, 1, 1<<20, errs)
	size := httpapi.IntParam(q, "pageSize", defaultPageSize, 1, maxPageSize, errs)
	if len(errs) > 0 {
		return httpapi.Invalid(errs)
	}
	reg, err := s.Catalogs.For(r.Context(), access.TenantOf(r))
	if err != nil {
		return err
	}
	registered := slices.Clone(reg.Registered())
	slices.SortFunc(registered, func(a, b apis.API) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	all := append(slices.Clone(reg.Declared()), registered...)
	mgmt := s.managementAudience(r)
	out := wire.APIList{Items: []wire.API{}, Metadata: wire.PageMetadata{Page: page, PageSize: size, TotalCount: len(all)}}
	for _, a := range all[min(len(all), (page-1)*size):min(len(all), page*size)] {
		out.Items = append(out.Items, toResponse(a, mgmt))
	}
	last := max(1, (len(all)+size-1)/size)
	link := func(p int) *string {
		l := fmt.Sprintf("/v1/apis?page=%d&pageSize=%d", p, size)
		return &l
	}
	out.Links.First, out.Links.Last = link(1), link(last)
	if page > 1 {
		out.Links.Previous = link(min(page-1, last))
	}
	if page < last {
		out.Links.Next = link(page + 1)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
