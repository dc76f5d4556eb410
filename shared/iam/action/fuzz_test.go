package action

import (
	"os"
	"testing"
)

// FuzzActionNames feeds arbitrary names to the catalog's lookups: they never
// panic, unknown names cover and are covered by nothing, and known ones sit
// under owner.
func FuzzActionNames(f *testing.F) {
	for _, s := range []string{"owner", "iam.client.read", "banking..read", "", "iam.client.read.x", "IAM.manage"} {
		f.Add(s, "iam.manage")
	}
	c := testCatalog()
	f.Fuzz(func(t *testing.T, a, b string) {
		covers := c.Covers(a, b)
		if !c.Has(a) || !c.Has(b) {
			if covers {
				t.Fatalf("unknown action in Covers(%q, %q)", a, b)
			}
			return
		}
		if !c.Covers(Owner, b) || covers != (len(c.Ancestors(b)) > 0 && contains(c.Ancestors(b), a)) {
			t.Fatalf("Covers(%q, %q) = %v disagrees with the tree", a, b, covers)
		}
	})
}

// FuzzCatalogParse: any document either fails or yields a tree rooted at
// owner.
func FuzzCatalogParse(f *testing.F) {
	f.Add([]byte(`{"actions":[{"action":"owner","parent":null},{"action":"a","parent":"owner"}]}`))
	f.Add([]byte(`{"actions":[{"action":"a","parent":"a"}]}`))
	if doc, err := os.ReadFile("testdata/catalog.json"); err == nil {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			return
		}
		for _, a := range c.All() {
			if !c.Covers(Owner, a.Name) {
				t.Fatalf("%s is not under owner", a.Name)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
