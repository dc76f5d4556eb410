// Package clientsapi is the http.Handler of the clients function: list,
// create, read, replace (with If-Match) and delete clients of the caller's
// tenant, as api.md describes.
package clientsapi

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// IAM actions of the routes.
const (
	ActionRead   = "iam.client.read"
	ActionCreate = "iam.client.create"
	ActionUpdate = "iam.client.update"
	ActionDelete = "iam.client.delete"
	// ActionRevokeTokens is the kill switch's.
	ActionRevokeTokens = "iam.token.revoke"
	// ActionUnlock lifts the throttle on a client's failed
	// authentications.
	ActionUnlock = "iam.client.unlock"
)

// Store is the storage the function uses.
type Store interface {
	store.Clients
	store.Revocations
	store.Lockouts
}

// Paging of the list (envelope A).
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Service is what the clients function needs.
type Service struct {
	Clients Store
	Guard   *access.Guard
	// Catalogs say which scopes a tenant's clients may be allowed.
	Catalogs *access.Catalogs
	// MaxTokenLifetime bounds a client's accessTokenLifetime;
	// DefaultTokenLifetime is a client's without one.
	MaxTokenLifetime     time.Duration
	DefaultTokenLifetime time.Duration
	Now                  func() time.Time
}

// New is the handler of the clients function.
func New(d *app.Deps) *app.Handler {
	s := &Service{Clients: d.Store, Guard: d.Guard(), Catalogs: d.Catalogs, MaxTokenLifetime: d.Config.MaxTokenLifetime,
		DefaultTokenLifetime: d.Config.TokenLifetime, Now: d.Now}
	return d.Instrument(s.Handler())
}

// Handler returns the function's routes, each behind its permission.
func (s *Service) Handler() *httpapi.Router {
	collection := func(*http.Request) string { return "/clients" }
	one := func(r *http.Request) string { return "/clients/" + r.PathValue("clientId") }
	guard := s.Guard.Require
	rt := httpapi.NewRouter()
	rt.Route("/v1/clients", httpapi.Methods{
		http.MethodGet:  guard(ActionRead, collection, s.list),
		http.MethodPost: guard(ActionCreate, collection, s.create),
	})
	rt.Route("/v1/clients/{clientId}", httpapi.Methods{
		http.MethodGet:    guard(ActionRead, one, s.get),
		http.MethodPut:    guard(ActionUpdate, one, s.replace),
		http.MethodDelete: guard(ActionDelete, one, s.delete),
	})
	rt.Route("/v1/clients/{clientId}/revoke-tokens", httpapi.Methods{
		http.MethodPost: guard(ActionRevokeTokens, one, s.revokeTokens),
	})
	rt.Route("/v1/clients/{clientId}/unlock", httpapi.Methods{
		http.MethodPost: guard(ActionUnlock, one, s.unlock),
	})
	// Every path no function declares lands here (template.yaml), to get a
	// problem document rather than API Gateway's bare 404.
	rt.NotFound("/{proxy+}")
	return rt
}

// specOf reads a create or replace body's client fields, recording what is
// wrong in f.
func specOf(req wire.ClientRequest, f httpapi.Fields, scopes *oauthscope.Catalog, maxLifetime time.Duration) client.Spec {
	f.Required("name", req.Name != nil)
	f.Required("description", req.Description != nil)
	f.Required("allowedGrantTypes", req.AllowedGrantTypes != nil)
	f.Required("allowedScopes", req.AllowedScopes != nil)
	f.Required("redirectUris", req.RedirectURIs != nil)
	if len(f) > 0 {
		return client.Spec{}
	}
	spec := client.Spec{Name: *req.Name, Description: *req.Description, GrantTypes: *req.AllowedGrantTypes,
		Scopes: *req.AllowedScopes, RedirectURIs: *req.RedirectURIs, Audiences: req.AllowedAudiences, TokenClaims: req.TokenClaims}
	if req.AccessTokenLifetime != nil {
		// Checked in seconds, before the conversion could overflow.
		if n := *req.AccessTokenLifetime; n < 1 || n > int(maxLifetime/time.Second) {
			spec.TokenLifetime = -1
		} else {
			spec.TokenLifetime = time.Duration(n) * time.Second
		}
	}
	f.Merge(spec.Validate(scopes, maxLifetime))
	return spec
}

// toResponse is c on the wire.
func toResponse(c client.Client) wire.Client {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return wire.Client{
		ClientID: c.ID, SubjectID: c.SubjectID(),
		ClientSpec: wire.ClientSpec{Name: c.Name, Description: c.Description,
			AllowedGrantTypes: nonNil(c.GrantTypes), AllowedScopes: nonNil(c.Scopes), RedirectURIs: nonNil(c.RedirectURIs),
			AllowedAudiences: c.Audiences, AccessTokenLifetime: int(c.TokenLifetime / time.Second), TokenClaims: c.TokenClaims,
			Provenance: wire.ProvenanceOf(c.Provenance)},
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: c.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func etag(c client.Client) string { return `"` + strconv.FormatInt(c.Version, 10) + `"` }

// noun names clients in store errors' problem details.
const noun = "client"

// readSpec decodes and validates a create or replace body. A create
// (creating) may carry a provenance label and the id to create the client
// under; a replace may repeat the client's own id (cid), never another.
func (s *Service) readSpec(w http.ResponseWriter, r *http.Request, creating bool, cid string) (client.Spec, provenance.Label, string, error) {
	var req wire.ClientRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return client.Spec{}, provenance.Label{}, "", err
	}
	f := httpapi.Fields{}
	var named []string
	if req.AllowedScopes != nil {
		named = *req.AllowedScopes
	}
	scopes, err := s.Catalogs.Scopes(r.Context(), access.TenantOf(r), named...)
	if err != nil {
		return client.Spec{}, provenance.Label{}, "", err
	}
	spec := specOf(req, f, scopes, s.MaxTokenLifetime)
	var label provenance.Label
	var chosen string
	switch {
	case creating:
		label = httpapi.ProvenanceLabel(req.Provenance, f)
		if req.ClientID != nil {
			chosen = *req.ClientID
			if msg := subject.CheckClientID(chosen); msg != "" {
				f.Add("clientId", msg)
			}
		}
	case req.Provenance != nil:
		f.Add("provenance", "is recorded at creation and cannot be changed")
	}
	if !creating && req.ClientID != nil && *req.ClientID != cid {
		f.Add("clientId", "is chosen at creation and cannot be changed")
	}
	return spec, label, chosen, f.Err()
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	spec, label, chosen, err := s.readSpec(w, r, true, "")
	if err != nil {
		return err
	}
	conferred := policy.Grants{TokenRights: spec.TokenRights()}
	if chosen != "" {
		// A chosen id may be a deleted client's that other tenants'
		// credentials still trust: what they hold comes with it.
		as, err := s.Guard.Authorizer.HoldingsWith(r.Context(), access.TenantOf(r), subject.ID(subject.Client, chosen), spec.TokenRights())
		if err != nil {
			return err
		}
		conferred = as[0]
	}
	if err := s.Guard.RequireHolds(r.Context(), "create a client with these rights", conferred); err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Second)
	c := client.Client{Tenant: access.TenantOf(r), Spec: spec, CreatedAt: now, UpdatedAt: now, Version: 1,
		Provenance: provenance.Made(access.PrincipalFrom(r.Context()).Subject, label)}
	if chosen != "" {
		// Unique in the tenant by the store's conditional write. A chosen
		// id may have been a deleted client's: tokens issued before this
		// client existed are dead to it (the kill switch's cutoff).
		c.ID, c.TokensRevokedAt = chosen, now.Add(-time.Second)
		if err := s.Clients.CreateClient(r.Context(), c); errors.Is(err, store.ErrConflict) {
			return httpapi.Detailed(err, store.ErrConflict, "The tenant already has a client with clientId "+chosen+".")
		} else if err != nil {
			return err
		}
	} else if c.ID, err = store.CreateWithNewID(func(newID string) error {
		c.ID = newID
		return s.Clients.CreateClient(r.Context(), c)
	}); err != nil {
		return err
	}
	audit.Note(r.Context(), ActionCreate, "/clients/"+c.ID)
	w.Header().Set("Location", "/v1/clients/"+c.ID)
	w.Header().Set("ETag", etag(c))
	httpapi.WriteJSON(w, http.StatusCreated, toResponse(c))
	return nil
}

// clientID reads {clientId}: a well-formed id, or ErrNotFound, as for any
// id that names no client.
func clientID(r *http.Request) (string, error) {
	cid := r.PathValue("clientId")
	if !subject.ValidClientID(cid) {
		return "", httpapi.About(store.ErrNotFound, noun)
	}
	return cid, nil
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	cid, err := clientID(r)
	if err != nil {
		return err
	}
	c, err := s.Clients.GetClient(r.Context(), access.TenantOf(r), cid)
	if err != nil {
		return httpapi.About(err, noun)
	}
	w.Header().Set("ETag", etag(c))
	httpapi.WriteJSON(w, http.StatusOK, toResponse(c))
	return nil
}

func (s *Service) replace(w http.ResponseWriter, r *http.Request) error {
	cid, err := clientID(r)
	if err != nil {
		return err
	}
	spec, _, _, err := s.readSpec(w, r, false, cid)
	if err != nil {
		return err
	}
	ten := access.TenantOf(r)
	ifVersion, err := s.expectedVersion(r, ten, cid)
	if err != nil {
		return httpapi.About(err, noun)
	}
	replacement := client.Client{Tenant: ten, ID: cid, Spec: spec, UpdatedAt: s.Now().UTC().Truncate(time.Second)}
	c, err := s.replaceChecked(r, replacement, ifVersion)
	if err != nil {
		return httpapi.About(err, noun)
	}
	w.Header().Set("ETag", etag(c))
	httpapi.WriteJSON(w, http.StatusOK, toResponse(c))
	return nil
}

// maxReplaceAttempts bounds how often a replace without If-Match that lost
// a race to another write is checked and tried again.
const maxReplaceAttempts = 5

// replaceChecked writes replacement. A change to the rights-bearing fields
// goes through the one no-escalation check (access.Guard.RequireMayChange)
// with the client's holdings as they are and as they would be, and is
// written only over the version it checked; a client that holds owner on /
// by its own policy must stay able to use the management API, which the
// same write checks. A change of the neutral fields alone (name,
// description) needs nothing beyond the route's permission and, without
// If-Match, writes only those fields in one write, on no version but on the
// stored rights being the ones it carries: concurrent renames never
// conflict, and none can undo a concurrent change of rights (one that
// meets such a change is read and checked as the rights change it now
// is). A rights change without If-Match that loses a race is checked
// again, a few times, after a short random pause.
func (s *Service) replaceChecked(r *http.Request, replacement client.Client, ifVersion int64) (client.Client, error) {
	ctx := r.Context()
	if ifVersion == 0 {
		// Most replaces rename: one write, conditional on the rights it
		// carries being the stored ones, needs no read and no check.
		if c, err := s.Clients.RenameClient(ctx, replacement); !errors.Is(err, store.ErrVersionMismatch) {
			return c, err
		}
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.Clients.GetClient(ctx, replacement.Tenant, replacement.ID)
		if err != nil {
			return client.Client{}, err
		}
		if ifVersion != 0 && cur.Version != ifVersion {
			return client.Client{}, store.ErrVersionMismatch
		}
		cond := store.ReplaceCondition{Version: cur.Version}
		// Rights equal to the stored ones (in another form) are written
		// over the version read, like any other change, without a check.
		if !cur.TokenRights().Equal(replacement.TokenRights()) {
			if cond.NotRootOwner, err = s.checkRightsChange(ctx, cur, replacement); err != nil {
				return client.Client{}, err
			}
		}
		c, err := s.Clients.ReplaceClient(ctx, replacement, cond)
		switch {
		case errors.Is(err, store.ErrVersionMismatch) && ifVersion == 0 && attempt < maxReplaceAttempts:
			if err := pause(ctx, attempt); err != nil {
				return client.Client{}, err
			}
			continue
		case errors.Is(err, store.ErrVersionMismatch) && ifVersion == 0:
			return client.Client{}, httpapi.Conflict("The client kept changing while this replace was checked; send it again.")
		case errors.Is(err, store.ErrLastOwner):
			return client.Client{}, httpapi.LastOwner(cur.SubjectID() + " holds owner on / by a policy of its own, so it keeps what it needs " +
				"to use the management API (the " + oauthscope.IAM + " scope, the client_credentials grant and the management audience); " +
				"remove its owner policy first.")
		}
		return c, err
	}
}

// pause waits a random time that grows with attempt (up to 5, 10, 20, 40
// ms), so that racing replaces spread out instead of colliding again.
func pause(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(rand.Int64N(int64(5*time.Millisecond) << (attempt - 1)))):
		return nil
	}
}

// checkRightsChange applies the no-escalation rule to a change of cur's
// rights-bearing fields, and reports whether the change takes the
// management API out of its reach (which an owner may not lose).
func (s *Service) checkRightsChange(ctx context.Context, cur, next client.Client) (losesManagement bool, err error) {
	p := access.PrincipalFrom(ctx)
	// The rights of the version the write is conditional on, and as they
	// would be: each with the trust chains its audiences open.
	held, err := s.Guard.Authorizer.HoldingsWith(ctx, cur.Tenant, cur.SubjectID(), cur.TokenRights(), next.TokenRights())
	if err != nil {
		return false, err
	}
	before, after := held[0], held[1]
	if err := s.Guard.RequireMayChange(ctx, "change the rights-bearing fields of "+cur.SubjectID(), cur.SubjectID(), before, after); err != nil {
		return false, err
	}
	reaches := func(t policy.TokenRights) bool {
		return client.ReachesManagement(t.Resolve(p.ManagementAudience, s.DefaultTokenLifetime))
	}
	return reaches(before.TokenRights) && !reaches(after.TokenRights), nil
}

// expectedVersion turns If-Match (RFC 9110 §13.1.1) into the version the
// write must find: 0 for no condition or "*" (the client must merely exist).
// With several entity tags the current version is read and must be one of
// them; the write is then conditional on that version. A malformed If-Match
// is a 400 problem, never an unconditional write.
func (s *Service) expectedVersion(r *http.Request, ten, cid string) (int64, error) {
	m, err := httpapi.ParseIfMatch(r.Header)
	if err != nil || !m.Present || m.Any {
		return 0, err
	}
	var versions []int64
	for _, t := range m.Tags {
		// Strong comparison: weak tags are well-formed but never match, nor
		// does any strong tag other than an ETag we send ("01" is not "1").
		if n, err := strconv.ParseInt(t.Opaque, 10, 64); err == nil && n > 0 && !t.Weak && strconv.FormatInt(n, 10) == t.Opaque {
			versions = append(versions, n)
		}
	}
	switch len(versions) {
	case 0:
		return 0, store.ErrVersionMismatch
	case 1:
		return versions[0], nil
	}
	cur, err := s.Clients.GetClient(r.Context(), ten, cid)
	if err != nil {
		return 0, err
	}
	for _, v := range versions {
		if v == cur.Version {
			return v, nil
		}
	}
	return 0, store.ErrVersionMismatch
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	cid, err := clientID(r)
	if err != nil {
		return err
	}
	// Deleting another client takes away everything it holds, so the
	// caller must hold all of it (the no-escalation rule).
	target := subject.ID(subject.Client, cid)
	if err := s.Guard.RequireHoldsSubject(r.Context(), "delete "+target, target); err != nil {
		return err
	}
	if err := s.Clients.DeleteClient(r.Context(), access.TenantOf(r), cid); err != nil {
		return httpapi.About(err, noun)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeTokens is the kill switch: every token the client holds now stops
// working on the management API at once and introspects as inactive; new
// tokens work. Taking another client's tokens away takes away what it
// holds, so the caller must hold all of it.
func (s *Service) revokeTokens(w http.ResponseWriter, r *http.Request) error {
	cid, err := clientID(r)
	if err != nil {
		return err
	}
	target := subject.ID(subject.Client, cid)
	if err := s.Guard.RequireHoldsSubject(r.Context(), "revoke the tokens of "+target, target); err != nil {
		return err
	}
	if err := s.Clients.RevokeTokens(r.Context(), access.TenantOf(r), cid, s.Now()); err != nil {
		return httpapi.About(err, noun)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// unlock forgets the failed authentications counted for a client, from
// one address or from all, so that a client locked out (a 429 at the
// token endpoint), say behind a NAT it shares with a misconfigured job,
// gets in again at once rather than when the window ends. It confers
// nothing, so it needs only its action; the audit line names the address.
func (s *Service) unlock(w http.ResponseWriter, r *http.Request) error {
	cid, err := clientID(r)
	if err != nil {
		return err
	}
	var req wire.UnlockRequest
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	address := ""
	if req.Address != nil {
		if address = lockout.Address(*req.Address); address == "unknown" {
			return httpapi.Fields{"address": {"must be an IPv4 or IPv6 address"}}.Err()
		}
	}
	ten := access.TenantOf(r)
	c, err := s.Clients.GetClient(r.Context(), ten, cid)
	if err != nil {
		return httpapi.About(err, noun)
	}
	// Lifting the lockout buys more guesses at the client's secret: only
	// for whoever could hold what the client holds anyway.
	if err := s.Guard.RequireHoldsSubject(r.Context(), "unlock "+c.SubjectID(), c.SubjectID()); err != nil {
		return err
	}
	target := "/clients/" + cid
	if address != "" {
		target += " address " + address
	}
	audit.Note(r.Context(), ActionUnlock, target)
	if err := s.Clients.Unlock(r.Context(), ten, lockout.CounterKey(cid), address); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
