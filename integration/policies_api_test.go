package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func items(t *testing.T, r response) []map[string]any {
	t.Helper()
	if r.Status != 200 {
		t.Fatal(r)
	}
	var out []map[string]any
	for _, it := range r.json(t)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func triples(ps []map[string]any) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p["subject"].(string)+" "+p["action"].(string)+" "+p["scope"].(string))
	}
	return out
}

func TestPolicyCreateIsIdempotentAndValidated(t *testing.T) {
	admin, _ := newTenantAdmin(t, "policy-validation")
	id, _ := newClient(t, admin, "policy-subject")
	subj := "client-" + id
	body := map[string]string{"subject": subj, "action": "banking.ais.read", "scope": "/subscriptions/12/"}
	first := send(t, http.MethodPost, "/v1/policies", admin, body)
	if first.Status != 200 {
		t.Fatal(first)
	}
	p := first.json(t)
	if p["scope"] != "/subscriptions/12" || p["tenant"] == "" || p["tenant"] == "default" || p["createdAt"] == "" {
		t.Errorf("policy = %v (scope normalized, tenant named)", p)
	}
	again := send(t, http.MethodPost, "/v1/policies", admin, body)
	if again.Status != 200 || string(again.Body) != string(first.Body) {
		t.Errorf("creating the same triple again returns it unchanged:\n%s\n%s", first.Body, again.Body)
	}
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"missing scope", map[string]string{"subject": subj, "action": "owner"}, "scope"},
		{"relative scope", map[string]string{"subject": subj, "action": "owner", "scope": "clients"}, "scope"},
		{"dot segment", map[string]string{"subject": subj, "action": "owner", "scope": "/a/../b"}, "scope"},
		{"empty segment", map[string]string{"subject": subj, "action": "owner", "scope": "/a//b"}, "scope"},
		{"scope too long", map[string]string{"subject": subj, "action": "owner", "scope": "/" + strings.Repeat("a", 512)}, "scope"},
		{"unknown action", map[string]string{"subject": subj, "action": "banking.everything", "scope": "/"}, "action"},
		{"malformed subject", map[string]string{"subject": "robot-1", "action": "owner", "scope": "/"}, "subject"},
		{"unknown client", map[string]string{"subject": "client-00000000-0000-4000-8000-000000000000", "action": "owner", "scope": "/"}, "subject"},
		{"unknown group", map[string]string{"subject": "group-00000000-0000-4000-8000-000000000000", "action": "owner", "scope": "/"}, "subject"},
		{"wrong type", map[string]any{"subject": subj, "action": 1, "scope": "/"}, "action"},
		{"unknown field", map[string]any{"subject": subj, "action": "owner", "scope": "/", "effect": "deny"}, "effect"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, http.MethodPost, "/v1/policies", admin, c.body)
			assertProblem(t, r, http.StatusBadRequest)
			if _, ok := r.json(t)["errors"].(map[string]any)[c.field]; !ok {
				t.Errorf("errors should name %s: %s", c.field, r.Body)
			}
		})
	}
	if r := send(t, http.MethodPost, "/v1/policies", admin, map[string]string{"subject": "user-00000000-0000-0000-0000-000000000000", "action": "banking.ais.read", "scope": "/"}); r.Status != 200 {
		t.Errorf("user subjects are accepted as they are: %s", r)
	}
	assertProblem(t, send(t, http.MethodDelete, "/v1/policies", admin, map[string]string{"subject": subj, "action": "owner", "scope": "/"}), http.StatusNotFound)
}

func TestPolicyListing(t *testing.T) {
	admin, res := newTenantAdmin(t, "policy-listing")
	id, _ := newClient(t, admin, "lister")
	subj := "client-" + id
	gid := newGroup(t, admin, "listers")
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{subj}}); r.Status != 204 {
		t.Fatal(r)
	}
	grant(t, admin, subj, "banking.ais.read", "/subscriptions/1")
	grant(t, admin, subj, "banking.manage", "/subscriptions")
	grant(t, admin, subj, "banking.pis.read", "/subscriptions/1/resource-groups/a")
	grant(t, admin, "group-"+gid, "banking.ais.manage", "/")

	list := func(q string) []string {
		return triples(items(t, send(t, http.MethodGet, "/v1/policies?"+q, admin, nil)))
	}
	eq := func(name string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
	eq("subject", list("subject="+subj),
		subj+" banking.ais.read /subscriptions/1", subj+" banking.manage /subscriptions", subj+" banking.pis.read /subscriptions/1/resource-groups/a")
	eq("inherited", list("subject="+subj+"&includeInherited=true&action=banking.ais.manage"),
		"group-"+gid+" banking.ais.manage /")
	eq("exact action and scope", list("subject="+subj+"&action=banking.ais.read&scope=/subscriptions/1"),
		subj+" banking.ais.read /subscriptions/1")
	eq("derived: everything that grants banking.ais.read on an account", list("subject="+subj+"&includeInherited=true&includeDerived=true&action=banking.ais.read&scope=/subscriptions/1/resource-groups/a/providers/x/accounts/9"),
		subj+" banking.ais.read /subscriptions/1", subj+" banking.manage /subscriptions", "group-"+gid+" banking.ais.manage /")
	eq("derived without inherited", list("subject="+subj+"&includeDerived=true&action=banking.ais.read&scope=/subscriptions/1"),
		subj+" banking.ais.read /subscriptions/1", subj+" banking.manage /subscriptions")
	eq("tenant-wide by action", list("action=owner"), "client-"+res.ClientID+" owner /")

	// Cursor paging over the whole tenant walks every policy exactly once.
	var walked []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("cursor does not end")
		}
		q := url.Values{"pageSize": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := send(t, http.MethodGet, "/v1/policies?"+q.Encode(), admin, nil)
		page := items(t, r)
		if len(page) > 2 {
			t.Fatalf("page of %d", len(page))
		}
		walked = append(walked, triples(page)...)
		c, ok := r.json(t)["cursor"].(string)
		if !ok {
			break
		}
		cursor = c
	}
	eq("walk", walked, list("pageSize=200")...)
	if len(walked) != 5 {
		t.Errorf("walked %d policies, want 5", len(walked))
	}
	for _, q := range []string{"pageSize=0", "pageSize=201", "cursor=%21%21", "cursor=bm90LWpzb24", "scope=nope", "action=No..pe", "subject=nope", "includeDerived=maybe"} {
		assertProblem(t, send(t, http.MethodGet, "/v1/policies?"+q, admin, nil), http.StatusBadRequest)
	}
}

func TestCheckAndPermissions(t *testing.T) {
	admin, _ := newTenantAdmin(t, "checks")
	id, _ := newClient(t, admin, "checked")
	subj := "client-" + id
	gid := newGroup(t, admin, "checkers")
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{subj}}); r.Status != 204 {
		t.Fatal(r)
	}
	grant(t, admin, subj, "banking.ais.read", "/subscriptions/1")
	grant(t, admin, "group-"+gid, "banking.ais.read", "/subscriptions/1")
	grant(t, admin, "group-"+gid, "banking.pis.manage", "/")

	check := func(act, sc string) map[string]any {
		r := send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": subj, "action": act, "scope": sc})
		if r.Status != 200 {
			t.Fatal(r)
		}
		return r.json(t)
	}
	if c := check("banking.ais.read", "/subscriptions/1/resource-groups/x"); c["allowed"] != true || len(c["grantedBy"].([]any)) != 2 {
		t.Errorf("direct and group grants: %v", c)
	}
	if c := check("banking.ais.read", "/subscriptions/12"); c["allowed"] != false || len(c["grantedBy"].([]any)) != 0 {
		t.Errorf("sibling scope: %v", c)
	}
	if c := check("banking.pis.authorize", "/subscriptions/7"); c["allowed"] != true {
		t.Errorf("group's parent action: %v", c)
	}
	unknown := send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": "client-00000000-0000-4000-8000-000000000000", "action": "owner", "scope": "/"})
	if unknown.Status != 200 || unknown.json(t)["allowed"] != false {
		t.Errorf("an unknown subject is allowed nothing: %s", unknown)
	}
	assertProblem(t, send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": subj, "action": "owner", "scope": "x"}), http.StatusBadRequest)

	perms := send(t, http.MethodGet, "/v1/subjects/"+subj+"/permissions", admin, nil)
	if perms.Status != 200 {
		t.Fatal(perms)
	}
	b := perms.json(t)
	data := b["data"].([]any)
	if b["total"] != 2.0 || b["count"] != 2.0 || b["page"] != 1.0 || b["pageSize"] != 50.0 || b["totalPages"] != 1.0 || len(data) != 2 {
		t.Fatalf("permissions = %v", b)
	}
	first := data[0].(map[string]any)
	if first["action"] != "banking.pis.manage" || first["scope"] != "/" || len(first["grantedBy"].([]any)) != 1 {
		t.Errorf("first permission = %v", first)
	}
	if second := data[1].(map[string]any); len(second["grantedBy"].([]any)) != 2 {
		t.Errorf("a pair granted twice lists both policies: %v", second)
	}
	if b := send(t, http.MethodGet, "/v1/subjects/"+subj+"/permissions?pageSize=1", admin, nil).json(t); b["pageSize"] != 10.0 {
		t.Errorf("pageSize is clamped to 10: %v", b["pageSize"])
	}
	if b := send(t, http.MethodGet, "/v1/subjects/"+subj+"/permissions?pageSize=1000", admin, nil).json(t); b["pageSize"] != 200.0 {
		t.Errorf("pageSize is clamped to 200: %v", b["pageSize"])
	}
	assertProblem(t, send(t, http.MethodGet, "/v1/subjects/client-00000000-0000-4000-8000-000000000000/permissions", admin, nil), http.StatusNotFound)
	assertProblem(t, send(t, http.MethodGet, "/v1/subjects/nobody/permissions", admin, nil), http.StatusNotFound)
}

func TestSubjectsAndGroups(t *testing.T) {
	admin, res := newTenantAdmin(t, "subjects")
	id, _ := newClient(t, admin, "Nightly ERP")
	subj := "client-" + id
	clients := send(t, http.MethodGet, "/v1/subjects/clients?searchQuery=erp", admin, nil).json(t)
	data := clients["data"].([]any)
	if clients["total"] != 1.0 || len(data) != 1 {
		t.Fatalf("client subjects = %v", clients)
	}
	if s := data[0].(map[string]any); s["id"] != id || s["subjectId"] != subj || s["type"] != "Client" || s["displayName"] != "Nightly ERP" || s["tenant"] != res.Tenant {
		t.Errorf("subject = %v", s)
	}

	created := send(t, http.MethodPost, "/v1/subjects/groups", admin, map[string]string{"displayName": "Finance Team", "description": "Reads accounts"})
	if created.Status != 201 {
		t.Fatal(created)
	}
	g := created.json(t)
	gid := g["id"].(string)
	if g["subjectId"] != "group-"+gid || g["type"] != "Group" || g["displayName"] != "Finance Team" || created.Header.Get("Location") != "/v1/subjects/groups/"+gid {
		t.Errorf("group = %v %v", g, created.Header)
	}
	for _, path := range []string{gid, "group-" + gid} {
		if r := send(t, http.MethodGet, "/v1/subjects/groups/"+path, admin, nil); r.Status != 200 || r.json(t)["id"] != gid {
			t.Errorf("GET by %s: %s", path, r)
		}
	}
	if l := send(t, http.MethodGet, "/v1/subjects/groups?searchQuery=finance", admin, nil).json(t); l["total"] != 1.0 {
		t.Errorf("groups = %v", l)
	}
	user := "user-550e8400-e29b-41d4-a716-446655440000"
	add := func(ids ...string) response {
		return send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": ids})
	}
	if r := add(subj, user); r.Status != 204 {
		t.Fatal(r)
	}
	if r := add(subj); r.Status != 204 {
		t.Errorf("adding a member again is a no-op: %s", r)
	}
	members := send(t, http.MethodGet, "/v1/subjects/groups/"+gid+"/members", admin, nil).json(t)
	if members["total"] != 2.0 {
		t.Fatalf("members = %v", members)
	}
	ms := send(t, http.MethodGet, "/v1/subjects/"+subj+"/memberships", admin, nil).json(t)
	if ms["total"] != 1.0 || ms["data"].([]any)[0].(map[string]any)["displayName"] != "Finance Team" {
		t.Errorf("memberships = %v", ms)
	}
	for _, c := range []struct {
		name string
		body any
	}{
		{"empty", map[string]any{"subjectIds": []string{}}},
		{"missing", map[string]any{}},
		{"nested group", map[string]any{"subjectIds": []string{"group-" + gid}}},
		{"malformed", map[string]any{"subjectIds": []string{"bob"}}},
		{"duplicate", map[string]any{"subjectIds": []string{user, user}}},
		{"unknown client", map[string]any{"subjectIds": []string{user, "client-00000000-0000-4000-8000-000000000000"}}},
		{"too many", map[string]any{"subjectIds": manyUsers(101)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertProblem(t, send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, c.body), http.StatusBadRequest)
		})
	}
	if got := send(t, http.MethodGet, "/v1/subjects/groups/"+gid+"/members", admin, nil).json(t)["total"]; got != 2.0 {
		t.Errorf("a refused request must change nothing: %v members", got)
	}
	for _, c := range []struct {
		name string
		body any
	}{
		{"missing name", map[string]string{"description": "x"}},
		{"blank name", map[string]string{"displayName": " ", "description": "x"}},
		{"long name", map[string]string{"displayName": strings.Repeat("g", 201), "description": "x"}},
		{"missing description", map[string]string{"displayName": "x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertProblem(t, send(t, http.MethodPost, "/v1/subjects/groups", admin, c.body), http.StatusBadRequest)
		})
	}
	for _, path := range []string{"/v1/subjects/groups/00000000-0000-4000-8000-000000000000", "/v1/subjects/groups/nope", "/v1/subjects/groups/00000000-0000-4000-8000-000000000000/members"} {
		assertProblem(t, send(t, http.MethodGet, path, admin, nil), http.StatusNotFound)
	}
	if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{user}}); r.Status != 204 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+gid, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	assertProblem(t, send(t, http.MethodDelete, "/v1/subjects/groups/"+gid, admin, nil), http.StatusNotFound)
	if n := partitionSize(t, "T#"+res.Tenant+"#S#group-"+gid); n != 0 {
		t.Errorf("%d items left in the deleted group's partition", n)
	}
}

func manyUsers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "user-00000000-0000-4000-8000-" + strings.Repeat("0", 12-len(itoa(i))) + itoa(i)
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
