// Package policiesapi is the http.Handler of the policies function: IAM
// policies, the action catalog, permission checks, effective permissions,
// subjects, groups and memberships, as api.md describes.
package policiesapi

import (
	"net/http"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/endpoints/apisapi"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// IAM actions of the routes (policy create and delete also need the action
// they grant or remove).
const (
	ActionPolicyRead   = "iam.policy.read"
	ActionPolicyCreate = "iam.policy.create"
	ActionPolicyDelete = "iam.policy.delete"
	ActionGroupRead    = "iam.group.read"
	ActionGroupWrite   = "iam.group.write"
)

// Store is the storage the function uses.
type Store interface {
	store.Policies
	store.Groups
	store.Subjects
	store.Clients
}

// Service is what the policies function needs.
type Service struct {
	Store Store
	// Catalogs are each tenant's actions: declared and registered.
	Catalogs *access.Catalogs
	Guard    *access.Guard
	Now      func() time.Time
}

// New is the handler of the policies function.
func New(d *app.Deps) *app.Handler {
	s := &Service{Store: d.Store, Catalogs: d.Catalogs, Guard: d.Guard(), Now: d.Now}
	rt := s.Handler()
	// The registry of a tenant's APIs and the decisions about them live
	// beside the policies they are decided with.
	apisapi.FromDeps(d).Routes(rt)
	return d.Instrument(rt)
}

// Handler returns the function's routes.
func (s *Service) Handler() *httpapi.Router {
	root := func(*http.Request) string { return resource.Root }
	groups := func(*http.Request) string { return "/groups" }
	oneGroup := func(r *http.Request) string { return "/groups/" + groupID(r) }
	guard := s.Guard.Require
	rt := httpapi.NewRouter()
	rt.Route("/v1/policies", httpapi.Methods{
		http.MethodGet: guard(ActionPolicyRead, root, s.listPolicies),
		// Creating and deleting authorize against the body's scope; the
		// audit line names the action even for a request refused before
		// the body is read.
		http.MethodPost:   audit.Noted(ActionPolicyCreate, "/policies", s.Guard.Authenticate(httpapi.Handle(s.createPolicy))),
		http.MethodDelete: audit.Noted(ActionPolicyDelete, "/policies", s.Guard.Authenticate(httpapi.Handle(s.deletePolicy))),
	})
	rt.Route("/v1/actions", httpapi.Methods{http.MethodGet: guard(ActionPolicyRead, root, s.listActions)})
	rt.Route("/v1/permissions/check", httpapi.Methods{http.MethodPost: guard(ActionPolicyRead, root, s.check)})
	rt.Route("/v1/subjects/{subjectId}/permissions", httpapi.Methods{http.MethodGet: guard(ActionPolicyRead, root, s.permissions)})
	rt.Route("/v1/subjects/{subjectId}/memberships", httpapi.Methods{http.MethodGet: guard(ActionGroupRead, groups, s.memberships)})
	rt.Route("/v1/subjects/clients", httpapi.Methods{http.MethodGet: guard(ActionPolicyRead, root, s.clientSubjects)})
	rt.Route("/v1/subjects/groups", httpapi.Methods{
		http.MethodGet:  guard(ActionGroupRead, groups, s.listGroups),
		http.MethodPost: guard(ActionGroupWrite, groups, s.createGroup),
	})
	rt.Route("/v1/subjects/groups/{groupId}", httpapi.Methods{
		http.MethodGet:    guard(ActionGroupRead, oneGroup, s.getGroup),
		http.MethodDelete: guard(ActionGroupWrite, oneGroup, s.deleteGroup),
	})
	rt.Route("/v1/subjects/groups/{groupId}/members", httpapi.Methods{
		http.MethodGet:    guard(ActionGroupRead, oneGroup, s.listMembers),
		http.MethodPost:   guard(ActionGroupWrite, oneGroup, s.addMembers),
		http.MethodDelete: guard(ActionGroupWrite, oneGroup, s.removeMembers),
	})
	return rt
}
