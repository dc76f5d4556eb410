package provision

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseFillsDefaultsAndNormalises(t *testing.T) {
	doc, err := Parse(strings.NewReader(`{"version": 1, "clients": [{"name": "a", "description": "d",
		"scopes": ["b", "a"], "policies": [{"action": "owner", "scope": "/x/"}, {"action": "owner", "scope": "/x"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Clients[0]
	if !slices.Equal(c.GrantTypes, []string{"client_credentials"}) || !slices.Equal(c.Scopes, []string{"a", "b"}) {
		t.Errorf("defaults and order: %+v", c)
	}
	if len(c.Policies) != 1 || c.Policies[0].Scope != "/x" {
		t.Errorf("policies %+v: want one, on /x", c.Policies)
	}
}

func TestTheExampleMatchesTheSchema(t *testing.T) {
	doc := parseFile(t, "../../../examples/provisioning/tenant.yaml")
	if len(doc.Clients) != 2 || doc.Clients[1].PublicKeys[0].JWKFile != "payment-runner.pub.jwk" {
		t.Fatalf("example: %+v", doc)
	}
}

func TestParseRefuses(t *testing.T) {
	for doc, want := range map[string]string{
		"":                       "at /: got null, want object",
		"version: 1\nextra: 1\n": "additional properties 'extra' not allowed",
		"[1, 2":                  "not YAML",
		"version: 1\nclients: [{name: a, description: d, publicKeys: [{jwk: {kty: EC, kid: k}}, {jwk: {kty: EC, kid: k}}]}]\n": `kid "k" is declared twice`,
		strings.Repeat(" ", MaxDocument+1): "larger than",
	} {
		if _, err := Parse(strings.NewReader(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%.40q): %v, want %q", doc, err, want)
		}
	}
}

// parseFile parses the document at path, failing the test if it cannot.
func parseFile(t *testing.T, path string) Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
