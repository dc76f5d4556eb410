package policiesapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/shared/endpoints/policiesapi"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func members(t *testing.T, e *apitest.Env, g group.Group) []string {
	t.Helper()
	m, err := e.Store.Members(context.Background(), e.Tenant, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMembershipNoEscalation: a member of a group holds every policy of
// the group, so adding one, removing one and deleting the group each need
// the caller to hold all of them (iam.group.write alone is not enough): a
// 403 naming what it lacks, and the group stays as it was.
func TestMembershipNoEscalation(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	caller := e.Caller("iam.group.write on /groups")
	tok := e.Token(caller)
	self := map[string]any{"subjectIds": []string{caller.SubjectID()}}

	owners := e.Group([]string{"owner on /"})
	apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups/"+owners.ID+"/members", tok, self).
		Forbidden("The caller cannot add members to group-"+owners.ID, "owner on /")
	weaker := e.Group([]string{"iam.client.read on /clients", "banking.ais.read on /subscriptions/1"})
	apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups/"+weaker.ID+"/members", tok, self).
		Forbidden("iam.client.read on /clients", "banking.ais.read on /subscriptions/1")
	if len(members(t, e, owners)) != 0 || len(members(t, e, weaker)) != 0 {
		t.Fatal("a refused add changed a group")
	}

	e.Grant(caller.SubjectID(), "iam.client.manage on /clients")
	e.Grant(caller.SubjectID(), "banking.ais.read on /subscriptions")
	other := e.Client()
	both := map[string]any{"subjectIds": []string{caller.SubjectID(), other.SubjectID()}}
	if r := apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups/"+weaker.ID+"/members", tok, both); r.Code != http.StatusNoContent {
		t.Fatalf("caller holding every policy of the group: %d %s", r.Code, r.Body)
	}
	if m := members(t, e, weaker); len(m) != 2 {
		t.Fatalf("members %v", m)
	}

	// Removing and deleting take the group's policies away.
	held := e.Group([]string{"banking.pis.authorize on /"}, other.SubjectID())
	gone := map[string]any{"subjectIds": []string{other.SubjectID()}}
	apitest.Do(t, h, http.MethodDelete, "/v1/subjects/groups/"+held.ID+"/members", tok, gone).
		Forbidden("The caller cannot remove members from group-"+held.ID, "banking.pis.authorize on /")
	apitest.Do(t, h, http.MethodDelete, "/v1/subjects/groups/"+held.ID, tok, nil).
		Forbidden("The caller cannot delete group-"+held.ID, "banking.pis.authorize on /")
	if m := members(t, e, held); len(m) != 1 {
		t.Fatalf("a refused removal changed the group: %v", m)
	}
	if _, err := e.Store.GetGroup(context.Background(), e.Tenant, held.ID); err != nil {
		t.Fatalf("a refused delete removed the group: %v", err)
	}
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/subjects/groups/"+weaker.ID+"/members", tok, gone); r.Code != http.StatusNoContent {
		t.Fatalf("removing from a group whose policies the caller holds: %d %s", r.Code, r.Body)
	}
	if m := members(t, e, weaker); !slices.Equal(m, []string{caller.SubjectID()}) {
		t.Fatalf("members %v", m)
	}
}

// TestMembersValidation: a members body names 1 to 100 distinct client or
// user subject ids (groups do not nest) of clients that exist; anything
// else is a 400 naming subjectIds, and nothing is added.
func TestMembersValidation(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	tok := e.Token(e.Owner())
	g := e.Group(nil)
	c := e.Client().SubjectID()
	var tooMany []string
	for i := range group.MaxMembersPerRequest + 1 {
		tooMany = append(tooMany, fmt.Sprintf("user-00000000-0000-4000-8000-%012d", i))
	}
	for _, b := range []struct {
		name   string
		ids    []string
		detail string
	}{
		{"none", []string{}, fmt.Sprintf("must list 1 to %d", group.MaxMembersPerRequest)},
		{"too many", tooMany, fmt.Sprintf("must list 1 to %d", group.MaxMembersPerRequest)},
		{"a group", []string{"group-" + g.ID}, "groups cannot be members"},
		{"twice", []string{c, c}, "is listed twice"},
		{"malformed", []string{"client-x"}, "lower-case UUID"},
		{"no such client", []string{c, "client-00000000-0000-4000-8000-000000000000"}, "does not exist in this tenant"},
	} {
		t.Run(b.name, func(t *testing.T) {
			p := apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups/"+g.ID+"/members", tok, map[string]any{"subjectIds": b.ids}).Invalid("subjectIds")
			if !strings.Contains(strings.Join(p.Errors["subjectIds"], " "), b.detail) {
				t.Errorf("errors %v do not say %q", p.Errors, b.detail)
			}
		})
	}
	if m := members(t, e, g); len(m) != 0 {
		t.Fatalf("refused adds left members %v", m)
	}
	// Users come from an identity provider: any well-formed id may join.
	if r := apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups/"+g.ID+"/members", tok, map[string]any{"subjectIds": tooMany[:2]}); r.Code != http.StatusNoContent {
		t.Fatalf("users: %d %s", r.Code, r.Body)
	}
}

// TestGroupLifecycle: a group is created (201, Location, recorded as made
// by the caller), read by its id or its subject id, and deleted; a group
// that does not exist, or an id that is none, is a 404.
func TestGroupLifecycle(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	caller := e.Caller("iam.group.manage on /groups")
	tok := e.Token(caller)
	var g struct {
		ID, SubjectID, DisplayName, Description, Tenant, Type string
		Provenance                                            struct{ CreatedBy string }
	}
	r := apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups", tok, map[string]string{"displayName": "Operators", "description": "d"})
	r.JSON(http.StatusCreated, &g)
	if r.Header().Get("Location") != "/v1/subjects/groups/"+g.ID || g.SubjectID != "group-"+g.ID || g.Type != "Group" ||
		g.Tenant != e.Tenant || g.Provenance.CreatedBy != caller.SubjectID() {
		t.Errorf("created %+v, Location %q", g, r.Header().Get("Location"))
	}
	apitest.Do(t, h, http.MethodPost, "/v1/subjects/groups", tok, map[string]string{"displayName": " "}).Invalid("description")
	for _, path := range []string{g.ID, g.SubjectID} {
		var got struct{ DisplayName string }
		apitest.Do(t, h, http.MethodGet, "/v1/subjects/groups/"+path, tok, nil).JSON(http.StatusOK, &got)
		if got.DisplayName != "Operators" {
			t.Errorf("GET %s: %+v", path, got)
		}
	}
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/subjects/groups/"+g.ID, tok, nil); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, g.ID}, {http.MethodDelete, g.ID}, {http.MethodGet, "nope"}, {http.MethodGet, g.ID + "/members"},
	} {
		p := apitest.Do(t, h, c.method, "/v1/subjects/groups/"+c.path, tok, nil).Problem(http.StatusNotFound, httpapi.TypeBlank)
		if p.Detail != "No group with that id exists." {
			t.Errorf("%s %s: detail %q", c.method, c.path, p.Detail)
		}
	}
}
