package operator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// TestBootstrapRefusesReservedNames: a tenant named after a path word of
// the service is refused, with a message that says why, before anything is
// read or written (the store here is nil).
func TestBootstrapRefusesReservedNames(t *testing.T) {
	for _, name := range append([]string{"resources", "v1", "connect", "apis"}, tenant.ReservedWords...) {
		_, err := Operator{Hasher: secret.DefaultArgon2id, IssuerBase: "https://id.example.com", Now: time.Now()}.Bootstrap(context.Background(), name)
		if err == nil {
			t.Fatalf("%q: bootstrapped", name)
		}
		if tenant.Valid(name) && !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%q: %v, want a message that the name is reserved", name, err)
		}
	}
}
