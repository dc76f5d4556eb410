// Package route matches request paths against API Gateway route paths
// (/v1/clients/{clientId}, /files/{path+}) the way API Gateway chooses among
// overlapping routes: segment by segment from the left, a literal segment
// beats a variable, and a variable beats a greedy variable. Go's ServeMux
// refuses such overlaps (/v1/subjects/groups/{groupId} next to
// /v1/subjects/{subjectId}/permissions), so the functions' routers and the
// local gateway both match with this package.
package route

import (
	"fmt"
	"strings"
)

// Table maps route paths to values.
type Table[V any] struct {
	routes []entry[V]
}

type entry[V any] struct {
	path  string
	segs  []segment
	value V
}

type segKind int

// Ordered from most to least specific.
const (
	literal segKind = iota
	variable
	greedy
)

type segment struct {
	kind segKind
	text string // the literal, or the variable's name
}

// Add registers path. It fails on a malformed path or one already
// registered (two routes that differ only in variable names count as one).
func (t *Table[V]) Add(path string, v V) error {
	segs, err := parse(path)
	if err != nil {
		return err
	}
	for _, e := range t.routes {
		if sameShape(e.segs, segs) {
			return fmt.Errorf("route: %s duplicates %s", path, e.path)
		}
	}
	t.routes = append(t.routes, entry[V]{path: path, segs: segs, value: v})
	return nil
}

func parse(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("route: %q must start with /", path)
	}
	if path == "/" {
		return nil, nil
	}
	parts := strings.Split(path[1:], "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		switch {
		case p == "":
			return nil, fmt.Errorf("route: %q has an empty segment", path)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("route: greedy variable must be last in %q", path)
			}
			segs[i] = segment{greedy, p[1 : len(p)-2]}
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			segs[i] = segment{variable, p[1 : len(p)-1]}
		default:
			segs[i] = segment{literal, p}
		}
	}
	return segs, nil
}

func sameShape(a, b []segment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kind != b[i].kind || a[i].kind == literal && a[i].text != b[i].text {
			return false
		}
	}
	return true
}

// Paths lists the registered paths in the order they were added.
func (t *Table[V]) Paths() []string {
	out := make([]string, len(t.routes))
	for i, e := range t.routes {
		out[i] = e.path
	}
	return out
}

// Match returns the value of the most specific route matching path (which
// must be clean: no empty, "." or ".." segments), its path, and its variables.
func (t *Table[V]) Match(path string) (v V, routePath string, params map[string]string, ok bool) {
	if !strings.HasPrefix(path, "/") {
		return v, "", nil, false
	}
	var parts []string
	if path != "/" {
		parts = strings.Split(path[1:], "/")
	}
	best := -1
	for i, e := range t.routes {
		if matches(e.segs, parts) && (best < 0 || moreSpecific(e.segs, t.routes[best].segs)) {
			best = i
		}
	}
	if best < 0 {
		return v, "", nil, false
	}
	e := t.routes[best]
	params = map[string]string{}
	for i, s := range e.segs {
		switch s.kind {
		case variable:
			params[s.text] = parts[i]
		case greedy:
			params[s.text] = strings.Join(parts[i:], "/")
		}
	}
	return e.value, e.path, params, true
}

func matches(segs []segment, parts []string) bool {
	for i, s := range segs {
		if s.kind == greedy {
			return len(parts) > i
		}
		if i >= len(parts) || parts[i] == "" || s.kind == literal && s.text != parts[i] {
			return false
		}
	}
	return len(parts) == len(segs)
}

// moreSpecific compares two routes that match the same path, left to right.
func moreSpecific(a, b []segment) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].kind != b[i].kind {
			return a[i].kind < b[i].kind
		}
	}
	return len(a) > len(b)
}
