package action

import (
	"os"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestDefaultCatalog(t *testing.T) {
	c := testCatalog()
	for _, a := range []string{"owner", "iam.manage", "iam.secret.manage", "iam.group.write", "banking.ais.read", "banking.channels.openbanking"} {
		if !c.Has(a) {
			t.Errorf("catalog lacks %s", a)
		}
	}
	if got := c.Ancestors("iam.secret.create"); !slices.Equal(got, []string{"iam.secret.create", "iam.secret.manage", "iam.manage", "owner"}) {
		t.Errorf("ancestors = %v", got)
	}
	if c.Covers("iam.secret.manage", "iam.client.read") || c.Covers("iam.client.read", "iam.client.manage") || c.Covers("nope", "nope") {
		t.Error("covers too much")
	}
}

func TestParseRejects(t *testing.T) {
	for _, doc := range []string{
		`{"actions":[]}`,
		`{"actions":[{"action":"owner","parent":"x"}]}`,
		`{"actions":[{"action":"owner"},{"action":"a.b"}]}`,
		`{"actions":[{"action":"owner"},{"action":"a.b","parent":"a"}]}`,
		`{"actions":[{"action":"owner"},{"action":"a","parent":"owner"},{"action":"a","parent":"owner"}]}`,
		`{"actions":[{"action":"owner"},{"action":"A.b","parent":"owner"}]}`,
		`{"actions":[{"action":"owner"},{"action":"a..b","parent":"owner"}]}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
}

func TestActionCoverageProperties(t *testing.T) {
	c := testCatalog()
	all := c.All()
	pick := rapid.SampledFrom(all)
	rapid.Check(t, func(t *rapid.T) {
		a, b, d := pick.Draw(t, "a").Name, pick.Draw(t, "b").Name, pick.Draw(t, "d").Name
		if !c.Covers(a, a) {
			t.Fatalf("not reflexive: %s", a)
		}
		if c.Covers(a, b) && c.Covers(b, d) && !c.Covers(a, d) {
			t.Fatalf("not transitive: %s %s %s", a, b, d)
		}
		if !c.Covers(Owner, a) {
			t.Fatalf("owner must cover %s", a)
		}
		for _, anc := range c.Ancestors(a) {
			if !c.Covers(anc, a) {
				t.Fatalf("ancestor %s does not cover %s", anc, a)
			}
			if anc != a && c.Covers(a, anc) {
				t.Fatalf("descendant %s covers its ancestor %s", a, anc)
			}
		}
		if c.Covers(a, b) != slices.Contains(c.Ancestors(b), a) {
			t.Fatalf("Covers(%s, %s) disagrees with Ancestors", a, b)
		}
	})
}

func TestRetiredActionsCannotReturn(t *testing.T) {
	c, err := Parse([]byte(`{"actions":[{"action":"owner"},{"action":"a","parent":"owner"}],"retired":["b.old"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Has("b.old") || !c.Retired("b.old") || c.Covers("owner", "b.old") || c.Ancestors("b.old") != nil {
		t.Error("a retired action must be inert")
	}
	for _, doc := range []string{
		`{"actions":[{"action":"owner"},{"action":"a","parent":"owner"}],"retired":["a"]}`,
		`{"actions":[{"action":"owner"}],"retired":["owner"]}`,
		`{"actions":[{"action":"owner"}],"retired":["Bad..name"]}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
}

// testCatalog is a catalog as a deployment declares one: the IAM tree and a
// banking tree.
func testCatalog() *Catalog {
	doc, err := os.ReadFile("testdata/catalog.json")
	if err == nil {
		var c *Catalog
		if c, err = Parse(doc); err == nil {
			return c
		}
	}
	panic(err)
}
