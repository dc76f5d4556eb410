package policiesapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/storage/listing"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// toGroup is g on the wire.
func toGroup(g group.Group) wire.Group {
	return wire.Group{ID: g.ID, SubjectID: subject.ID(subject.Group, g.ID), DisplayName: g.DisplayName,
		Description: g.Description, Tenant: g.Tenant, Type: string(subject.Group), Provenance: wire.ProvenanceOf(g.Provenance),
		CreatedAt: g.CreatedAt.UTC().Format(time.RFC3339)}
}

// groupID reads {groupId}, which may be the bare id or group-<id>.
func groupID(r *http.Request) string {
	return strings.TrimPrefix(r.PathValue("groupId"), subject.ID(subject.Group, ""))
}

// groupNotFound is what an id that names no group gets.
var groupNotFound = httpapi.About(store.ErrNotFound, "group")

// describe turns subject ids into subjects, naming clients and groups from
// storage; a user's name lives in its identity provider, so its display
// name is its subject id.
func (s *Service) describe(r *http.Request, ids []string) ([]wire.Subject, error) {
	names, err := s.Store.DisplayNames(r.Context(), access.TenantOf(r), ids)
	if err != nil {
		return nil, err
	}
	out := make([]wire.Subject, 0, len(ids))
	for _, sid := range ids {
		kind, raw, err := subject.Parse(sid)
		if err != nil {
			continue
		}
		name, ok := names[sid]
		if !ok && kind != subject.User {
			continue // deleted meanwhile
		}
		if !ok {
			name = sid
		}
		out = append(out, wire.Subject{ID: raw, DisplayName: name, Tenant: access.TenantOf(r), SubjectID: sid, Type: string(kind)})
	}
	return out, nil
}

// writeSearchPage answers a page (envelope B) of what list returns, keeping
// the entries whose name holds searchQuery, case-insensitively.
// writeSearchPage answers envelope B from one bounded store read: a page
// jump skips at most listing.MaxDepth items, a search reads at most
// listing.SearchScan, and the total comes from count (for a search: the
// matches up to where it read, exact once it reached the end).
func writeSearchPage[T, R any](w http.ResponseWriter, r *http.Request, list func(store.PageQuery) (store.Page[T], error),
	count func() (int, error), convert func(T) R) error {
	pageNo, size, err := pageParams(r)
	if err != nil {
		return err
	}
	req := listing.Request{Page: pageNo, Size: size, Search: r.URL.Query().Get("searchQuery"), NumbersOnly: true}
	q, err := req.Query()
	if err != nil {
		return httpapi.Invalid(map[string][]string{"page": {err.Error()}})
	}
	found, err := list(q)
	if err != nil {
		return err
	}
	out := wire.Page[R]{Page: pageNo, PageSize: size, Data: make([]R, 0, len(found.Items))}
	for _, v := range found.Items {
		out.Data = append(out.Data, convert(v))
	}
	out.Count = len(out.Data)
	if req.Search != "" {
		// Exact when the search read to the end (within listing.MaxDepth
		// names), a lower bound before.
		out.Total = found.Skipped + found.Matched
	} else if out.Total, err = count(); err != nil {
		return err
	}
	out.TotalPages = (out.Total + size - 1) / size
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) clientSubjects(w http.ResponseWriter, r *http.Request) error {
	ctx, ten := r.Context(), access.TenantOf(r)
	return writeSearchPage(w, r,
		func(q store.PageQuery) (store.Page[client.Client], error) { return s.Store.ListClients(ctx, ten, q) },
		func() (int, error) { return s.Store.CountClients(ctx, ten) },
		func(c client.Client) wire.Subject {
			return wire.Subject{ID: c.ID, DisplayName: c.Name, Tenant: c.Tenant, SubjectID: c.SubjectID(), Type: string(subject.Client)}
		})
}

func (s *Service) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req wire.GroupRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	f := httpapi.Fields{}
	f.Required("displayName", req.DisplayName != nil)
	f.Required("description", req.Description != nil)
	if err := f.Err(); err != nil {
		return err
	}
	spec := group.Spec{DisplayName: *req.DisplayName, Description: *req.Description}
	f.Merge(spec.Validate())
	label := httpapi.ProvenanceLabel(req.Provenance, f)
	if err := f.Err(); err != nil {
		return err
	}
	g := group.Group{Tenant: access.TenantOf(r), DisplayName: spec.DisplayName, Description: spec.Description,
		CreatedAt: s.Now().UTC().Truncate(time.Second), Provenance: provenance.Made(access.PrincipalFrom(r.Context()).Subject, label)}
	var err error
	g.ID, err = store.CreateWithNewID(func(newID string) error {
		g.ID = newID
		return s.Store.CreateGroup(r.Context(), g)
	})
	if err != nil {
		return err
	}
	audit.Note(r.Context(), ActionGroupWrite, "/groups/"+g.ID)
	w.Header().Set("Location", "/v1/subjects/groups/"+g.ID)
	httpapi.WriteJSON(w, http.StatusCreated, toGroup(g))
	return nil
}

func (s *Service) listGroups(w http.ResponseWriter, r *http.Request) error {
	ctx, ten := r.Context(), access.TenantOf(r)
	return writeSearchPage(w, r,
		func(q store.PageQuery) (store.Page[group.Group], error) { return s.Store.ListGroups(ctx, ten, q) },
		func() (int, error) { return s.Store.CountGroups(ctx, ten) },
		toGroup)
}

// lookupGroup returns the path's group, or a 404 problem.
func (s *Service) lookupGroup(r *http.Request) (group.Group, error) {
	gid := groupID(r)
	if !id.Valid(gid) {
		return group.Group{}, groupNotFound
	}
	g, err := s.Store.GetGroup(r.Context(), access.TenantOf(r), gid)
	return g, httpapi.About(err, "group")
}

func (s *Service) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.lookupGroup(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toGroup(g))
	return nil
}

// mayChangeMembers applies the no-escalation rule to a group's members:
// adding one confers every policy of the group, removing one (or deleting
// the group) takes them away, so the caller must hold them all.
func (s *Service) mayChangeMembers(r *http.Request, change, groupID string) error {
	return s.Guard.RequireHoldsSubject(r.Context(), change, subject.ID(subject.Group, groupID))
}

func (s *Service) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	gid := groupID(r)
	if !id.Valid(gid) {
		return groupNotFound
	}
	if err := s.mayChangeMembers(r, "delete "+subject.ID(subject.Group, gid), gid); err != nil {
		return err
	}
	if err := s.Store.DeleteGroup(r.Context(), access.TenantOf(r), gid); err != nil {
		return httpapi.About(err, "group")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) listMembers(w http.ResponseWriter, r *http.Request) error {
	page, size, err := pageParams(r)
	if err != nil {
		return err
	}
	g, err := s.lookupGroup(r)
	if err != nil {
		return err
	}
	ids, err := s.Store.Members(r.Context(), g.Tenant, g.ID)
	if err != nil {
		return err
	}
	members, err := s.describe(r, ids)
	if err != nil {
		return err
	}
	slices.SortFunc(members, func(a, b wire.Subject) int { return strings.Compare(a.SubjectID, b.SubjectID) })
	httpapi.WriteJSON(w, http.StatusOK, paginate(members, page, size))
	return nil
}

// memberIDs decodes and validates a members body: 1-100 distinct client or
// user subject ids (groups do not nest).
func memberIDs(w http.ResponseWriter, r *http.Request) ([]string, error) {
	var req wire.MembersRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	f := httpapi.Fields{}
	if req.SubjectIDs == nil || len(*req.SubjectIDs) == 0 || len(*req.SubjectIDs) > group.MaxMembersPerRequest {
		f.Add("subjectIds", fmt.Sprintf("must list 1 to %d subject ids", group.MaxMembersPerRequest))
		return nil, f.Err()
	}
	ids := *req.SubjectIDs
	for i, sid := range ids {
		kind, _, err := subject.Parse(sid)
		switch {
		case err != nil:
			f.Add("subjectIds", fmt.Sprintf("[%d] %s", i, err))
		case kind == subject.Group:
			f.Add("subjectIds", fmt.Sprintf("[%d] groups cannot be members of groups", i))
		case slices.Index(ids, sid) != i:
			f.Add("subjectIds", fmt.Sprintf("[%d] is listed twice", i))
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return ids, nil
}

// memberChange reads a members request: the path's group, the body's
// subject ids, and whether the caller may change the group's members at
// all (the no-escalation rule); change words what is attempted.
func (s *Service) memberChange(w http.ResponseWriter, r *http.Request, change string) (group.Group, []string, error) {
	g, err := s.lookupGroup(r)
	if err != nil {
		return group.Group{}, nil, err
	}
	ids, err := memberIDs(w, r)
	if err != nil {
		return group.Group{}, nil, err
	}
	return g, ids, s.mayChangeMembers(r, change+subject.ID(subject.Group, g.ID), g.ID)
}

// addMembers checks the whole request before writing anything: every
// client exists and the group has room. Each membership is then one
// transaction, which checks again.
func (s *Service) addMembers(w http.ResponseWriter, r *http.Request) error {
	g, ids, err := s.memberChange(w, r, "add members to ")
	if err != nil {
		return err
	}
	ctx := r.Context()
	names, err := s.Store.DisplayNames(ctx, g.Tenant, ids)
	if err != nil {
		return err
	}
	f := httpapi.Fields{}
	for i, sid := range ids {
		if kind, _, _ := subject.Parse(sid); kind == subject.Client && names[sid] == "" {
			f.Add("subjectIds", fmt.Sprintf("[%d] %s does not exist in this tenant", i, sid))
		}
	}
	if err := f.Err(); err != nil {
		return err
	}
	current, err := s.Store.Members(ctx, g.Tenant, g.ID)
	if err != nil {
		return err
	}
	added := 0
	for _, sid := range ids {
		if !slices.Contains(current, sid) {
			added++
		}
	}
	full := fmt.Sprintf("A group has at most %d members.", group.MaxMembers)
	if len(current)+added > group.MaxMembers {
		return httpapi.Conflict(full)
	}
	for _, sid := range ids {
		err := s.Store.AddMember(ctx, g.Tenant, g.ID, sid, group.MaxMembers)
		switch {
		case errors.Is(err, store.ErrSubjectNotFound):
			f.Add("subjectIds", sid+" does not exist in this tenant")
			return f.Err()
		case errors.Is(err, store.ErrLimitExceeded):
			return httpapi.Detailed(err, store.ErrLimitExceeded, full)
		case errors.Is(err, store.ErrSubjectLimitExceeded):
			return httpapi.Conflict(fmt.Sprintf("%s belongs to %d groups, the most a subject may (each is read by every authorization decision); members added before it in this request stay.",
				sid, group.MaxPerSubject))
		case err != nil:
			return httpapi.About(err, "group")
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) removeMembers(w http.ResponseWriter, r *http.Request) error {
	g, ids, err := s.memberChange(w, r, "remove members from ")
	if err != nil {
		return err
	}
	for _, sid := range ids {
		if err := s.Store.RemoveMember(r.Context(), g.Tenant, g.ID, sid); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) memberships(w http.ResponseWriter, r *http.Request) error {
	page, size, err := pageParams(r)
	if err != nil {
		return err
	}
	sid := r.PathValue("subjectId")
	kind, raw, perr := subject.Parse(sid)
	if perr != nil || kind == subject.Group {
		return httpapi.Detailed(store.ErrNotFound, store.ErrNotFound, "No subject with that id can have memberships.")
	}
	ctx := r.Context()
	if kind == subject.Client {
		if _, err := s.Store.GetClient(ctx, access.TenantOf(r), raw); err != nil {
			return httpapi.Detailed(err, store.ErrNotFound, "No subject with that id exists.")
		}
	}
	gids, err := s.Store.Memberships(ctx, access.TenantOf(r), sid)
	if err != nil {
		return err
	}
	groups := make([]string, len(gids))
	for i, gid := range gids {
		groups[i] = subject.ID(subject.Group, gid)
	}
	out, err := s.describe(r, groups)
	if err != nil {
		return err
	}
	slices.SortFunc(out, func(a, b wire.Subject) int {
		return strings.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName))
	})
	httpapi.WriteJSON(w, http.StatusOK, paginate(out, page, size))
	return nil
}
