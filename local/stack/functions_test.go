package stack

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
)

// TestTemplateRoutesMatchHandlers: every route path template.yaml declares
// for a function is served by that function's handler, and the handler
// serves no path the template does not route to it.
func TestTemplateRoutesMatchHandlers(t *testing.T) {
	tmpl, err := samtemplate.Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	deps := app.NewDeps(app.Config{TableName: "t", SigningKeyID: "k", TokenLifetime: time.Hour}, nil, nil)
	if got := tmpl.APIFunctions(); len(got) != len(Functions) {
		t.Fatalf("template functions %v, constructors for %d", got, len(Functions))
	}
	for _, fn := range tmpl.APIFunctions() {
		build, ok := Functions[fn]
		if !ok {
			t.Errorf("%s has no constructor", fn)
			continue
		}
		h := build(deps)
		var declared []string
		for _, r := range tmpl.Routes(fn) {
			if r.Method != "ANY" {
				t.Errorf("%s %s: declare each path once with ANY so the function answers 405", fn, r.Path)
			}
			declared = append(declared, r.Path)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("TRACE", strings.NewReplacer("{", "", "}", "", "+", "").Replace(r.Path), nil))
			if strings.HasSuffix(r.Path, "+}") {
				// The catch-all answers every method with a 404 problem.
				if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: catch-all %s answered %d", fn, r.Path, w.Code)
				}
				continue
			}
			// A method no route serves reaches the handler as 405 with Allow,
			// never 404: the path is served.
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
				t.Errorf("%s does not serve %s: %d", fn, r.Path, w.Code)
			}
		}
		slices.Sort(declared)
		served := slices.Sorted(slices.Values(h.Paths))
		if !slices.Equal(declared, served) {
			t.Errorf("%s: template routes %v, handler serves %v", fn, declared, served)
		}
	}
}

// TestRouteWordsAreReservedTenants: the first segment of every route the
// template declares, when it is a literal word, is no tenant name anybody
// can bootstrap: a tenant called so would have the service's own paths as
// its issuer and endpoints.
func TestRouteWordsAreReservedTenants(t *testing.T) {
	tmpl, err := samtemplate.Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, fn := range tmpl.APIFunctions() {
		for _, r := range tmpl.Routes(fn) {
			word, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/"), "/")
			if strings.HasPrefix(word, "{") {
				continue
			}
			seen++
			if tenant.Valid(word) && !tenant.Reserved(word) {
				t.Errorf("route %s: %q is a tenant name bootstrap would accept", r.Path, word)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no route with a literal first segment")
	}
}
