package authorizer

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

type decisionKey struct{}

// FromContext returns the decision that let a request through Middleware.
func FromContext(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(Decision)
	return d, ok
}

// Middleware authorizes every request before next sees it, routing by the
// request's method and escaped path against the route table (a request no
// route matches is refused). Refusals are RFC 9457 problem details: 401
// with a Bearer challenge (RFC 6750 §3) for a missing or invalid token, 403
// for a missing scope (error="insufficient_scope") or a denial, and 503
// when no decision could be had (fail closed). next finds the decision
// with FromContext.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Authorize(r.Context(), Request{Method: r.Method, Path: r.URL.EscapedPath(), Authorization: r.Header.Get("Authorization")})
		a.log(r.Context(), r.Method+" "+r.URL.EscapedPath(), d, err)
		switch {
		case err != nil:
			w.Header().Set("Retry-After", "1")
			problem(w, http.StatusServiceUnavailable, "The authorization service cannot be reached.")
		case d.Outcome == Unauthenticated:
			challenge := `Bearer`
			if strings.TrimSpace(r.Header.Get("Authorization")) != "" {
				challenge = `Bearer error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			problem(w, http.StatusUnauthorized, "A valid bearer token for this API is required.")
		case d.Outcome == Forbidden && d.Target.Scope != "" && d.Claims.Subject != "" && !d.Claims.HasScope(d.Target.Scope):
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+d.Target.Scope+`"`)
			problem(w, http.StatusForbidden, "The token lacks the scope "+d.Target.Scope+".")
		case d.Outcome == Forbidden:
			problem(w, http.StatusForbidden, "The caller may not do this.")
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
		}
	})
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}
