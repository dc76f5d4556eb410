package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/iam/id"
)

var iamctlBuild struct {
	once sync.Once
	path string
	err  error
}

// iamctlBinary builds cmd/iamctl once per test run: the tests run it as a
// user does, exit codes included.
func iamctlBinary(t *testing.T) string {
	t.Helper()
	iamctlBuild.once.Do(func() {
		root, err := stack.FindRoot()
		if err != nil {
			iamctlBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "iamctl")
		if err != nil {
			iamctlBuild.err = err
			return
		}
		iamctlBuild.path = filepath.Join(dir, "iamctl")
		cmd := exec.Command("go", "build", "-o", iamctlBuild.path, "./cmd/iamctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			iamctlBuild.err = errors.New(string(out))
		}
	})
	if iamctlBuild.err != nil {
		t.Fatal(iamctlBuild.err)
	}
	return iamctlBuild.path
}

// cli runs iamctl as the client a profile names.
type cli struct {
	t       *testing.T
	profile string
	dir     string
	// env is added to the environment of every run.
	env []string
}

func newCLI(t *testing.T, res operator.Result) cli {
	t.Helper()
	dir := t.TempDir()
	b, _ := json.Marshal(res)
	profile := filepath.Join(dir, "profile.json")
	if err := os.WriteFile(profile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cli{t: t, profile: profile, dir: dir}
}

// exampleDocument copies examples/provisioning/tenant.yaml into the CLI's
// directory and makes the payment runner's key pair beside it, as the
// example's comment says, and returns the copy's path.
func (c cli) exampleDocument() string {
	c.t.Helper()
	root, err := stack.FindRoot()
	if err != nil {
		c.t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "examples", "provisioning", "tenant.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	doc := filepath.Join(c.dir, "tenant.yaml")
	if err := os.WriteFile(doc, raw, 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.ok("keys", "generate", "--kid", "payment-runner-2026-11", "--out", filepath.Join(c.dir, "payment-runner.jwk"),
		"--public-out", filepath.Join(c.dir, "payment-runner.pub.jwk"))
	if fi, err := os.Stat(filepath.Join(c.dir, "payment-runner.jwk")); err != nil || fi.Mode().Perm() != 0o600 {
		c.t.Fatalf("private key file: %v %v", fi, err)
	}
	return doc
}

// run returns stdout, stderr and the exit code.
func (c cli) run(stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(iamctlBinary(c.t), args...)
	cmd.Env = append(os.Environ(), "IAMCTL_PROFILE="+c.profile, "IAM_BASE_URL=", "IAM_CLIENT_ID=", "IAM_CLIENT_SECRET=", "IAM_TENANT=")
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	// A document on standard input names its files relative to here.
	cmd.Dir = c.dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("iamctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// expect runs a command that must exit with code and returns its output.
func (c cli) expect(code int, args ...string) string {
	c.t.Helper()
	out, errOut, got := c.run("", args...)
	if got != code {
		c.t.Fatalf("iamctl %s: exit %d, want %d\n%s%s", strings.Join(args, " "), got, code, out, errOut)
	}
	return out + errOut
}

func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("iamctl %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestIamctlManagesATenant manages a tenant end to end with iamctl alone,
// as its admin, over HTTP.
func TestIamctlManagesATenant(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "cli")
	c := newCLI(t, res)

	var created struct{ ClientID, SubjectID string }
	c.json(&created, "clients", "create", "--name", "erp-export", "--description", "Nightly export", "--scope", "api", "--claim", "team=finance")
	if created.ClientID == "" || created.SubjectID != "client-"+created.ClientID {
		t.Fatalf("created %+v", created)
	}
	id, subject := created.ClientID, created.SubjectID

	secretFile := filepath.Join(c.dir, "secret.json")
	c.ok("secrets", "create", id, "--description", "first", "--out", secretFile)
	info, err := os.Stat(secretFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", info, err)
	}
	var sec struct{ ID, Value string }
	b, _ := os.ReadFile(secretFile)
	_ = json.Unmarshal(b, &sec)
	tokenFor(t, res.Tenant, id, sec.Value, "api")
	if list := c.ok("secrets", "list", id); !strings.Contains(list, sec.ID) || strings.Contains(list, sec.Value) {
		t.Fatalf("secrets list shows %q", list)
	}
	c.expect(64, "secrets", "create", id, "--description", "again", "--out", secretFile) // never overwrites

	if out := c.ok("clients", "list", "--search", "ERP"); !strings.Contains(out, id) || !strings.Contains(out, "CLIENT ID") {
		t.Fatalf("clients list: %s", out)
	}
	var updated struct {
		Description   string
		AllowedScopes []string
		TokenClaims   map[string]string
	}
	c.json(&updated, "clients", "update", id, "--description", "Hourly export")
	if updated.Description != "Hourly export" || len(updated.AllowedScopes) != 1 || updated.TokenClaims["team"] != "finance" {
		t.Fatalf("update changed more than the description: %+v", updated)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(publicJWK(t, &key.PublicKey, "cli-key-1", "ES256"))
	jwkFile := filepath.Join(c.dir, "key.json")
	_ = os.WriteFile(jwkFile, jwk, 0o600)
	var k struct{ ID, Kid string }
	c.json(&k, "keys", "add", id, "--jwk", jwkFile, "--description", "signing key")
	if k.Kid != "cli-key-1" || !strings.Contains(c.ok("keys", "list", id), "cli-key-1") {
		t.Fatalf("key %+v", k)
	}
	var fc struct{ ID, Audience string }
	c.json(&fc, "federated", "add", id, "--issuer", "https://token.actions.githubusercontent.com", "--subject",
		"repo:acme/erp:ref:refs/heads/main", "--claim", "repository_owner_id=4242", "--description", "CI export job")
	if fc.Audience != res.Issuer || !strings.Contains(c.ok("federated", "list", id), "repo:acme/erp:ref:refs/heads/main") {
		t.Fatalf("federated credential %+v (audience should be the tenant's issuer %s)", fc, res.Issuer)
	}
	var aws struct{ ID string }
	c.json(&aws, "federated", "add", id, "--aws-principal", "arn:aws:iam::123456789012:role/erp-export", "--description", "ERP Lambda")
	c.expect(64, "federated", "add", id, "--description", "neither")

	var g struct{ ID, SubjectID string }
	c.json(&g, "groups", "create", "--name", "exporters", "--description", "Export jobs")
	c.ok("groups", "add", g.ID, subject)
	if out := c.ok("groups", "members", g.ID); !strings.Contains(out, subject) {
		t.Fatalf("members: %s", out)
	}
	if out := c.ok("subjects", "memberships", subject); !strings.Contains(out, "exporters") {
		t.Fatalf("memberships: %s", out)
	}
	c.ok("policies", "grant", g.SubjectID, "iam.client.read", "/clients/"+id)
	c.ok("policies", "grant", subject, "iam.secret.read", "/clients/"+id)
	if out := c.ok("policies", "list", "--subject", subject, "--inherited"); !strings.Contains(out, "iam.client.read") || !strings.Contains(out, "iam.secret.read") {
		t.Fatalf("policies list: %s", out)
	}
	if out := c.ok("check", subject, "iam.client.read", "/clients/"+id); !strings.Contains(out, g.SubjectID) {
		t.Fatalf("check through the group: %s", out)
	}
	c.expect(3, "check", subject, "iam.client.delete", "/clients/"+id)
	if out := c.ok("subjects", "permissions", subject); !strings.Contains(out, "iam.secret.read") {
		t.Fatalf("permissions: %s", out)
	}
	if out := c.ok("actions", "list"); !strings.Contains(out, "iam.client.read") {
		t.Fatalf("actions: %s", out)
	}
	c.ok("clients", "revoke-tokens", id)
	c.ok("policies", "revoke", subject, "iam.secret.read", "/clients/"+id)
	c.expect(4, "policies", "revoke", subject, "iam.secret.read", "/clients/"+id)
	c.ok("groups", "remove", g.ID, subject)
	c.ok("groups", "delete", g.ID)
	c.ok("keys", "delete", id, k.ID)
	c.ok("federated", "delete", id, fc.ID)
	c.ok("federated", "delete", id, aws.ID)
	c.ok("secrets", "delete", id, sec.ID)
	c.ok("clients", "delete", id)
	c.expect(4, "clients", "get", id)

	// The profile's tenant and another tenant's client: refused.
	wrong := res
	wrong.ClientSecret = "not-the-secret-0000"
	bad := newCLI(t, wrong)
	if out := bad.expect(5, "clients", "list"); strings.Contains(out, wrong.ClientSecret) {
		t.Fatalf("the error shows the secret: %s", out)
	}
}

// TestIamctlPlanAndApply applies examples/provisioning/tenant.yaml to a new
// tenant twice, changes the tenant by hand, and checks that plan shows the
// drift and apply (with --prune) removes it.
func TestIamctlPlanAndApply(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "plan")
	c := newCLI(t, res)
	doc := c.exampleDocument()

	out := c.expect(2, "plan", "-f", doc)
	for _, want := range []string{`+ group "payment-jobs"`, `+ client "invoice-exporter"`, `+ client "payment-runner"`,
		"+ policy       banking.pis.read on /companies/42/payments", "+ public key   kid payment-runner-2026-11",
		"+ federated    oidc https://token.actions.githubusercontent.com repo:acme/payments:environment:production",
		"+ secret       generated", "Plan: 3 to create, 0 to change, 0 to delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("first plan lacks %q:\n%s", want, out)
		}
	}
	if out := c.expect(64, "apply", "-f", doc); !strings.Contains(out, "--secrets-out") {
		t.Fatalf("apply without --secrets-out: %s", out)
	}
	c.expect(2, "plan", "-f", doc) // nothing was written

	secrets := filepath.Join(c.dir, "secrets.jsonl")
	c.ok("apply", "-f", doc, "--secrets-out", secrets)
	var generated struct{ Name, ClientID, ClientSecret string }
	b, _ := os.ReadFile(secrets)
	if err := json.Unmarshal(b, &generated); err != nil || generated.Name != "invoice-exporter" || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("secrets output %q: %v", b, err)
	}
	tokenFor(t, res.Tenant, generated.ClientID, generated.ClientSecret, "api")
	exporter := "client-" + generated.ClientID
	// The key-based client gets a token with an assertion iamctl signs.
	var runners []struct{ ClientID string }
	c.json(&runners, "clients", "list", "--search", "payment-runner")
	if len(runners) != 1 {
		t.Fatalf("payment runners: %+v", runners)
	}
	assertion := strings.TrimSpace(c.ok("keys", "assertion", "--key", filepath.Join(c.dir, "payment-runner.jwk"), "--client", runners[0].ClientID))
	if r := send(t, http.MethodPost, tokenPath(res.Tenant), "", url.Values{"grant_type": {"client_credentials"}, "scope": {"api"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}); r.Status != http.StatusOK {
		t.Errorf("token with the assertion keys assertion printed: %s", r)
	}

	if out := c.ok("plan", "-f", doc); !strings.Contains(out, "No changes") {
		t.Fatalf("plan after apply: %s", out)
	}
	if out := c.ok("apply", "-f", doc); !strings.Contains(out, "No changes") {
		t.Fatalf("second apply: %s", out)
	}
	c.ok("check", exporter, "banking.ais.read", "/companies/42/accounts/7") // through payment-jobs

	// Drift, made by hand.
	var groups []struct{ ID, SubjectID, DisplayName string }
	c.json(&groups, "groups", "list")
	c.ok("policies", "revoke", exporter, "banking.pis.read", "/companies/42/payments")
	c.ok("clients", "update", generated.ClientID, "--scope", "api", "--scope", "services.erphub")
	c.ok("policies", "grant", groups[0].SubjectID, "banking.pis.cancel", "/companies/42")
	c.ok("groups", "remove", groups[0].ID, exporter)
	var stray struct{ ClientID string }
	c.json(&stray, "clients", "create", "--name", "stray", "--description", "made by hand")

	out = c.expect(2, "plan", "-f", doc)
	for _, want := range []string{`~ client "invoice-exporter" (` + generated.ClientID + ")",
		"+ policy       banking.pis.read on /companies/42/payments", "~ scopes       [api services.erphub] → [api]",
		"+ member of    payment-jobs", `~ group "payment-jobs"`, "- policy       banking.pis.cancel on /companies/42",
		"Plan: 0 to create, 2 to change, 0 to delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("drift plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, stray.ClientID) {
		t.Errorf("the plan names a client the document's applies did not make:\n%s", out)
	}
	c.ok("apply", "-f", doc)
	c.ok("plan", "-f", doc)
	c.expect(3, "check", exporter, "banking.pis.cancel", "/companies/42")

	// Prune deletes what applies of this document made and it no longer
	// declares, and nothing made otherwise (the stray client, the admin).
	raw, _ := os.ReadFile(doc)
	withTemp := string(raw) + "  - {name: temp, description: made by an apply then dropped, scopes: [api]}\n"
	tempOut := filepath.Join(c.dir, "temp.jsonl")
	if out, errOut, code := c.run(withTemp, "apply", "-f", "-", "--secrets-out", tempOut); code != 0 {
		t.Fatalf("apply with temp: exit %d\n%s%s", code, out, errOut)
	}
	var temp struct{ ClientID string }
	b, _ = os.ReadFile(tempOut)
	if err := json.Unmarshal(b, &temp); err != nil {
		t.Fatal(err)
	}
	out = c.expect(2, "plan", "-f", doc, "--prune")
	if !strings.Contains(out, `- client "temp" (`+temp.ClientID+")") || !strings.Contains(out, "2 other client(s) were not created by") ||
		!strings.Contains(out, "0 to change, 1 to delete") || strings.Contains(out, stray.ClientID) {
		t.Fatalf("prune plan:\n%s", out)
	}
	c.ok("apply", "-f", doc, "--prune")
	c.expect(4, "clients", "get", temp.ClientID)
	c.ok("clients", "get", stray.ClientID)
	c.ok("plan", "-f", doc, "--prune")
}

func TestIamctlRefusesAnInvalidDocument(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "badplan")
	c := newCLI(t, res)
	for _, tc := range []struct{ doc, want string }{
		{"version: 1\nclients:\n  - name: x\n", "at /clients/0: missing property 'description'"},
		{"version: 1\nclients:\n  - name: x\n    description: d\n    secret: hunter2\n", "at /clients/0: additional properties 'secret' not allowed"},
		{"version: 2\n", "at /version"},
		{"version: 1\ngroups: [{name: g}, {name: g}]\n", `group "g" is declared twice`},
		{"version: 1\nclients: [{name: x, description: d, groups: [nowhere]}]\n", `joins group "nowhere", which the document does not declare`},
		{"version: 1\nclients: [{name: x, id: no-such-client, description: d}]\n", `the tenant has no client with id no-such-client`},
		{"version: 1\ntenant: someone-else\n", `the document is for tenant "someone-else"`},
		{"version: 1\nclients: [{name: x, description: d, policies: [{action: owner, scope: /a/../b}]}]\n", "client x: policy owner on /a/../b"},
	} {
		out, errOut, code := c.run(tc.doc, "plan", "-f", "-")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("plan of %q: exit %d, want 1 and %q\n%s%s", tc.doc, code, tc.want, out, errOut)
		}
	}
}

// TestIamctlApplyWritesSecretsToStdout: with --secrets-out - (a pipe, as in
// CI) stdout carries the secrets alone, and the plan goes to stderr.
func TestIamctlApplyWritesSecretsToStdout(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "stdout")
	c := newCLI(t, res)
	doc := "version: 1\nclients:\n  - {name: a, description: first, scopes: [api]}\n  - {name: b, description: second, scopes: [api]}\n"
	out, errOut, code := c.run(doc, "apply", "-f", "-", "--secrets-out", "-")
	if code != 0 || !strings.Contains(errOut, `+ client "a"`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout %q: want two secrets", out)
	}
	for _, l := range lines {
		var s struct{ ClientID, ClientSecret string }
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatal(err)
		}
		tokenFor(t, res.Tenant, s.ClientID, s.ClientSecret, "api")
	}
}

// TestIamctlAdoptsNothingByName: a client that renames itself to a declared
// name and a group made under a declared name by someone else (even with a
// stack's old marker planted in a description) are never adopted: apply
// makes the declared ones anew, grants the squatters nothing, and prune
// leaves what it did not make. The plan says why.
func TestIamctlAdoptsNothingByName(t *testing.T) {
	t.Parallel()
	admin, res := newTenantAdmin(t, "squat")
	c := newCLI(t, res)
	// A client that may update only itself renames itself to "job".
	squatter := newTenantCaller(t, res.Tenant, admin, "squatter", "services.iam")
	grant(t, admin, squatter.subject, "iam.client.update", "/clients/"+squatter.id)
	body := clientBody("job", "services.iam")
	body["description"] = "Owned [cloudformation arn:aws:cloudformation:eu-west-1:123456789012:stack/s/" + id.New() + " Job " + id.New() + "]"
	if r := send(t, http.MethodPut, "/v1/clients/"+squatter.id, squatter.token(t), body); r.Status != http.StatusOK {
		t.Fatalf("renaming itself: %s", r)
	}
	// A client that may write groups makes an empty "payers" and joins it.
	grouper := newTenantCaller(t, res.Tenant, admin, "grouper", "services.iam")
	grant(t, admin, grouper.subject, "iam.group.write", "/groups")
	r := send(t, http.MethodPost, "/v1/subjects/groups", grouper.token(t), map[string]any{"displayName": "payers", "description": "d",
		"provenance": map[string]string{"via": "apply", "document": "default", "name": "payers"}})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	squatGroup := r.json(t)["id"].(string)
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+squatGroup+"/members", grouper.token(t),
		map[string]any{"subjectIds": []string{grouper.subject}}); r.Status != http.StatusNoContent {
		t.Fatal(r)
	}
	doc := `version: 1
groups: [{name: payers, description: d, policies: [{action: banking.ais.read, scope: /companies/42}]}]
clients: [{name: job, description: mine, scopes: [api], groups: [payers], policies: [{action: banking.pis.read, scope: /companies/42}]}]
`
	out, errOut, code := c.run(doc, "plan", "-f", "-")
	t.Logf("the plan of a squatted tenant:\n%s", out)
	for _, want := range []string{`+ group "payers"`, `+ client "job"`, "Plan: 2 to create, 0 to change, 0 to delete.",
		`client "job" (` + squatter.id + ") has the declared name but was created by client-",
		`group "payers" (` + squatGroup + ") has the declared name but was created by " + grouper.subject + ` applying document "default" as "payers": it is not adopted`} {
		if code != 2 || !strings.Contains(out, want) {
			t.Errorf("exit %d; the plan lacks %q\n%s%s", code, want, out, errOut)
		}
	}
	if _, errOut, code := c.run(doc, "apply", "-f", "-", "--secrets-out", filepath.Join(c.dir, "s.jsonl"), "--prune"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errOut)
	}
	c.expect(3, "check", squatter.subject, "banking.pis.read", "/companies/42")
	c.expect(3, "check", grouper.subject, "banking.ais.read", "/companies/42")
	c.ok("clients", "get", squatter.id)
	c.ok("groups", "get", squatGroup)
	if out, errOut, code := c.run(doc, "plan", "-f", "-"); code != 0 {
		t.Errorf("a second plan: exit %d\n%s%s", code, out, errOut)
	}
}

// TestIamctlPlanListsEveryMistake: plan on a document full of values the
// API would refuse exits 1 listing every one, and neither plan nor apply
// writes anything.
func TestIamctlPlanListsEveryMistake(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "mistakes")
	c := newCLI(t, res)
	root, _ := stack.FindRoot()
	doc := filepath.Join(root, "shared", "provisioning", "provision", "testdata", "mistakes.yaml")
	var before []struct{ ClientID string }
	c.json(&before, "clients", "list")
	for _, cmd := range [][]string{{"plan", "-f", doc}, {"apply", "-f", doc, "--secrets-out", filepath.Join(c.dir, "s.jsonl")}} {
		out := c.expect(1, cmd...)
		for _, want := range []string{"the document has 11 mistake(s); nothing was planned or written", `"apii" is not a scope of this deployment`,
			`"banking.pis.reed" is not an action of this deployment`, "accessTokenLifetime must be from 60 to 86400 seconds",
			`"banking.ais.raed" is not an action`, "clientId must not start with client-", `public key "k1": jwk`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", cmd[0], want, out)
			}
		}
	}
	var after []struct{ ClientID string }
	c.json(&after, "clients", "list")
	if len(after) != len(before) {
		t.Errorf("%d clients before, %d after", len(before), len(after))
	}
	if _, err := os.Stat(filepath.Join(c.dir, "s.jsonl")); err == nil {
		t.Error("apply of a refused document opened its secrets output")
	}
}
