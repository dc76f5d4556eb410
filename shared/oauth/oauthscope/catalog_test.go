package oauthscope

import (
	"os"
	"slices"
	"testing"
)

func TestDefaultCatalog(t *testing.T) {
	doc, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Has(IAM) || !c.Has("api") || c.Has("openid") {
		t.Fatalf("catalog = %v", c.Names())
	}
}

func TestParseRejectsBadCatalogs(t *testing.T) {
	for _, doc := range []string{`{`, `{"scopes":[{"name":"a b"}]}`, `{"scopes":[{"name":"a"},{"name":"a"}]}`, `{"scopes":[{"name":""}]}`} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: want an error", doc)
		}
	}
}

func TestParseRequest(t *testing.T) {
	got, ok := ParseRequest("  api  services.iam api ")
	if !ok || !slices.Equal(got, []string{"api", "services.iam"}) {
		t.Fatalf("%v %v", got, ok)
	}
	if got, ok := ParseRequest(""); !ok || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, ok)
	}
	for _, bad := range []string{`a"b`, `a\b`, "a\tb", "é"} {
		if _, ok := ParseRequest(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
