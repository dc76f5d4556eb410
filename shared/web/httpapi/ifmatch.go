package httpapi

import (
	"net/http"
	"strings"
)

// EntityTag is one entity tag of a conditional header (RFC 9110 §8.8.3):
// its opaque value without the quotes, and whether it was weak (W/"...").
type EntityTag struct {
	Opaque string
	Weak   bool
}

// IfMatch is a request's If-Match header (RFC 9110 §13.1.1), parsed.
type IfMatch struct {
	// Present is false when the request has no If-Match, or only empty ones:
	// the write is unconditional.
	Present bool
	// Any is If-Match: *, which the current representation matches if it
	// exists.
	Any  bool
	Tags []EntityTag
}

// ParseIfMatch reads the If-Match field lines of h as one list: "*", or
// entity tags separated by commas (empty elements are ignored, as RFC 9110
// §5.6.1 asks). A value that is neither, such as a bare word, an unquoted
// tag, "*" among tags, or a list of nothing but commas, is a 400 problem
// naming the header: treating it as absent would make a write the caller
// meant to be conditional unconditional.
func ParseIfMatch(h http.Header) (IfMatch, error) {
	// The Lambda adapter hands each comma-separated piece over as a line of
	// its own; joined again, the list is what the caller sent.
	list := strings.Trim(strings.Join(h.Values("If-Match"), ","), " \t")
	switch list {
	case "":
		return IfMatch{}, nil
	case "*":
		return IfMatch{Present: true, Any: true}, nil
	}
	tags, ok := parseEntityTags(list)
	if !ok || len(tags) == 0 {
		return IfMatch{}, malformedIfMatch()
	}
	return IfMatch{Present: true, Tags: tags}, nil
}

func malformedIfMatch() *Error {
	e := Invalid(map[string][]string{"If-Match": {`must be * or a comma-separated list of entity tags, such as "3"`}})
	e.Detail = "The If-Match header is malformed."
	return e
}

// parseEntityTags parses #entity-tag: entity-tag = [ "W/" ] DQUOTE *etagc
// DQUOTE, etagc = %x21 / %x23-7E / obs-text. A comma may appear inside the
// quotes, so the list is scanned, not split.
func parseEntityTags(s string) ([]EntityTag, bool) {
	var tags []EntityTag
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ', '\t', ',':
			i++
			continue
		}
		var t EntityTag
		if strings.HasPrefix(s[i:], "W/") {
			t.Weak = true
			i += 2
		}
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return nil, false
		}
		t.Opaque = s[i+1 : i+1+end]
		for j := 0; j < len(t.Opaque); j++ {
			if c := t.Opaque[j]; c < 0x21 || c == 0x7f {
				return nil, false
			}
		}
		tags = append(tags, t)
		i += end + 2
		// After a tag: optional whitespace, then a comma or the end.
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] != ',' {
			return nil, false
		}
	}
	return tags, true
}
