package version

import "testing"

// TestDefaultIsDev: a binary built without the Makefile's -X says so, rather
// than naming a release it may not be.
func TestDefaultIsDev(t *testing.T) {
	if Version != "dev" {
		t.Fatalf("Version = %q, want dev unless stamped by -ldflags -X", Version)
	}
}
