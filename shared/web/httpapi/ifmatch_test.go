package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"testing"
)

func TestParseIfMatch(t *testing.T) {
	strong := func(v ...string) []EntityTag {
		var out []EntityTag
		for _, o := range v {
			out = append(out, EntityTag{Opaque: o})
		}
		return out
	}
	for _, c := range []struct {
		name  string
		lines []string
		want  IfMatch // ignored when malformed
		bad   bool
	}{
		{"absent", nil, IfMatch{}, false},
		{"empty", []string{""}, IfMatch{}, false},
		{"blank", []string{" \t "}, IfMatch{}, false},
		{"any", []string{"*"}, IfMatch{Present: true, Any: true}, false},
		{"one", []string{`"3"`}, IfMatch{Present: true, Tags: strong("3")}, false},
		{"list", []string{`"5", "2"`}, IfMatch{Present: true, Tags: strong("5", "2")}, false},
		{"empty elements", []string{` ,"5",, "2" ,`}, IfMatch{Present: true, Tags: strong("5", "2")}, false},
		{"two lines", []string{`"5"`, `"2"`}, IfMatch{Present: true, Tags: strong("5", "2")}, false},
		{"comma inside", []string{`"a,b"`}, IfMatch{Present: true, Tags: strong("a,b")}, false},
		{"empty tag", []string{`""`}, IfMatch{Present: true, Tags: strong("")}, false},
		{"weak", []string{`W/"3"`}, IfMatch{Present: true, Tags: []EntityTag{{Opaque: "3", Weak: true}}}, false},
		{"obs-text", []string{"\"\xe9\""}, IfMatch{Present: true, Tags: strong("\xe9")}, false},
		// The Lambda adapter splits a value at its commas and trims the
		// pieces: ", , ," and "a,b" arrive as these lines.
		{"split comma inside", []string{`"a`, `b"`}, IfMatch{Present: true, Tags: strong("a,b")}, false},
		{"only commas", []string{", , ,"}, IfMatch{}, true},
		{"split only commas", []string{"", "", "", ""}, IfMatch{}, true},
		{"bare word", []string{"garbage"}, IfMatch{}, true},
		{"unquoted number", []string{"3"}, IfMatch{}, true},
		{"unterminated", []string{`"3`}, IfMatch{}, true},
		{"junk after tag", []string{`"3"x`}, IfMatch{}, true},
		{"no comma between", []string{`"3" "4"`}, IfMatch{}, true},
		{"lower-case weak", []string{`w/"3"`}, IfMatch{}, true},
		{"weak without tag", []string{`W/`}, IfMatch{}, true},
		{"space inside", []string{`"a b"`}, IfMatch{}, true},
		{"any among tags", []string{`*, "3"`}, IfMatch{}, true},
		{"any and a tag line", []string{`*`, `"3"`}, IfMatch{}, true},
		{"good line, bad line", []string{`"3"`, `nope`}, IfMatch{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range c.lines {
				h.Add("If-Match", l)
			}
			got, err := ParseIfMatch(h)
			if c.bad {
				var e *Error
				if !errors.As(err, &e) || e.Status != http.StatusBadRequest || len(e.Fields["If-Match"]) == 0 {
					t.Fatalf("%q: got %+v, %v; want a 400 naming If-Match", c.lines, got, err)
				}
				return
			}
			if err != nil || got.Present != c.want.Present || got.Any != c.want.Any || !slices.Equal(got.Tags, c.want.Tags) {
				t.Fatalf("%q: got %+v, %v; want %+v", c.lines, got, err, c.want)
			}
		})
	}
}
