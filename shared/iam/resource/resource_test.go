package resource

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestNormalize(t *testing.T) {
	ok := map[string]string{
		"/": "/", "/clients": "/clients", "/clients/": "/clients", "/subscriptions/12/resource-groups/a": "/subscriptions/12/resource-groups/a",
		"/a:b/c@d/e%20f": "/a:b/c@d/e%20f", "/Case/Sensitive": "/Case/Sensitive",
	}
	for in, want := range ok {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "clients", "//", "/a//b", "/a/./b", "/a/../b", "/..", "/a/b//", "/a b", "/a?b", "/a#b", "/a\\b", "/a\x00",
		"/" + strings.Repeat("a", MaxLength)} {
		if got, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", bad, got)
		}
	}
}

func TestAncestors(t *testing.T) {
	got := Ancestors("/a/b/c")
	want := []string{"/a/b/c", "/a/b", "/a", "/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%v", got)
	}
	if got := Ancestors("/"); len(got) != 1 || got[0] != "/" {
		t.Fatalf("%v", got)
	}
}

// segment draws path segments from a small alphabet so that prefixes and
// siblings are common.
var segment = rapid.StringMatching(`[a-c1-3]{1,3}`)

func scopeGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		segs := rapid.SliceOfN(segment, 0, 5).Draw(t, "segments")
		return "/" + strings.Join(segs, "/")
	})
}

func TestCoverageProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := scopeGen().Draw(t, "a"), scopeGen().Draw(t, "b"), scopeGen().Draw(t, "c")
		for _, s := range []string{a, b, c} {
			if n, err := Normalize(s); err != nil || n != s {
				t.Fatalf("generated %q does not normalize to itself: %q %v", s, n, err)
			}
		}
		if !Covers(a, a) {
			t.Fatalf("not reflexive: %q", a)
		}
		if Covers(a, b) && Covers(b, c) && !Covers(a, c) {
			t.Fatalf("not transitive: %q %q %q", a, b, c)
		}
		if Covers(a, b) && Covers(b, a) && a != b {
			t.Fatalf("not antisymmetric: %q %q", a, b)
		}
		if !Covers(Root, a) {
			t.Fatalf("the root must cover %q", a)
		}
		// Covers agrees with Ancestors.
		anc := false
		for _, x := range Ancestors(b) {
			anc = anc || x == a
		}
		if anc != Covers(a, b) {
			t.Fatalf("Covers(%q, %q) = %v but ancestry says %v", a, b, Covers(a, b), anc)
		}
	})
}

func TestSiblingsAndStringPrefixesNeverCover(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		parent := scopeGen().Draw(t, "parent")
		x := segment.Draw(t, "x")
		suffix := rapid.StringMatching(`[a-c1-3]{1,3}`).Draw(t, "suffix")
		join := func(p, s string) string {
			if p == Root {
				return "/" + s
			}
			return p + "/" + s
		}
		a, prefixed := join(parent, x), join(parent, x+suffix)
		if Covers(a, prefixed) || Covers(prefixed, a) {
			t.Fatalf("%q and %q share only a string prefix", a, prefixed)
		}
		y := segment.Filter(func(s string) bool { return s != x }).Draw(t, "y")
		if Covers(a, join(parent, y)) {
			t.Fatalf("sibling %q covers %q", a, join(parent, y))
		}
		if Covers(join(a, "child"), a) {
			t.Fatalf("a descendant covers its ancestor %q", a)
		}
	})
}
