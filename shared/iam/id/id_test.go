package id

import "testing"

func TestNewIsValidV4AndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := New()
		if !Valid(s) || s[14] != '4' || (s[19] != '8' && s[19] != '9' && s[19] != 'a' && s[19] != 'b') {
			t.Fatalf("%s is not a version 4 UUID", s)
		}
		if seen[s] {
			t.Fatal("duplicate id")
		}
		seen[s] = true
	}
	for _, bad := range []string{"", "not-an-id", "0AFD4F1A-23D1-4E53-8F29-6FFA82B79E84", "0afd4f1a23d14e538f296ffa82b79e84xxxx", "0afd4f1a-23d1-4e53-8f29-6ffa82b79e8g"} {
		if Valid(bad) {
			t.Errorf("Valid(%q)", bad)
		}
	}
}
