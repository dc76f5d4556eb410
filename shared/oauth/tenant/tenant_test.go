package tenant

import "testing"

func TestValid(t *testing.T) {
	for name, want := range map[string]bool{
		"default": true, "t2": true, "acme-prod": true, "a": true,
		"": false, "Acme": false, "a_b": false, "a/b": false, "..": false,
		"012345678901234567890123456789012345678901234567890123456789012":  true,  // 63
		"0123456789012345678901234567890123456789012345678901234567890123": false, // 64
		"a\n": false, "é": false, "a b": false, "-": true,
	} {
		if Valid(name) != want {
			t.Errorf("Valid(%q) = %v", name, !want)
		}
	}
}

func TestIssuer(t *testing.T) {
	if got := Issuer("https://id.example.com/", Default); got != "https://id.example.com" {
		t.Errorf("default: %s", got)
	}
	if got := Issuer("https://id.example.com", "acme"); got != "https://id.example.com/acme" {
		t.Errorf("acme: %s", got)
	}
}

// TestReserved: the service's path words are reserved, ordinary slugs and
// the default tenant are not.
func TestReserved(t *testing.T) {
	for _, w := range []string{"resources", "v1", "connect", "apis", ".well-known", "openapi.yaml"} {
		if !Reserved(w) {
			t.Errorf("%q is not reserved", w)
		}
	}
	for _, name := range []string{Default, "acme", "v2x", "connects", "resource"} {
		if Reserved(name) {
			t.Errorf("%q is reserved", name)
		}
	}
}
