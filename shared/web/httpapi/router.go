package httpapi

import (
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/machine-iam/machine-iam/shared/web/route"
)

// Methods maps an HTTP method to the handler that serves it on one path.
type Methods map[string]http.Handler

// Router routes by path, with API Gateway's precedence among overlapping
// paths (package route), then by method. Unknown paths get a 404 problem and
// known paths with an unserved method a 405 problem with Allow
// (docs/errors.md). Path variables are available through r.PathValue.
type Router struct {
	table route.Table[*methods]
}

type methods struct {
	handlers Methods
	allow    string
}

// NewRouter returns a Router that knows no paths yet.
func NewRouter() *Router { return &Router{} }

// Route serves pattern (API Gateway syntax: /v1/clients/{clientId}) with
// the given methods. It panics on a malformed or duplicate pattern, which is
// a programming error found by any test that builds the handler.
func (rt *Router) Route(pattern string, m Methods) {
	allow := make([]string, 0, len(m))
	for method := range m {
		allow = append(allow, method)
	}
	slices.Sort(allow)
	if err := rt.table.Add(pattern, &methods{handlers: m, allow: strings.Join(allow, ", ")}); err != nil {
		panic(err)
	}
}

// NotFound serves pattern, a greedy path such as /{proxy+}, with the 404
// problem for every method. API Gateway sends there the paths that no other
// route declares, so unknown paths get a problem document too.
func (rt *Router) NotFound(pattern string) {
	if err := rt.table.Add(pattern, nil); err != nil {
		panic(err)
	}
}

// Patterns lists the paths the router serves, in registration order.
func (rt *Router) Patterns() []string { return rt.table.Paths() }

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "" || p[0] != '/' || (p != "/" && path.Clean(p) != p) {
		WriteProblem(w, r, NotFound("No resource exists at this path."))
		return
	}
	m, _, params, ok := rt.table.Match(p)
	if !ok || m == nil {
		WriteProblem(w, r, NotFound("No resource exists at this path."))
		return
	}
	h, ok := m.handlers[r.Method]
	if !ok {
		WriteProblem(w, r, &Error{Status: http.StatusMethodNotAllowed, Type: TypeBlank,
			Detail: "This resource does not support " + r.Method + ".", Header: http.Header{"Allow": {m.allow}}})
		return
	}
	for k, v := range params {
		r.SetPathValue(k, v)
	}
	h.ServeHTTP(w, r)
}
