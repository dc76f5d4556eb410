package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// functionDirs maps each template function to its directory under
// functions/ and events/.
var functionDirs = map[string]string{
	"TokenFunction": "token", "ClientsFunction": "clients", "SecretsFunction": "secrets", "PoliciesFunction": "policies",
}

// emulatorRuns lists, per function, its events in the order they run under
// the emulator and the status each must produce.
var emulatorRuns = map[string][]struct {
	event  string
	status int
}{
	"TokenFunction": {{"token-basic", 200}, {"token-post-tenant", 200}, {"discovery", 200}, {"discovery-tenant", 200}, {"jwks", 200},
		{"introspect", 200}, {"revocation-tenant", 200}},
	"ClientsFunction": {{"list-clients", 200}, {"create-client", 201}, {"get-client", 200}, {"replace-client", 200},
		{"delete-client", 204}, {"get-client", 404}, {"revoke-tokens", 404}, {"unlock", 404}, {"unknown-path", 404}},
	"SecretsFunction": {{"list-secrets", 200}, {"create-secret", 201}, {"import-secret", 201}, {"delete-secret", 204}, {"delete-secret", 404}, {"list-keys", 200}, {"delete-key", 404},
		{"list-federated-credentials", 200}, {"delete-federated-credential", 404}},
	"PoliciesFunction": {{"list-actions", 200}, {"create-policy", 200}, {"list-policies", 200}, {"check-permission", 200},
		{"subject-permissions", 200}, {"client-subjects", 200}, {"create-group", 201}, {"list-groups", 200}, {"get-group", 200},
		{"add-members", 204}, {"list-members", 200}, {"subject-memberships", 200}, {"remove-members", 204},
		{"delete-policy", 204}, {"delete-group", 204}, {"get-group", 404}},
}

// TestEventsMatchTemplate: every events/ file is an API Gateway payload-2.0
// event for a route its function declares, and every declared route has an
// event.
func TestEventsMatchTemplate(t *testing.T) {
	root := repoRoot(t)
	for fn, dir := range functionDirs {
		declared := map[string]bool{}
		for _, r := range env.svc.Template.Routes(fn) {
			declared[r.Method+" "+r.Path] = false
		}
		files, _ := filepath.Glob(filepath.Join(root, "events", dir, "*.json"))
		if len(files) == 0 {
			t.Errorf("%s has no events", fn)
		}
		for _, f := range files {
			var ev events.APIGatewayV2HTTPRequest
			raw, _ := os.ReadFile(f)
			if err := json.Unmarshal(raw, &ev); err != nil || ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" {
				t.Errorf("%s is not a payload-2.0 event: %v", f, err)
				continue
			}
			if _, ok := declared[ev.RouteKey]; !ok {
				t.Errorf("%s: route %q is not declared for %s", f, ev.RouteKey, fn)
			}
			declared[ev.RouteKey] = true
		}
		for route, seen := range declared {
			if !seen {
				t.Errorf("%s: no event for %s", fn, route)
			}
		}
	}
}

// TestFunctionsUnderRuntimeEmulator builds every function as a real Linux
// bootstrap and runs it under the Lambda runtime interface emulator, one
// invoke at a time, against each of its events/ files.
func TestFunctionsUnderRuntimeEmulator(t *testing.T) {
	root := repoRoot(t)
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("%s is missing: run make tools", rie)
	}
	admin := adminToken(t)
	vars := map[string]string{
		"ACCESS_TOKEN": admin, "CLIENT_ID": env.admin.ClientID, "CLIENT_SECRET": env.admin.ClientSecret,
		"CLIENT_BASIC": base64.StdEncoding.EncodeToString([]byte(env.admin.ClientID + ":" + env.admin.ClientSecret)),
	}
	bins := buildBootstraps(t, root)
	for _, fn := range env.svc.Template.APIFunctions() {
		t.Run(fn, func(t *testing.T) {
			target, _ := newClient(t, admin, "emulator-"+functionDirs[fn])
			vars["TARGET_CLIENT_ID"] = target
			sec := send(t, http.MethodPost, "/v1/clients/"+target+"/secrets", admin, map[string]any{"value": "emulator-secret", "description": "e"})
			vars["SECRET_ID"] = sec.json(t)["id"].(string)
			em := startEmulator(t, rie, bins[fn], functionEnv(t, fn))
			defer em.stop()
			for i, run := range emulatorRuns[fn] {
				raw, err := os.ReadFile(filepath.Join(root, "events", functionDirs[fn], run.event+".json"))
				if err != nil {
					t.Fatal(err)
				}
				payload := []byte(os.Expand(string(raw), func(k string) string { return vars[k] }))
				resp := em.invoke(t, payload)
				if resp.StatusCode != run.status {
					t.Fatalf("%s: status %d, want %d: %s", run.event, resp.StatusCode, run.status, resp.Body)
				}
				if run.event == "create-group" {
					var g map[string]any
					_ = json.Unmarshal([]byte(resp.Body), &g)
					vars["GROUP_ID"], _ = g["id"].(string)
				}
				if i == 0 {
					t.Logf("%s: %s", fn, em.initReport())
				}
			}
			if !em.logged(`"msg":"starting","version":"` + stampedVersion + `"`) {
				t.Errorf("%s: no start-up line naming release %s:\n%s", fn, stampedVersion, em.logs())
			}
		})
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// The release buildBootstraps stamps into the functions, as the Makefile
// stamps VERSION.
const (
	versionVar     = "github.com/machine-iam/machine-iam/shared/runtime/version.Version"
	stampedVersion = "v0.0.0-emulator"
)

// buildBootstraps compiles every function the way make build does, for this
// machine's architecture so the emulator can run it, in one go build.
func buildBootstraps(t testing.TB, root string) map[string]string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -X "+versionVar+"="+stampedVersion, "-o", out+"/", "./functions/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	bins := map[string]string{}
	for fn, dir := range functionDirs {
		bins[fn] = filepath.Join(out, dir)
	}
	return bins
}

// functionEnv is what the function's Lambda environment would hold: the
// template's variables, plus the endpoints and credentials of the stand-ins.
func functionEnv(t testing.TB, fn string) []string {
	t.Helper()
	vars, err := env.svc.Template.Environment(fn)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		if strings.HasPrefix(v, "{{resolve:secretsmanager:") {
			vars[k] = env.svc.ResolveSecret(v)
		}
	}
	for k, v := range env.svc.Env {
		vars[k] = v
	}
	vars["ISSUER_URL"] = env.base
	vars["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "10"
	vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "256"
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

type emulator struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	output bytes.Buffer
}

func (e *emulator) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.output.Write(p)
}

// freePorts returns two distinct free addresses: both listeners stay open
// until both are picked, so the second cannot be the first again (the
// emulator panics when its two addresses are one).
func freePorts(t testing.TB) (string, string) {
	t.Helper()
	var addrs [2]string
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs[0], addrs[1]
}

func startEmulator(t testing.TB, rie, bootstrap string, environ []string) *emulator {
	t.Helper()
	addr, apiAddr := freePorts(t)
	e := &emulator{url: "http://" + addr + "/2015-03-31/functions/function/invocations"}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrap)
	e.cmd.Env = environ
	e.cmd.Stdout, e.cmd.Stderr = e, e
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			e.stop()
			t.Fatalf("the emulator did not start:\n%s", e.output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *emulator) invoke(t testing.TB, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	body := e.invokeRaw(t, payload)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("the function returned no API Gateway response: %s\n%s", body, e.output.String())
	}
	return resp
}

// invokeRaw returns what the function returned, whatever its shape.
func (e *emulator) invokeRaw(t testing.TB, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, e.output.String())
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return body
}

func (e *emulator) logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.output.String()
}

func (e *emulator) logged(fragment string) bool { return strings.Contains(e.logs(), fragment) }

var initDuration = regexp.MustCompile(`Init Duration: [0-9.]+ ms`)

func (e *emulator) initReport() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := initDuration.FindString(e.output.String()); m != "" {
		return m
	}
	return "no init report"
}

func (e *emulator) stop() {
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	_ = e.cmd.Wait()
}
