package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/provisioning/provision"
)

// importRun runs iamctl import and returns stdout, stderr and the exit code.
func importRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"import"}, args...), strings.NewReader(stdin), &out, &errOut, noEnv)
	return out.String(), errOut.String(), code
}

// TestImportWritesAValidDocument: each sample export becomes a document
// that Parse accepts, with the clients kept, the others named on stderr
// with why, and no secret value in it.
func TestImportWritesAValidDocument(t *testing.T) {
	for _, c := range []struct {
		from, file, clientID, secret string
		skipped                      []string
	}{
		{"cognito", "cognito.json", "4l5v6qk2h1c9s0m3n7r8t2p0qa", "1q2w3e4r5t6y7u8i9o0p1a2s3d4f5g6h7j8k9l0z1x2c3v4b5n6m7", []string{"web-spa): a public client"}},
		{"keycloak", "keycloak-realm.json", "ledger-export", "Xk3pQ9vL2mN8rT5wY1zB6cF4hJ7dS0gA", []string{"old-batch: disabled"}},
		{"hydra", "hydra-clients.json", "5f0c2a8e-6b1d-4c3e-9f7a-2d4b6c8e0a1f", "", []string{"mobile-app: a public client"}},
	} {
		t.Run(c.from, func(t *testing.T) {
			dir := t.TempDir()
			out, errOut, code := importRun(t, "", "--from", c.from, filepath.Join("testdata", "exports", c.file), "--secrets-dir", filepath.Join(dir, "s"))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, s := range c.skipped {
				if !strings.Contains(errOut, "Skipped: ") || !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %s", s, errOut)
				}
			}
			doc, err := provision.Parse(strings.NewReader(out))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(doc.Clients) != 1 || doc.Clients[0].ClientID != c.clientID || len(doc.Clients[0].ImportSecrets) != 1 {
				t.Fatalf("document %+v", doc)
			}
			if c.secret == "" {
				if doc.Clients[0].ImportSecrets[0].FromEnv == "" {
					t.Errorf("without a value in the export, the document should name a variable: %+v", doc.Clients[0].ImportSecrets)
				}
				return
			}
			if strings.Contains(out, c.secret) {
				t.Fatalf("the document holds the secret:\n%s", out)
			}
			v, err := doc.Clients[0].ImportSecrets[0].Read()
			if err != nil || v != c.secret {
				t.Errorf("the secret file holds %q (%v)", v, err)
			}
			fi, err := os.Stat(doc.Clients[0].ImportSecrets[0].FromFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("secret file %v, %v", fi, err)
			}
		})
	}
}

func TestImportRefuses(t *testing.T) {
	cognito := filepath.Join("testdata", "exports", "cognito.json")
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
		code  int
	}{
		{[]string{"--from", "auth0", cognito}, "", "--from must be cognito, keycloak or hydra", exitUsage},
		{[]string{"--from", "cognito", cognito}, "", "name a directory for them with --secrets-dir", exitUsage},
		{[]string{"--from", "cognito", "-"}, `{"clients": []}`, "not a cognito export", 1},
		{[]string{"--from", "keycloak", "-"}, `{"clients": []}`, "want a realm export", 1},
		{[]string{"--from", "hydra", "-"}, `{"client_id": 1}`, "not a hydra export", 1},
		{[]string{"--from", "cognito", "--map-scope", "x", cognito}, "", "want OLD=NEW", exitUsage},
	} {
		_, errOut, code := importRun(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("import %v: exit %d, %q; want %d, %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// TestImportKeepsIDsThatLookLikeNumbers: a client id YAML would read as
// a number stays a string.
func TestImportKeepsIDsThatLookLikeNumbers(t *testing.T) {
	export := `[{"client_id": "123456", "client_secret": "a-secret-of-hydra", "grant_types": ["client_credentials"]},
		{"client_id": "a/b", "grant_types": ["client_credentials"]}]`
	out, errOut, code := importRun(t, export, "--from", "hydra", "-", "--secrets-dir", t.TempDir())
	if code != 0 || !strings.Contains(errOut, `client id "a/b" cannot be kept`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	doc, err := provision.Parse(strings.NewReader(out))
	if err != nil || len(doc.Clients) != 1 || doc.Clients[0].ClientID != "123456" {
		t.Fatalf("%+v %v\n%s", doc, err, out)
	}
}
