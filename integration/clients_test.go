package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestClientsCRUD(t *testing.T) {
	admin := adminToken(t)
	created := send(t, http.MethodPost, "/v1/clients", admin, clientBody("crud-client"))
	if created.Status != http.StatusCreated {
		t.Fatal(created)
	}
	c := created.json(t)
	id := c["clientId"].(string)
	if created.Header.Get("Location") != "/v1/clients/"+id || created.Header.Get("ETag") != `"1"` {
		t.Errorf("Location %q, ETag %q", created.Header.Get("Location"), created.Header.Get("ETag"))
	}
	if c["subjectId"] != "client-"+id || c["createdAt"] == "" || c["createdAt"] != c["updatedAt"] {
		t.Errorf("client = %v", c)
	}

	got := send(t, http.MethodGet, "/v1/clients/"+id, admin, nil)
	if got.Status != 200 || got.Header.Get("ETag") != `"1"` || got.json(t)["name"] != "crud-client" {
		t.Fatal(got)
	}

	update := clientBody("crud-client-renamed", "api", "services.banking")
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", `"7"`); r.Status != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %s", r)
	}
	put := send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", `"1"`)
	if put.Status != 200 || put.Header.Get("ETag") != `"2"` || put.json(t)["name"] != "crud-client-renamed" {
		t.Fatalf("conditional update: %s %v", put, put.Header)
	}
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", `"1"`); r.Status != http.StatusPreconditionFailed {
		t.Fatalf("the old version must no longer match: %s", r)
	}
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", `"5", "2"`); r.Status != 200 || r.Header.Get("ETag") != `"3"` {
		t.Fatalf("a list holding the current version matches: %s", r)
	}
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", "*"); r.Status != 200 {
		t.Fatalf("If-Match * matches an existing client: %s", r)
	}
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update); r.Status != 200 || r.Header.Get("ETag") != `"5"` {
		t.Fatalf("unconditional update: %s", r)
	}

	if r := send(t, http.MethodDelete, "/v1/clients/"+id, admin, nil); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatal(r)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		if r := send(t, m, "/v1/clients/"+id, admin, nil); r.Status != 404 {
			t.Errorf("%s after delete: %s", m, r)
		}
	}
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update); r.Status != 404 {
		t.Errorf("PUT after delete: %s", r)
	}
	if r := send(t, http.MethodGet, "/v1/clients/"+id+"/secrets", admin, nil); r.Status != 404 {
		t.Errorf("secrets of a deleted client: %s", r)
	}
}

// TestClientsListPaging follows the links of envelope A: next and previous
// pages by cursor, the last page, a page jump, and a search.
func TestClientsListPaging(t *testing.T) {
	admin, _ := newTenantAdmin(t, "paging")
	for i := range 5 {
		if r := send(t, http.MethodPost, "/v1/clients", admin, clientBody(fmt.Sprintf("Pager %d", i))); r.Status != 201 {
			t.Fatal(r)
		}
	}
	if r := send(t, http.MethodPost, "/v1/clients", admin, clientBody("other")); r.Status != 201 {
		t.Fatal(r)
	}
	type page struct {
		names      []string
		meta       map[string]any
		links      map[string]any
		next, prev string
	}
	get := func(path string) page {
		t.Helper()
		r := send(t, http.MethodGet, path, admin, nil)
		if r.Status != 200 {
			t.Fatal(r)
		}
		body := r.json(t)
		p := page{meta: body["metadata"].(map[string]any), links: body["links"].(map[string]any)}
		for _, it := range body["items"].([]any) {
			p.names = append(p.names, it.(map[string]any)["name"].(string))
		}
		p.next, _ = p.links["next"].(string)
		p.prev, _ = p.links["previous"].(string)
		return p
	}
	// Seven clients in name order: other, Pager 0-4, Tenant administrator.
	want := [][]string{{"other", "Pager 0"}, {"Pager 1", "Pager 2"}, {"Pager 3", "Pager 4"}, {"Tenant administrator"}}
	p := get("/v1/clients?pageSize=2")
	var pages []page
	for i := 0; ; i++ {
		if fmt.Sprint(p.names) != fmt.Sprint(want[i]) || p.meta["page"] != float64(i+1) || p.meta["totalCount"] != 7.0 {
			t.Fatalf("page %d: %v %v", i+1, p.names, p.meta)
		}
		pages = append(pages, p)
		if p.next == "" {
			break
		}
		p = get(p.next)
	}
	if len(pages) != 4 || pages[0].prev != "" || pages[0].links["first"] != "/v1/clients?pageSize=2" {
		t.Fatalf("%d pages, first %v", len(pages), pages[0].links)
	}
	if back := get(pages[2].prev); fmt.Sprint(back.names) != fmt.Sprint(want[1]) || back.meta["page"] != 2.0 || back.next == "" {
		t.Errorf("previous of page 3: %v %v", back.names, back.meta)
	}
	if last := get(pages[0].links["last"].(string)); fmt.Sprint(last.names) != fmt.Sprint(want[3]) || last.meta["page"] != 4.0 || last.next != "" {
		t.Errorf("last page: %v %v", last.names, last.meta)
	}
	if jump := get("/v1/clients?page=3&pageSize=2"); fmt.Sprint(jump.names) != fmt.Sprint(want[2]) || jump.meta["page"] != 3.0 {
		t.Errorf("page 3 by number: %v %v", jump.names, jump.meta)
	}
	// A search: exact total in a tenant this small, pages forward.
	s1 := get("/v1/clients?searchText=pAgEr&pageSize=2")
	if fmt.Sprint(s1.names) != "[Pager 0 Pager 1]" || s1.meta["totalCount"] != 5.0 || s1.next == "" {
		t.Fatalf("search: %v %v", s1.names, s1.meta)
	}
	s2 := get(s1.next)
	s3 := get(s2.next)
	if fmt.Sprint(s2.names) != "[Pager 2 Pager 3]" || fmt.Sprint(s3.names) != "[Pager 4]" || s3.next != "" || s3.meta["page"] != 3.0 || s3.meta["totalCount"] != 5.0 {
		t.Errorf("search pages: %v %v %v", s2.names, s3.names, s3.meta)
	}
	// Bad cursors and page jumps past the bound are 400s that say why.
	assertProblem(t, send(t, http.MethodGet, "/v1/clients?cursor=bm9wZQ", admin, nil), http.StatusBadRequest)
	if r := send(t, http.MethodGet, "/v1/clients?page=1000&pageSize=200", admin, nil); r.Status != 400 || !strings.Contains(string(r.Body), "follow the next links") {
		t.Errorf("a page past the bound: %s", r)
	}
}

func TestClientsValidation(t *testing.T) {
	admin := adminToken(t)
	id, _ := newClient(t, admin, "validation-target")
	with := func(field string, v any) map[string]any {
		b := clientBody("valid")
		if v == nil {
			delete(b, field)
		} else {
			b[field] = v
		}
		return b
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"malformed JSON", `{"name":`, 400, ""},
		{"not an object", `[1,2]`, 400, ""},
		{"trailing data", `{"name":"a"} {}`, 400, ""},
		{"empty body", ``, 400, ""},
		{"unknown field", with("color", "blue"), 400, "color"},
		{"name wrong type", with("name", 5), 400, "name"},
		{"scopes wrong type", with("allowedScopes", "api"), 400, "allowedScopes"},
		{"missing name", with("name", nil), 400, "name"},
		{"missing redirectUris", with("redirectUris", nil), 400, "redirectUris"},
		{"empty name", with("name", " "), 400, "name"},
		{"name too long", with("name", strings.Repeat("n", 201)), 400, "name"},
		{"description too long", with("description", strings.Repeat("d", 1001)), 400, "description"},
		{"no grant types", with("allowedGrantTypes", []string{}), 400, "allowedGrantTypes"},
		{"unknown grant type", with("allowedGrantTypes", []string{"password"}), 400, "allowedGrantTypes"},
		{"unknown scope", with("allowedScopes", []string{"openid"}), 400, "allowedScopes"},
		{"http redirect", with("redirectUris", []string{"http://example.com/cb"}), 400, "redirectUris"},
		{"relative redirect", with("redirectUris", []string{"/cb"}), 400, "redirectUris"},
		{"code flow without redirect", with("allowedGrantTypes", []string{"authorization_code"}), 400, "redirectUris"},
		{"body too large", `{"name":"` + strings.Repeat("x", 70000) + `"}`, 413, ""},
	}
	for _, c := range cases {
		for _, target := range []struct{ method, path string }{{http.MethodPost, "/v1/clients"}, {http.MethodPut, "/v1/clients/" + id}} {
			t.Run(c.name+" "+target.method, func(t *testing.T) {
				r := send(t, target.method, target.path, admin, c.body)
				assertProblem(t, r, c.status)
				if c.field != "" {
					errs, _ := r.json(t)["errors"].(map[string]any)
					if _, ok := errs[c.field]; !ok {
						t.Errorf("errors should name %s: %s", c.field, r.Body)
					}
				}
			})
		}
	}
	if r := send(t, http.MethodPost, "/v1/clients", admin, "{}", "Content-Type", "text/plain"); r.Status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %s", r)
	}
	valid := with("redirectUris", []string{"http://localhost:8080/cb", "https://app.example.com/cb"})
	valid["allowedGrantTypes"] = []string{"authorization_code", "client_credentials"}
	if r := send(t, http.MethodPost, "/v1/clients", admin, valid); r.Status != 201 {
		t.Errorf("a code-flow client with localhost and https redirects is valid: %s", r)
	}

	for _, c := range []struct {
		name, method, path, query string
		status                    int
	}{
		{"unknown client", http.MethodGet, "/v1/clients/00000000-0000-4000-8000-000000000000", "", 404},
		{"malformed id", http.MethodGet, "/v1/clients/nope", "", 404},
		{"unknown route", http.MethodGet, "/v1/clients/" + id + "/other", "", 404},
		{"unknown API", http.MethodPost, "/v2/anything", "", 404},
		{"unknown top-level path", http.MethodGet, "/favicon.ico", "", 404},
		{"wrong method on collection", http.MethodDelete, "/v1/clients", "", 405},
		{"wrong method on item", http.MethodPost, "/v1/clients/" + id, "", 405},
		{"page zero", http.MethodGet, "/v1/clients", "?page=0", 400},
		{"page not a number", http.MethodGet, "/v1/clients", "?page=x", 400},
		{"pageSize too big", http.MethodGet, "/v1/clients", "?pageSize=201", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, c.method, c.path+c.query, admin, nil)
			assertProblem(t, r, c.status)
			if c.status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

// TestMalformedIfMatch: an If-Match that holds no entity tag is a 400
// naming the header, never an unconditional write; a weak tag is
// well-formed and never matches (412). Nothing is written either way.
func TestMalformedIfMatch(t *testing.T) {
	admin := adminToken(t)
	created := send(t, http.MethodPost, "/v1/clients", admin, clientBody("if-match-client"))
	if created.Status != http.StatusCreated {
		t.Fatal(created)
	}
	id := created.json(t)["clientId"].(string)
	update := clientBody("if-match-renamed")
	for _, v := range []string{", , ,", "garbage", "1", `*, "1"`, `"1`} {
		r := send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", v)
		assertProblem(t, r, http.StatusBadRequest)
		if errs, _ := r.json(t)["errors"].(map[string]any); errs["If-Match"] == nil {
			t.Errorf("If-Match %q: the problem does not name the header: %s", v, r)
		}
	}
	for _, v := range []string{`W/"1"`, `"01"`} {
		assertProblem(t, send(t, http.MethodPut, "/v1/clients/"+id, admin, update, "If-Match", v), http.StatusPreconditionFailed)
	}
	if got := send(t, http.MethodGet, "/v1/clients/"+id, admin, nil); got.Header.Get("ETag") != `"1"` || got.json(t)["name"] != "if-match-client" {
		t.Fatalf("a refused conditional write changed the client: %s", got)
	}
}
