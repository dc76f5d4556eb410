package httpapi

import (
	"net/http"
	"path"
	"slices"
	"strings"
)

// Methods maps an HTTP method to the handler that serves it on one path.
type Methods map[string]http.Handler

// Router routes by path pattern (Go 1.22 ServeMux syntax, without method),
// then by method. Unknown paths get a 404 problem and known paths with an
// unserved method a 405 problem with Allow, as api.md requires; ServeMux's
// own plain-text answers and clean-path redirects never reach a caller.
type Router struct {
	mux *http.ServeMux
}

// NewRouter returns a Router that knows no paths yet.
func NewRouter() *Router {
	rt := &Router{mux: http.NewServeMux()}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NotFound("No resource exists at this path."))
	})
	return rt
}

// Route serves pattern with the given methods.
func (rt *Router) Route(pattern string, methods Methods) {
	allow := make([]string, 0, len(methods))
	for m := range methods {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	allowHeader := strings.Join(allow, ", ")
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok {
			e := &Error{Status: http.StatusMethodNotAllowed, Type: TypeBlank,
				Detail: "This resource does not support " + r.Method + ".", Header: http.Header{"Allow": {allowHeader}}}
			WriteProblem(w, r, e)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p == "" || p[0] != '/' || (p != "/" && path.Clean(p) != p) {
		WriteProblem(w, r, NotFound("No resource exists at this path."))
		return
	}
	rt.mux.ServeHTTP(w, r)
}
