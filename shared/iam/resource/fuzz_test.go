package resource

import (
	"strings"
	"testing"
)

// FuzzNormalize: any input either fails or yields a canonical scope that
// normalizes to itself, fits the limit, and sits under the root.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/clients/", "/subscriptions/12/resource-groups/a", "//", "/a/../b", "", "/a b", "/é/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize(%q) = %q, which normalizes to %q, %v", s, n, again, err)
		}
		if len(n) > MaxLength || !strings.HasPrefix(n, "/") || (n != Root && strings.HasSuffix(n, "/")) {
			t.Fatalf("Normalize(%q) = %q breaks the rules", s, n)
		}
		if !Covers(n, n) || !Covers(Root, n) {
			t.Fatalf("coverage of %q", n)
		}
		anc := Ancestors(n)
		if anc[0] != n || anc[len(anc)-1] != Root {
			t.Fatalf("ancestors of %q: %v", n, anc)
		}
	})
}
