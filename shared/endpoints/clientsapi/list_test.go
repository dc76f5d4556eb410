package clientsapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/shared/endpoints/clientsapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

type listJSON struct {
	Items []struct {
		Name string `json:"name"`
	} `json:"items"`
	Metadata struct {
		Page       int `json:"page"`
		PageSize   int `json:"pageSize"`
		TotalCount int `json:"totalCount"`
	} `json:"metadata"`
	Links struct {
		First    *string `json:"first"`
		Previous *string `json:"previous"`
		Next     *string `json:"next"`
		Last     *string `json:"last"`
	} `json:"links"`
}

func (l listJSON) names() string {
	var out []string
	for _, it := range l.Items {
		out = append(out, it.Name)
	}
	return fmt.Sprint(out)
}

// TestListPaging: envelope A. Clients come in name order; first is the
// listing without a cursor, next and previous carry cursors to the
// neighbouring pages (none before the first, none after the last), last
// leads to the final page; the metadata counts the tenant's clients and
// numbers the page. A search pages forward over the matches. A cursor this
// listing did not make, or a page size out of range, is a 400 naming it.
func TestListPaging(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	reader := e.Create(client.Client{Spec: client.Spec{Name: "reader", Scopes: []string{oauthscope.IAM}}})
	e.Grant(reader.SubjectID(), "iam.client.read on /clients")
	tok := e.Token(reader)
	for _, n := range []string{"c4", "C2", "c0", "c3", "c1"} {
		e.Create(client.Client{Spec: client.Spec{Name: n}})
	}
	get := func(path string) listJSON {
		t.Helper()
		var l listJSON
		apitest.Do(t, h, http.MethodGet, path, tok, nil).JSON(http.StatusOK, &l)
		return l
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	want := []string{"[c0 c1]", "[C2 c3]", "[c4 reader]"}
	p := get("/v1/clients?pageSize=2")
	if deref(p.Links.First) != "/v1/clients?pageSize=2" || p.Links.Previous != nil {
		t.Errorf("first page links %+v", p.Links)
	}
	var pages []listJSON
	for i := 0; ; i++ {
		if p.names() != want[i] || p.Metadata.Page != i+1 || p.Metadata.PageSize != 2 || p.Metadata.TotalCount != 6 {
			t.Fatalf("page %d: %s %+v", i+1, p.names(), p.Metadata)
		}
		pages = append(pages, p)
		if p.Links.Next == nil {
			break
		}
		p = get(*p.Links.Next)
	}
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3", len(pages))
	}
	if back := get(deref(pages[2].Links.Previous)); back.names() != want[1] || back.Metadata.Page != 2 || back.Links.Next == nil {
		t.Errorf("previous of the last page: %s %+v", back.names(), back.Metadata)
	}
	if last := get(deref(pages[0].Links.Last)); last.names() != want[2] || last.Metadata.Page != 3 || last.Links.Next != nil || last.Links.Previous == nil {
		t.Errorf("last page: %s %+v %+v", last.names(), last.Metadata, last.Links)
	}
	if jump := get("/v1/clients?page=2&pageSize=2"); jump.names() != want[1] || jump.Metadata.Page != 2 {
		t.Errorf("page 2 by number: %s %+v", jump.names(), jump.Metadata)
	}

	s := get("/v1/clients?pageSize=2&searchText=" + url.QueryEscape("C"))
	if s.names() != "[c0 c1]" || s.Links.Next == nil || s.Links.Last != nil {
		t.Fatalf("search: %s %+v", s.names(), s.Links)
	}
	s = get(*get(*s.Links.Next).Links.Next)
	if s.names() != "[c4]" || s.Links.Next != nil || s.Metadata.Page != 3 || s.Metadata.TotalCount != 5 {
		t.Errorf("search's last page: %s %+v", s.names(), s.Metadata)
	}

	for _, q := range []struct{ query, field string }{
		{"cursor=bm9wZQ", "cursor"},
		{"cursor=" + url.QueryEscape(`eyJhIjoiemFwIiwicCI6Mn0`), "cursor"}, // well formed, a position no page gave
		{"pageSize=201", "pageSize"},
		{"pageSize=0", "pageSize"},
		{"page=0", "page"},
	} {
		apitest.Do(t, h, http.MethodGet, "/v1/clients?"+q.query, tok, nil).Invalid(q.field)
	}
}
