package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/local/stack"
)

// TestMigrationFromOtherServers moves the sample exports of Amazon Cognito,
// Keycloak and Ory Hydra into a tenant as a user would: iamctl import
// writes a document, plan shows it, apply makes it, and each client then
// gets a token with the client id and the secret it had before.
func TestMigrationFromOtherServers(t *testing.T) {
	t.Parallel()
	root, err := stack.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	exports := filepath.Join(root, "cmd", "iamctl", "testdata", "exports")
	for _, tc := range []struct {
		from, file, clientID, secret, scope string
		extra                               []string
		env                                 []string
	}{
		{"cognito", "cognito.json", "4l5v6qk2h1c9s0m3n7r8t2p0qa", "1q2w3e4r5t6y7u8i9o0p1a2s3d4f5g6h7j8k9l0z1x2c3v4b5n6m7", "api",
			[]string{"--map-scope", "https://api.example.com/invoices.read=api"}, nil},
		{"keycloak", "keycloak-realm.json", "ledger-export", "Xk3pQ9vL2mN8rT5wY1zB6cF4hJ7dS0gA", "api", nil, nil},
		// Hydra lists no secret values: the document names an environment
		// variable, set where apply runs, from the operator's own records.
		{"hydra", "hydra-clients.json", "5f0c2a8e-6b1d-4c3e-9f7a-2d4b6c8e0a1f", "hydra-secret-kept-by-the-team-0123456789", "services.banking", nil,
			[]string{"SECRET_5F0C2A8E_6B1D_4C3E_9F7A_2D4B6C8E0A1F=hydra-secret-kept-by-the-team-0123456789"}},
	} {
		t.Run(tc.from, func(t *testing.T) {
			t.Parallel()
			_, res := newTenantAdmin(t, "mig"+tc.from)
			c := newCLI(t, res)
			c.env = tc.env
			doc := filepath.Join(c.dir, "imported.yaml")
			args := append([]string{"import", "--from", tc.from, filepath.Join(exports, tc.file), "--secrets-dir", filepath.Join(c.dir, "secrets"), "--out", doc}, tc.extra...)
			c.ok(args...)
			raw, _ := os.ReadFile(doc)
			if strings.Contains(string(raw), tc.secret) {
				t.Fatalf("the document holds the secret value:\n%s", raw)
			}
			out := c.expect(2, "plan", "-f", doc)
			for _, want := range []string{"+ clientId     " + tc.clientID, "+ secret       imported from", "Plan: 1 to create"} {
				if !strings.Contains(out, want) {
					t.Errorf("plan lacks %q:\n%s", want, out)
				}
			}
			c.ok("apply", "-f", doc)
			tokenFor(t, res.Tenant, tc.clientID, tc.secret, tc.scope)
			if out := c.ok("plan", "-f", doc); !strings.Contains(out, "No changes") {
				t.Errorf("plan after apply:\n%s", out)
			}
		})
	}
}
