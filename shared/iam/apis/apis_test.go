package apis

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

func TestEveryFieldIsClassified(t *testing.T) {
	if missing := policy.Unclassified(Fields, reflect.TypeFor[API](), reflect.TypeFor[Spec]()); len(missing) > 0 {
		t.Errorf("unclassified fields: %v", missing)
	}
}

func TestBuiltinDeclaration(t *testing.T) {
	r, err := NewRegistry(Builtin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"owner", "iam.manage", "iam.api.write", "iam.decision.check", "banking.ais.read"} {
		if !r.Actions.Has(a) {
			t.Errorf("catalog lacks %s", a)
		}
	}
	if got := r.Actions.Ancestors("iam.decision.check"); !slices.Equal(got, []string{"iam.decision.check", "iam.api.manage", "iam.manage", "owner"}) {
		t.Errorf("ancestors = %v", got)
	}
	if api, ok := r.OwnerOf("banking.pis.read"); !ok || api.ID != "builtin-banking" {
		t.Errorf("banking.pis.read belongs to %+v", api)
	}
	if !r.Scopes.Has("services.iam") || !r.Scopes.Has("reconcile") {
		t.Error("scopes missing")
	}
}

// TestNoActionVanishes keeps every action ever shipped either declared or
// retired, so a policy naming it never silently changes meaning.
func TestNoActionVanishes(t *testing.T) {
	raw, err := os.ReadFile("testdata/shipped.txt")
	if err != nil {
		t.Fatal(err)
	}
	d := Builtin()
	r, err := NewRegistry(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !r.Actions.Has(line) && !r.Actions.Retired(line) {
			t.Errorf("%s was shipped and is now neither declared in builtin.json nor retired there", line)
		}
	}
	for _, a := range r.Actions.All() {
		if !strings.Contains(string(raw), "\n"+a.Name+"\n") {
			t.Errorf("%s is not in testdata/shipped.txt; append it", a.Name)
		}
	}
}

func TestNormalizeIdentifier(t *testing.T) {
	for in, want := range map[string]string{
		"https://API.Example.com":                "https://api.example.com",
		"https://api.example.com/":               "https://api.example.com",
		"HTTPS://api.example.com:443/a/./b/../c": "https://api.example.com/a/c",
		"https://api.example.com/%7eorders":      "https://api.example.com/~orders",
		"https://api.example.com/a%2fb":          "https://api.example.com/a%2Fb",
		"http://api.example.com:80/x":            "http://api.example.com/x",
		"https://api.example.com:8443/x/":        "https://api.example.com:8443/x/",
		"urn:example:orders":                     "urn:example:orders",
		"https://auth.example.com./acme":         "https://auth.example.com/acme",
		"https://auth.example.com:0443/acme":     "https://auth.example.com/acme",
		"https://api.example.com:08443/x":        "https://api.example.com:8443/x",
		"https://[::1]:8443/x":                   "https://[::1]:8443/x",
	} {
		got, err := NormalizeIdentifier(in)
		if err != nil || got != want {
			t.Errorf("NormalizeIdentifier(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "orders", "/orders", "https://api.example.com/#x", "https://api.example.com/a b", "https://" + strings.Repeat("a", 600),
		"https://x@auth.example.com/acme", "https://api.example.com:0/x", "https://api.example.com:99999/x"} {
		if got, err := NormalizeIdentifier(bad); err == nil {
			t.Errorf("NormalizeIdentifier(%q) = %q, accepted", bad, got)
		}
	}
}

func TestWithin(t *testing.T) {
	base := "https://id.example.com"
	for id, want := range map[string]bool{
		"https://id.example.com":           true,
		"https://id.example.com/acme":      true,
		"https://id.example.com/resources": true,
		"https://id.example.com?x":         true,
		"https://id.example.com.evil.test": false,
		"https://id.example.community/x":   false,
		"https://api.example.com":          false,
	} {
		if got := Within(id, base); got != want {
			t.Errorf("Within(%q) = %v", id, got)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Spec{Identifier: "https://api.example.test", Name: "Orders",
		Scopes:  []Scope{{Name: "orders.read"}},
		Actions: []Action{{Name: "orders.order.read", Parent: "orders.manage"}, {Name: "orders.manage"}}}
	if errs := ok.Validate(); errs != nil {
		t.Fatalf("valid spec refused: %v", errs)
	}
	if got := ok.SortedActions(); got[0].Name != "orders.manage" {
		t.Errorf("sorted = %v", got)
	}
	for name, s := range map[string]Spec{
		"no name":        {Identifier: "https://a.test"},
		"iam action":     {Name: "x", Actions: []Action{{Name: "iam.client.read"}}},
		"owner":          {Name: "x", Actions: []Action{{Name: "owner"}}},
		"foreign parent": {Name: "x", Actions: []Action{{Name: "a.b", Parent: "banking.manage"}}},
		"cycle":          {Name: "x", Actions: []Action{{Name: "a.b", Parent: "a.c"}, {Name: "a.c", Parent: "a.b"}}},
		"dup scope":      {Name: "x", Scopes: []Scope{{Name: "s"}, {Name: "s"}}},
		"bad scope":      {Name: "x", Scopes: []Scope{{Name: "a b"}}},
	} {
		if s.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRegistryAddsTenantAPIs(t *testing.T) {
	d := Builtin()
	orders := API{ID: "o1", Spec: Spec{Identifier: "https://api.example.test", Name: "Orders", Discoverable: true,
		Scopes:  []Scope{{Name: "orders.read"}, {Name: "api"}},
		Actions: []Action{{Name: "orders.order.read", Parent: "orders.manage"}, {Name: "orders.manage"}, {Name: "banking.ais.read"}}}}
	r, err := NewRegistry(d, []API{orders})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Actions.Covers("owner", "orders.order.read") || !r.Actions.Covers("orders.manage", "orders.order.read") {
		t.Error("tenant actions must hang under owner")
	}
	if a, _ := r.OwnerOf("banking.ais.read"); a.ID != "builtin-banking" {
		t.Error("a declared name stays the declaration's")
	}
	if !slices.Contains(r.Discoverable(), "orders.read") || len(r.Registered()) != 1 {
		t.Errorf("discoverable = %v", r.Discoverable())
	}
}

func TestActionChanges(t *testing.T) {
	before := Spec{Actions: []Action{{Name: "o.manage"}, {Name: "o.read", Parent: "o.manage"}, {Name: "o.old", Parent: "o.manage"}}}
	after := Spec{Actions: []Action{{Name: "o.manage"}, {Name: "o.read"}, {Name: "o.new", Parent: "o.manage"}}}
	got := ActionChanges(before, after)
	want := []Need{{"o.read", false}, {"o.read", true}, {"owner", true}, {"o.new", true}, {"o.manage", true}, {"o.old", false}}
	if !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if got := ActionChanges(before, before); len(got) != 0 {
		t.Errorf("an unchanged tree needs %v", got)
	}
	renamed := before
	renamed.Name, renamed.Scopes = "other", []Scope{{Name: "s"}}
	if got := ActionChanges(before, renamed); len(got) != 0 {
		t.Errorf("names and scopes need %v", got)
	}
}
