package policiesapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/shared/endpoints/policiesapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

type policyJSON struct {
	Subject   string `json:"subject"`
	Action    string `json:"action"`
	Scope     string `json:"scope"`
	Tenant    string `json:"tenant"`
	CreatedAt string `json:"createdAt"`
}

// pageB is envelope B of api.md.
type pageB[T any] struct {
	Page       int `json:"page"`
	PageSize   int `json:"pageSize"`
	Count      int `json:"count"`
	Total      int `json:"total"`
	TotalPages int `json:"totalPages"`
	Data       []T `json:"data"`
}

type subjectJSON struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Tenant      string `json:"tenant"`
	SubjectID   string `json:"subjectId"`
	Type        string `json:"type"`
}

// TestCheckAndPermissions: a check answers whether a subject is allowed an
// action on a scope, with every policy, its own or a group's, that grants
// it; effective permissions list each (action, scope) pair the subject
// holds once, with the policies granting it, in envelope B. A subject that
// does not exist is allowed nothing, and has no permissions to list (404).
func TestCheckAndPermissions(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	tok := e.Token(e.Caller("iam.policy.read on /"))
	c := e.Client()
	subj := c.SubjectID()
	e.Grant(subj, "banking.ais.read on /subscriptions/1")
	g := e.Group([]string{"banking.ais.read on /subscriptions/1", "banking.pis.manage on /"}, subj)

	check := func(subject, act, sc string) (allowed bool, by []policyJSON) {
		t.Helper()
		var out struct {
			Allowed   bool         `json:"allowed"`
			GrantedBy []policyJSON `json:"grantedBy"`
		}
		apitest.Do(t, h, http.MethodPost, "/v1/permissions/check", tok, triple(subject, act, sc)).JSON(http.StatusOK, &out)
		if out.GrantedBy == nil {
			t.Fatalf("grantedBy is absent or null")
		}
		return out.Allowed, out.GrantedBy
	}
	allowed, by := check(subj, "banking.ais.read", "/subscriptions/1/accounts/9")
	if !allowed || len(by) != 2 || by[0].Subject != subj || by[1].Subject != "group-"+g.ID ||
		by[0].Action != "banking.ais.read" || by[0].Scope != "/subscriptions/1" || by[0].Tenant != e.Tenant || by[0].CreatedAt == "" {
		t.Errorf("direct and group grants: %v %+v", allowed, by)
	}
	if allowed, by := check(subj, "banking.pis.authorize", "/x"); !allowed || len(by) != 1 || by[0].Action != "banking.pis.manage" {
		t.Errorf("a group's ancestor action: %v %+v", allowed, by)
	}
	if allowed, by := check(subj, "banking.ais.read", "/subscriptions/12"); allowed || len(by) != 0 {
		t.Errorf("a sibling scope: %v %+v", allowed, by)
	}
	if allowed, _ := check("client-00000000-0000-4000-8000-000000000000", "owner", "/"); allowed {
		t.Error("a subject that does not exist is allowed")
	}

	var perms pageB[struct {
		Action    string       `json:"action"`
		Scope     string       `json:"scope"`
		GrantedBy []policyJSON `json:"grantedBy"`
	}]
	apitest.Do(t, h, http.MethodGet, "/v1/subjects/"+subj+"/permissions", tok, nil).JSON(http.StatusOK, &perms)
	if perms.Page != 1 || perms.PageSize != 50 || perms.Count != 2 || perms.Total != 2 || perms.TotalPages != 1 || len(perms.Data) != 2 {
		t.Fatalf("permissions %+v", perms)
	}
	if p := perms.Data[0]; p.Action != "banking.pis.manage" || p.Scope != "/" || len(p.GrantedBy) != 1 {
		t.Errorf("first permission %+v", p)
	}
	if p := perms.Data[1]; p.Action != "banking.ais.read" || len(p.GrantedBy) != 2 {
		t.Errorf("a pair granted twice lists both policies: %+v", p)
	}
	apitest.Do(t, h, http.MethodGet, "/v1/subjects/"+subj+"/permissions?pageSize=1&page=2", tok, nil).JSON(http.StatusOK, &perms)
	if perms.PageSize != 10 || perms.Page != 2 || perms.Count != 0 || perms.Data == nil {
		t.Errorf("pageSize clamped to 10, an empty page past the end: %+v", perms)
	}
	for _, s := range []string{"client-00000000-0000-4000-8000-000000000000", "nobody"} {
		p := apitest.Do(t, h, http.MethodGet, "/v1/subjects/"+s+"/permissions", tok, nil).Problem(http.StatusNotFound, httpapi.TypeBlank)
		if p.Detail != "No subject with that id exists." {
			t.Errorf("%s: detail %q", s, p.Detail)
		}
	}
	apitest.Do(t, h, http.MethodPost, "/v1/permissions/check", tok, triple(subj, "owner", "x")).Invalid("scope")
}

// TestSubjects: client subjects (searched by name), a group's members and a
// subject's memberships come as subjects in envelope B: id, display name,
// tenant, subject id and type; a user's display name is its subject id.
func TestSubjects(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	tok := e.Token(e.Caller("iam.policy.read on /", "iam.group.read on /groups"))
	erp := e.Create(client.Client{Spec: client.Spec{Name: "Nightly ERP"}})
	e.Create(client.Client{Spec: client.Spec{Name: "Other"}})
	const user = "user-550e8400-e29b-41d4-a716-446655440000"
	g := e.Group(nil, erp.SubjectID(), user)

	var clients pageB[subjectJSON]
	apitest.Do(t, h, http.MethodGet, "/v1/subjects/clients?searchQuery="+url.QueryEscape("erp"), tok, nil).JSON(http.StatusOK, &clients)
	want := subjectJSON{ID: erp.ID, DisplayName: "Nightly ERP", Tenant: e.Tenant, SubjectID: erp.SubjectID(), Type: "Client"}
	if clients.Total != 1 || len(clients.Data) != 1 || clients.Data[0] != want {
		t.Errorf("client subjects %+v, want %+v", clients, want)
	}
	apitest.Do(t, h, http.MethodGet, "/v1/subjects/clients", tok, nil).JSON(http.StatusOK, &clients)
	if clients.Total != 3 || clients.Count != 3 {
		t.Errorf("every client: %+v", clients)
	}

	var members pageB[subjectJSON]
	apitest.Do(t, h, http.MethodGet, "/v1/subjects/groups/"+g.ID+"/members", tok, nil).JSON(http.StatusOK, &members)
	if members.Total != 2 || members.Data[0] != want ||
		members.Data[1] != (subjectJSON{ID: "550e8400-e29b-41d4-a716-446655440000", DisplayName: user, Tenant: e.Tenant, SubjectID: user, Type: "User"}) {
		t.Errorf("members %+v", members)
	}
	var ms pageB[subjectJSON]
	apitest.Do(t, h, http.MethodGet, "/v1/subjects/"+erp.SubjectID()+"/memberships", tok, nil).JSON(http.StatusOK, &ms)
	if ms.Total != 1 || ms.Data[0].SubjectID != "group-"+g.ID || ms.Data[0].Type != "Group" || ms.Data[0].DisplayName != g.DisplayName {
		t.Errorf("memberships %+v", ms)
	}
	for _, s := range []string{"group-" + g.ID, "client-00000000-0000-4000-8000-000000000000"} {
		apitest.Do(t, h, http.MethodGet, "/v1/subjects/"+s+"/memberships", tok, nil).Problem(http.StatusNotFound, httpapi.TypeBlank)
	}
}

// TestPolicyListing: the policies of a subject (with includeInherited,
// its groups' too), filtered by action and scope, exactly or with
// includeDerived by what grants them; the tenant's policies page by an
// opaque cursor that walks each once.
func TestPolicyListing(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	reader := e.Caller("iam.policy.read on /")
	tok := e.Token(reader)
	subj := e.Client().SubjectID()
	e.Grant(subj, "banking.ais.read on /subscriptions/1")
	e.Grant(subj, "banking.manage on /subscriptions")
	g := e.Group([]string{"banking.ais.manage on /"}, subj)

	list := func(q string) []string {
		t.Helper()
		var l struct {
			Items  []policyJSON `json:"items"`
			Cursor string       `json:"cursor"`
		}
		apitest.Do(t, h, http.MethodGet, "/v1/policies?"+q, tok, nil).JSON(http.StatusOK, &l)
		var out []string
		for _, p := range l.Items {
			out = append(out, p.Subject+" "+p.Action+" "+p.Scope)
		}
		return out
	}
	eq := func(name string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %q, want %q", name, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %q, want %q", name, got, want)
				return
			}
		}
	}
	q := url.Values{"subject": {subj}}
	eq("own", list(q.Encode()), subj+" banking.ais.read /subscriptions/1", subj+" banking.manage /subscriptions")
	q.Set("includeInherited", "true")
	q.Set("action", "banking.ais.manage")
	eq("inherited", list(q.Encode()), "group-"+g.ID+" banking.ais.manage /")
	q.Set("includeDerived", "true")
	q.Set("action", "banking.ais.read")
	q.Set("scope", "/subscriptions/1/accounts/9")
	eq("derived", list(q.Encode()), subj+" banking.ais.read /subscriptions/1", subj+" banking.manage /subscriptions", "group-"+g.ID+" banking.ais.manage /")

	var walked []string
	cursor := ""
	for range 10 {
		v := url.Values{"pageSize": {"2"}}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var l struct {
			Items  []policyJSON `json:"items"`
			Cursor string       `json:"cursor"`
		}
		apitest.Do(t, h, http.MethodGet, "/v1/policies?"+v.Encode(), tok, nil).JSON(http.StatusOK, &l)
		if len(l.Items) > 2 {
			t.Fatalf("a page of %d", len(l.Items))
		}
		for _, p := range l.Items {
			walked = append(walked, p.Subject+" "+p.Action+" "+p.Scope)
		}
		if cursor = l.Cursor; cursor == "" {
			break
		}
	}
	eq("walk", walked, list("pageSize=200")...)
	if len(walked) != 4 {
		t.Errorf("walked %q, want the tenant's 4 policies", walked)
	}
	for _, bad := range []struct{ query, field string }{
		{"cursor=bm90LWpzb24", "cursor"}, {"pageSize=0", "pageSize"}, {"scope=nope", "scope"}, {"subject=nope", "subject"},
	} {
		apitest.Do(t, h, http.MethodGet, "/v1/policies?"+bad.query, tok, nil).Invalid(bad.field)
	}
}
