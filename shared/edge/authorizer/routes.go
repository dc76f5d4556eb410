package authorizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Route is what one route of the table needs: an OAuth scope the token
// must carry, and the IAM action the caller must be allowed on the
// resource, a path whose {params} are filled from the request's path.
type Route struct {
	Scope    string `json:"scope"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

// Routes is a parsed route table: "METHOD /path/{param}" (API Gateway's
// route key syntax, ANY for every method) to its Route.
type Routes struct {
	entries []entry
}

type entry struct {
	key      string
	method   string
	segments []string // a literal, or {name}
	route    Route
}

var (
	methods   = []string{"ANY", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	paramName = regexp.MustCompile(`^\{[A-Za-z0-9_]+\}$`)
	actionRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$`)
	scopeRe   = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]+$`) // RFC 6749 §3.3 scope-token
)

// ParseRoutes reads a route table from JSON:
//
//	{"GET /orders/{orderId}": {"scope": "orders.read", "action": "orders.order.read", "resource": "/orders/{orderId}"}}
//
// Every route needs a scope, an action and a resource; a path parameter
// fills exactly one segment (no greedy {proxy+}), and the resource may use
// only the path's parameters.
func ParseRoutes(doc []byte) (*Routes, error) {
	var table map[string]Route
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&table); err != nil {
		return nil, fmt.Errorf("authorizer: route table: %w", err)
	}
	return NewRoutes(table)
}

// NewRoutes checks and compiles a route table (see ParseRoutes).
func NewRoutes(table map[string]Route) (*Routes, error) {
	if len(table) == 0 {
		return nil, errors.New("authorizer: the route table is empty")
	}
	rs := &Routes{}
	var errs []error
	for key, r := range table {
		e, err := compile(key, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("authorizer: route %q: %w", key, err))
			continue
		}
		rs.entries = append(rs.entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Most specific first: a literal segment before a parameter, at the
	// first segment where two routes differ; a method before ANY.
	sort.Slice(rs.entries, func(i, j int) bool {
		a, b := rs.entries[i], rs.entries[j]
		for k := 0; k < min(len(a.segments), len(b.segments)); k++ {
			if pa, pb := isParam(a.segments[k]), isParam(b.segments[k]); pa != pb {
				return pb
			}
		}
		if (a.method == "ANY") != (b.method == "ANY") {
			return b.method == "ANY"
		}
		return a.key < b.key
	})
	return rs, nil
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") }

func compile(key string, r Route) (entry, error) {
	method, path, ok := strings.Cut(key, " ")
	if !ok || !slices.Contains(methods, method) {
		return entry{}, fmt.Errorf("the key must be METHOD /path with METHOD one of %s", strings.Join(methods, ", "))
	}
	if !strings.HasPrefix(path, "/") {
		return entry{}, errors.New("the path must start with /")
	}
	segments := strings.Split(path[1:], "/")
	params := map[string]bool{}
	for _, s := range segments {
		switch {
		case s == "" && len(segments) > 1:
			return entry{}, errors.New("the path has an empty segment")
		case strings.ContainsAny(s, "{}") && !paramName.MatchString(s):
			return entry{}, fmt.Errorf("segment %q: a parameter is a whole segment {name}; greedy {name+} is not supported, since a parameter fills exactly one segment", s)
		case isParam(s):
			if params[s] {
				return entry{}, fmt.Errorf("parameter %s appears twice", s)
			}
			params[s] = true
		}
	}
	switch {
	case !scopeRe.MatchString(r.Scope):
		return entry{}, errors.New("scope must be an OAuth scope token")
	case !actionRe.MatchString(r.Action):
		return entry{}, errors.New("action must be a dot-notation action name")
	case !strings.HasPrefix(r.Resource, "/") || len(r.Resource) > maxResource:
		return entry{}, errors.New("resource must be a path starting with /, at most 512 characters")
	case r.Resource != "/" && slices.ContainsFunc(strings.Split(r.Resource[1:], "/"), func(seg string) bool { return !paramValue(seg) }):
		return entry{}, errors.New("resource must have no empty, . or .. segment, no trailing /, and no whitespace, control character, ?, # or \\")
	}
	for _, s := range strings.Split(r.Resource[1:], "/") {
		if strings.ContainsAny(s, "{}") && !params[s] {
			return entry{}, fmt.Errorf("resource segment %q is not a parameter of the path", s)
		}
	}
	return entry{key: key, method: method, segments: segments, route: r}, nil
}

// Target is a route matched by a request: the route and the action and
// resource to decide on.
type Target struct {
	Key      string // the route table key
	Scope    string
	Action   string
	Resource string // the route's resource, parameters filled
}

// errNoRoute and errBadParam are refusals made without asking anyone.
var (
	errNoRoute  = errors.New("no route of the table matches the request")
	errBadParam = errors.New("a path parameter is empty, . or .., holds a / (encoded or not), or is not a resource segment the service accepts")
)

// Match finds the route for method and escapedPath (the path as sent,
// percent-encoding intact), as a server that routes by itself does.
func (rs *Routes) Match(method, escapedPath string) (Target, error) {
	if !strings.HasPrefix(escapedPath, "/") {
		return Target{}, errNoRoute
	}
	raw := strings.Split(escapedPath[1:], "/")
	badParam := false
	for _, e := range rs.entries {
		if (e.method != method && e.method != "ANY") || len(raw) != len(e.segments) {
			continue
		}
		if !e.literalsMatch(raw) {
			continue
		}
		values, good := map[string]string{}, true
		for i, s := range e.segments {
			if !isParam(s) {
				continue
			}
			// The value is the segment decoded; the encoded form is checked
			// too, so %2F cannot pass as a character.
			v, err := url.PathUnescape(raw[i])
			if err != nil || !paramValue(raw[i]) || !paramValue(v) {
				good = false
			}
			values[s] = v
		}
		if t := e.target(values); good && len(t.Resource) <= maxResource {
			return t, nil
		}
		badParam = true
	}
	if badParam {
		return Target{}, errBadParam
	}
	return Target{}, errNoRoute
}

// Fill is Match for a gateway that has matched the route itself: routeKey
// is its key ("GET /orders/{orderId}"), which must be in the table, and
// params its path parameters, by name, as the gateway passes them.
func (rs *Routes) Fill(routeKey string, params map[string]string) (Target, error) {
	for _, e := range rs.entries {
		if e.key != routeKey {
			continue
		}
		values := map[string]string{}
		for _, s := range e.segments {
			if !isParam(s) {
				continue
			}
			v, ok := params[s[1:len(s)-1]]
			if !ok || !paramValue(v) {
				return Target{}, errBadParam
			}
			if u, err := url.PathUnescape(v); err == nil && !paramValue(u) {
				return Target{}, errBadParam
			}
			values[s] = v
		}
		if t := e.target(values); len(t.Resource) <= maxResource {
			return t, nil
		}
		return Target{}, errBadParam
	}
	return Target{}, errNoRoute
}

func (e entry) literalsMatch(raw []string) bool {
	for i, s := range e.segments {
		if !isParam(s) && raw[i] != s {
			return false
		}
	}
	return true
}

func (e entry) target(values map[string]string) Target {
	segs := strings.Split(e.route.Resource[1:], "/")
	for i, s := range segs {
		if v, ok := values[s]; ok {
			segs[i] = v
		}
	}
	return Target{Key: e.key, Scope: e.route.Scope, Action: e.route.Action, Resource: "/" + strings.Join(segs, "/")}
}

// paramValue reports whether v may fill a parameter: never empty, . or ..,
// never a / or \\ (nor %2F or %5C, in any case), so a value cannot climb or
// split the resource it fills; and never what the service refuses in a
// resource (whitespace, control characters, ? and #), which would make it
// answer 400 where the caller deserves a 403.
func paramValue(v string) bool {
	lower := strings.ToLower(v)
	switch {
	case v == "" || v == "." || v == "..":
		return false
	case strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c"):
		return false
	}
	// The same rules make a resource template's segments valid.
	return !strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == '\\' || r == '?' || r == '#' })
}

// maxResource is the longest resource the service accepts in a check.
const maxResource = 512
