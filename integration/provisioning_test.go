package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/provisioning/customresource"
	"github.com/machine-iam/machine-iam/shared/provisioning/provision"
)

// fakeSecrets stands in for Secrets Manager, which has no local stand-in.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[string]string
}

func (f *fakeSecrets) SecretValue(_ context.Context, arn string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[arn]
	if !ok {
		return "", fmt.Errorf("ResourceNotFoundException: %s", arn)
	}
	return v, nil
}

func (f *fakeSecrets) set(arn, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[arn] = value
}

// fakeStacks stands in for CloudFormation's record of stack resources;
// provisioning.event records what CloudFormation would while it waits on an
// event.
type fakeStacks struct {
	mu        sync.Mutex
	resources map[string]customresource.StackResource
}

func (f *fakeStacks) StackResource(_ context.Context, stackID, logicalID string) (customresource.StackResource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.resources[stackID+"/"+logicalID]
	if !ok {
		return r, fmt.Errorf("ValidationError: Resource %s does not exist for stack %s", logicalID, stackID)
	}
	return r, nil
}

func (f *fakeStacks) set(ev cfn.Event, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resources[ev.StackID+"/"+ev.LogicalResourceID] = customresource.StackResource{
		Type: ev.ResourceType, Status: status, PhysicalID: ev.PhysicalResourceID}
}

// responseRecorder serves CloudFormation's pre-signed response URLs.
type responseRecorder struct {
	*httptest.Server
	mu        sync.Mutex
	responses map[string]cfn.Response
	raw       map[string]string
}

func newResponseRecorder(t *testing.T) *responseRecorder {
	rec := &responseRecorder{responses: map[string]cfn.Response{}, raw: map[string]string{}}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var resp cfn.Response
		if r.Method != http.MethodPut || r.Header.Get("Content-Type") != "" || json.Unmarshal(b, &resp) != nil {
			t.Errorf("answer: %s with content type %q: %s", r.Method, r.Header.Get("Content-Type"), b)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.responses[strings.TrimPrefix(r.URL.Path, "/")] = resp
		rec.raw[strings.TrimPrefix(r.URL.Path, "/")] = string(b)
		rec.mu.Unlock()
	}))
	t.Cleanup(rec.Close)
	return rec
}

// provisioning drives the handler with CloudFormation events.
type provisioning struct {
	t       *testing.T
	h       *customresource.Handler
	rec     *responseRecorder
	secrets *fakeSecrets
	stacks  *fakeStacks
	stackID string
	// provisioner is the provisioner's client secret, which no answer may
	// hold either.
	provisioner string
}

func newProvisioning(t *testing.T, provisioner operator.Result) *provisioning {
	rec := newResponseRecorder(t)
	profile, _ := json.Marshal(provisioner)
	const provisionerArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:machine-iam-provisioner-AbCdEf"
	secrets := &fakeSecrets{values: map[string]string{provisionerArn: string(profile)}}
	stacks := &fakeStacks{resources: map[string]customresource.StackResource{}}
	return &provisioning{t: t, rec: rec, secrets: secrets, stacks: stacks, provisioner: provisioner.ClientSecret,
		stackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/consumer/" + id.New(),
		h: &customresource.Handler{
			Connect: customresource.Provisioners(secrets, provisionerArn, env.base, nil),
			Secrets: secrets, ProvisionerSecretArn: provisionerArn, BaseURL: env.base, HTTP: rec.Client(),
			Stacks: stacks, ResponseURLAllowed: func(u string) bool { return strings.HasPrefix(u, rec.URL+"/") },
		}}
}

// event is an event as CloudFormation sends it, recorded as in progress.
func (p *provisioning) event(requestType cfn.RequestType, physical string, props, old map[string]any) cfn.Event {
	ev := p.forged(requestType, physical, props, old)
	p.stacks.set(ev, map[cfn.RequestType]string{cfn.RequestCreate: "CREATE_IN_PROGRESS",
		cfn.RequestUpdate: "UPDATE_IN_PROGRESS", cfn.RequestDelete: "DELETE_IN_PROGRESS"}[requestType])
	return ev
}

// forged is an event CloudFormation knows nothing of.
func (p *provisioning) forged(requestType cfn.RequestType, physical string, props, old map[string]any) cfn.Event {
	requestID := id.New()
	return cfn.Event{RequestType: requestType, RequestID: requestID, ResponseURL: p.rec.URL + "/" + requestID,
		ResourceType: customresource.ResourceType, PhysicalResourceID: physical, LogicalResourceID: "InvoiceExporter",
		StackID: p.stackID, ResourceProperties: props, OldResourceProperties: old}
}

// send invokes the handler with ev as Lambda would and returns the answer
// CloudFormation received.
func (p *provisioning) send(ev cfn.Event) cfn.Response {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.h.Handle(ctx, ev); err != nil {
		p.t.Fatalf("%s: %v", ev.RequestType, err)
	}
	p.rec.mu.Lock()
	resp, ok := p.rec.responses[ev.RequestID]
	raw := p.rec.raw[ev.RequestID]
	p.rec.mu.Unlock()
	if !ok {
		p.t.Fatalf("%s: no answer reached the response URL", ev.RequestType)
	}
	p.secrets.mu.Lock()
	values := []string{p.provisioner}
	for _, v := range p.secrets.values {
		values = append(values, v)
	}
	p.secrets.mu.Unlock()
	for _, v := range values {
		if v != "" && strings.Contains(raw, v) {
			p.t.Fatalf("%s: the answer holds a secret: %s", ev.RequestType, raw)
		}
	}
	return resp
}

func (p *provisioning) succeed(ev cfn.Event) cfn.Response {
	p.t.Helper()
	resp := p.send(ev)
	if resp.Status != cfn.StatusSuccess {
		p.t.Fatalf("%s: %s %s", ev.RequestType, resp.Status, resp.Reason)
	}
	return resp
}

func (p *provisioning) fail(ev cfn.Event, reason string) cfn.Response {
	p.t.Helper()
	resp := p.send(ev)
	if resp.Status != cfn.StatusFailed || !strings.Contains(resp.Reason, reason) {
		p.t.Fatalf("%s: %s %q, want FAILED with %q", ev.RequestType, resp.Status, resp.Reason, reason)
	}
	return resp
}

// TestCustomResourceLifecycle sends the events of a stack's life to the
// provisioning handler: create (and its retry), update, a failed update and
// its rollback, delete (twice), with the client checked over HTTP after each.
func TestCustomResourceLifecycle(t *testing.T) {
	t.Parallel()
	adminTok, res := newTenantAdmin(t, "cfn")
	p := newProvisioning(t, res)
	group := send(t, http.MethodPost, "/v1/subjects/groups", adminTok, map[string]any{"displayName": "payment-jobs", "description": "jobs"})
	if group.Status != http.StatusCreated && group.Status != http.StatusOK {
		t.Fatal(group)
	}
	groupSubject := group.json(t)["subjectId"].(string)
	grant(t, adminTok, groupSubject, "banking.ais.read", "/companies/42")
	p.secrets.set("arn:secret-1", "first-secret-value-123")
	p.secrets.set("arn:secret-2", "second-secret-value-456")

	props := map[string]any{
		"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provisioning",
		"Tenant":       res.Tenant, "Name": "invoice-exporter", "Description": "Nightly export",
		"Scopes": []any{"api"}, "AccessTokenLifetime": "900", "TokenClaims": map[string]any{"team": "payments"},
		"Policies":  []any{map[string]any{"Action": "banking.pis.read", "Scope": "/companies/42/payments/"}},
		"Groups":    []any{groupSubject},
		"SecretArn": "arn:secret-1",
	}
	// A group is named by its id: a display name is refused, as anyone
	// allowed to create groups could take it.
	byName := clone(props)
	byName["Name"], byName["Groups"] = "by-name", []any{"payment-jobs"}
	p.fail(p.event(cfn.RequestCreate, "", byName, nil), "by its id")
	create := p.event(cfn.RequestCreate, "", props, nil)
	resp := p.succeed(create)
	clientID := resp.PhysicalResourceID
	if resp.Data["ClientId"] != clientID || resp.Data["SubjectId"] != "client-"+clientID ||
		resp.Data["TokenEndpoint"] != env.base+tokenPath(res.Tenant) {
		t.Fatalf("create answered %+v", resp)
	}
	subject := "client-" + clientID
	tok := tokenFor(t, res.Tenant, clientID, "first-secret-value-123", "api")
	if claims := claimsOf(t, tok); claims["team"] != "payments" || claims["exp"].(float64)-claims["iat"].(float64) != 900 {
		t.Errorf("token claims %v", claims)
	}
	assertAllowed(t, adminTok, subject, "banking.pis.read", "/companies/42/payments/7", true)
	assertAllowed(t, adminTok, subject, "banking.ais.read", "/companies/42", true) // through the group

	// Lambda retries a create after a crash: the same client, not another.
	if again := p.succeed(create); again.PhysicalResourceID != clientID {
		t.Fatalf("a retried create made client %s, not %s", again.PhysicalResourceID, clientID)
	}
	if r := send(t, http.MethodGet, "/v1/clients?searchText=invoice-exporter", adminTok, nil); r.json(t)["metadata"].(map[string]any)["totalCount"].(float64) != 1 {
		t.Fatalf("clients named invoice-exporter: %s", r)
	}

	// Update: another secret, a policy moved, the group left.
	updated := clone(props)
	updated["SecretArn"] = "arn:secret-2"
	updated["Policies"] = []any{map[string]any{"Action": "banking.pis.create", "Scope": "/companies/42/payments"}}
	updated["Groups"] = []any{}
	if r := p.succeed(p.event(cfn.RequestUpdate, clientID, updated, props)); r.PhysicalResourceID != clientID {
		t.Fatalf("update replaced the client: %+v", r)
	}
	tokenFor(t, res.Tenant, clientID, "second-secret-value-456", "api")
	if r := send(t, http.MethodPost, tokenPath(res.Tenant), "", tokenForm(clientID, "first-secret-value-123")); r.Status != http.StatusUnauthorized {
		t.Fatalf("the replaced secret still works: %s", r)
	}
	assertAllowed(t, adminTok, subject, "banking.pis.read", "/companies/42/payments/7", false)
	assertAllowed(t, adminTok, subject, "banking.pis.create", "/companies/42/payments/7", true)
	assertAllowed(t, adminTok, subject, "banking.ais.read", "/companies/42", false)

	// A failing update (an action the catalog lacks), then CloudFormation's
	// rollback: an update back to the old properties.
	bad := clone(updated)
	bad["Policies"] = []any{map[string]any{"Action": "banking.nonsense", "Scope": "/"}}
	p.fail(p.event(cfn.RequestUpdate, clientID, bad, updated), "banking.nonsense")
	p.succeed(p.event(cfn.RequestUpdate, clientID, updated, bad))
	assertAllowed(t, adminTok, subject, "banking.pis.create", "/companies/42/payments/7", true)

	del := p.event(cfn.RequestDelete, clientID, updated, nil)
	p.succeed(del)
	if r := send(t, http.MethodGet, "/v1/clients/"+clientID, adminTok, nil); r.Status != http.StatusNotFound {
		t.Fatalf("deleted client: %s", r)
	}
	p.succeed(del) // a repeated delete
}

// TestCustomResourceRefusals: what the provisioner may not confer, bad
// properties, a client the resource did not make, and the deadline.
func TestCustomResourceRefusals(t *testing.T) {
	t.Parallel()
	adminTok, res := newTenantAdmin(t, "cfnbad")
	// The provisioner may manage clients under /clients, and grant only
	// banking.ais.read on /companies/42.
	prov := newTenantCaller(t, res.Tenant, adminTok, "provisioner", "services.iam")
	grant(t, adminTok, prov.subject, "iam.client.manage", "/clients")
	grant(t, adminTok, prov.subject, "iam.secret.manage", "/clients")
	grant(t, adminTok, prov.subject, "iam.policy.create", "/companies/42")
	grant(t, adminTok, prov.subject, "banking.ais.read", "/companies/42")
	p := newProvisioning(t, operator.Result{Tenant: res.Tenant, ClientID: prov.id, ClientSecret: prov.secret})
	p.secrets.set("arn:s", "a-secret-value-0123")
	props := map[string]any{"Tenant": res.Tenant, "Name": "reader", "SecretArn": "arn:s", "Scopes": []any{},
		"Policies": []any{map[string]any{"Action": "banking.ais.read", "Scope": "/companies/42"}}}
	ok := p.succeed(p.event(cfn.RequestCreate, "", props, nil))

	// Escalation: owner on / is more than the provisioner holds. Nothing is
	// left behind, and the rollback's delete succeeds.
	owner := clone(props)
	owner["Name"] = "would-be-owner"
	owner["Policies"] = []any{map[string]any{"Action": "owner", "Scope": "/"}}
	failed := p.fail(p.event(cfn.RequestCreate, "", owner, nil), "403")
	r := send(t, http.MethodGet, "/v1/clients?searchText=would-be-owner", adminTok, nil)
	if n := r.json(t)["metadata"].(map[string]any)["totalCount"].(float64); n != 0 {
		t.Fatalf("a refused create left %v clients", n)
	}
	p.succeed(p.event(cfn.RequestDelete, failed.PhysicalResourceID, owner, nil))

	for reason, change := range map[string]func(map[string]any){
		`unknown property "Secret"`:                          func(m map[string]any) { m["Secret"] = "x" },
		"Name is required":                                   func(m map[string]any) { delete(m, "Name") },
		"Tenant must be a tenant name":                       func(m map[string]any) { m["Tenant"] = "Not A Tenant" },
		"AccessTokenLifetime must be a number":               func(m map[string]any) { m["AccessTokenLifetime"] = "soon" },
		"give PublicKeys, FederatedCredentials or SecretArn": func(m map[string]any) { delete(m, "SecretArn") },
		"reading SecretArn":                                  func(m map[string]any) { m["SecretArn"] = "arn:missing" },
		"SecretArn must be the ARN":                          func(m map[string]any) { m["SecretArn"] = "machine-iam/x" },
		"names the provisioner's own secret": func(m map[string]any) {
			m["SecretArn"] = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:machine-iam-provisioner"
		},
		`no provisioner for tenant "nobody-here"`: func(m map[string]any) { m["Tenant"] = "nobody-here" },
	} {
		m := clone(props)
		m["Name"] = "refused"
		change(m)
		resp := p.fail(p.event(cfn.RequestCreate, "", m, nil), reason)
		if !strings.HasPrefix(resp.PhysicalResourceID, "none-") {
			t.Errorf("%s: a failed create answered id %q", reason, resp.PhysicalResourceID)
		}
	}

	// Another stack's resource, or a client made by hand, is never touched:
	// an update of one makes a replacement, and its delete leaves it.
	stranger, _ := newClient(t, adminTok, "by-hand", "api")
	before := send(t, http.MethodGet, "/v1/clients/"+stranger, adminTok, nil)
	replaced := p.succeed(p.event(cfn.RequestUpdate, stranger, props, props))
	if replaced.PhysicalResourceID == stranger {
		t.Fatalf("an update adopted a client made by hand")
	}
	p.succeed(p.event(cfn.RequestDelete, stranger, props, nil))
	if r := send(t, http.MethodGet, "/v1/clients/"+stranger, adminTok, nil); r.Status != http.StatusOK || r.Header.Get("ETag") != before.Header.Get("ETag") {
		t.Fatalf("a client the resource did not make was changed or deleted: %s", r)
	}
	p.succeed(p.event(cfn.RequestDelete, replaced.PhysicalResourceID, props, nil))
	other := newProvisioning(t, operator.Result{Tenant: res.Tenant, ClientID: prov.id, ClientSecret: prov.secret})
	other.secrets.set("arn:s", "a-secret-value-0123")
	other.succeed(other.event(cfn.RequestDelete, ok.PhysicalResourceID, props, nil))
	if r := send(t, http.MethodGet, "/v1/clients/"+ok.PhysicalResourceID, adminTok, nil); r.Status != http.StatusOK {
		t.Fatalf("another stack's delete removed the client: %s", r)
	}

	// The deadline: a provisioner that never answers still gets a FAILED
	// answer out before the function would time out.
	hang := newProvisioning(t, res)
	hang.h.Connect = func(ctx context.Context, _ string) (provision.API, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	hang.h.Margin = 500 * time.Millisecond
	ev := hang.event(cfn.RequestCreate, "", props, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	started := time.Now()
	if err := hang.h.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if resp := hang.rec.responses[ev.RequestID]; resp.Status != cfn.StatusFailed || !strings.Contains(resp.Reason, "timeout") ||
		time.Since(started) > 2*time.Second {
		t.Fatalf("a hanging create answered %+v after %s", resp, time.Since(started))
	}
}

// TestShippedCreateEvent runs events/provisioning/create.json, the event
// `sam local invoke ProvisioningFunction` takes, through the handler.
func TestShippedCreateEvent(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "cfnevent")
	p := newProvisioning(t, res)
	root, _ := stack.FindRoot()
	raw, err := os.ReadFile(filepath.Join(root, "events", "provisioning", "create.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev cfn.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev.ResourceProperties["Tenant"] = res.Tenant
	ev.ResponseURL = p.rec.URL + "/" + ev.RequestID
	p.stacks.set(ev, "CREATE_IN_PROGRESS")
	resp := p.succeed(ev)
	if resp.Data["ClientId"] != resp.PhysicalResourceID {
		t.Fatalf("answer %+v", resp)
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// assertAllowed asks the permission check whether subject may do action on
// scope.
func assertAllowed(t *testing.T, admin, subject, action, scope string, want bool) {
	t.Helper()
	r := send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": subject, "action": action, "scope": scope})
	if r.Status != http.StatusOK || r.json(t)["allowed"] != want {
		t.Errorf("%s %s on %s: %s, want allowed=%v", subject, action, scope, r, want)
	}
}

// TestExampleStackDeclaresWhatTheFileDoes provisions examples/provisioning's
// stack.yaml (its custom resources, as CloudFormation would send them) in
// one tenant and applies tenant.yaml to another: the clients end up with the
// same scopes, lifetimes, claims, keys and effective permissions.
func TestExampleStackDeclaresWhatTheFileDoes(t *testing.T) {
	t.Parallel()
	root, _ := stack.FindRoot()
	dir := filepath.Join(root, "examples", "provisioning")

	fileAdmin, fileTenant := newTenantAdmin(t, "byfile")
	c := newCLI(t, fileTenant)
	c.ok("apply", "-f", c.exampleDocument(), "--secrets-out", filepath.Join(c.dir, "secrets.jsonl"))

	stackAdmin, stackTenant := newTenantAdmin(t, "bystack")
	p := newProvisioning(t, stackTenant)
	raw, err := os.ReadFile(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:machine-iam/consumer/invoice-exporter-AbCdEf"
	p.secrets.set(secretArn, "generated-by-secrets-manager-001")
	// The same public key the file's apply registered, as the stack's
	// parameter (one line of JSON).
	jwk, err := os.ReadFile(filepath.Join(c.dir, "payment-runner.pub.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, jwk); err != nil {
		t.Fatal(err)
	}
	tmpl.Overrides = map[string]string{"Tenant": stackTenant.Tenant, "PaymentRunnerPublicJwk": compact.String()}
	tmpl.Physical = map[string]string{"InvoiceExporterSecret": secretArn}
	tmpl.Imports = map[string]string{"machine-iam-ProvisioningFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:provisioning"}
	resources := tmpl.OfType(customresource.ResourceType)
	if len(resources) != 2 {
		t.Fatalf("stack.yaml declares %v", resources)
	}
	for _, name := range resources {
		props, err := tmpl.ResolveProperties(tmpl.Resources[name].Properties)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ev := p.event(cfn.RequestCreate, "", props.(map[string]any), nil)
		ev.LogicalResourceID = name
		p.stacks.set(ev, "CREATE_IN_PROGRESS")
		p.succeed(ev)
	}

	for _, name := range []string{"invoice-exporter", "payment-runner"} {
		byFile, byStack := describeClient(t, fileAdmin, name), describeClient(t, stackAdmin, name)
		t.Logf("%s: %s", name, byFile)
		if byFile != byStack {
			t.Errorf("%s differs:\n by file:  %s\n by stack: %s", name, byFile, byStack)
		}
	}
}

// describeClient summarises what a client may do: its scopes, lifetime,
// claims, key ids, federated credentials and effective permissions.
func describeClient(t *testing.T, admin, name string) string {
	t.Helper()
	r := send(t, http.MethodGet, "/v1/clients?searchText="+name, admin, nil)
	items := r.json(t)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("clients named %s: %s", name, r)
	}
	cl := items[0].(map[string]any)
	id := cl["clientId"].(string)
	var kids []string
	for _, k := range send(t, http.MethodGet, "/v1/clients/"+id+"/keys", admin, nil).json(t)["items"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	var federated []string
	for _, f := range send(t, http.MethodGet, "/v1/clients/"+id+"/federated-credentials", admin, nil).json(t)["items"].([]any) {
		m := f.(map[string]any)
		federated = append(federated, fmt.Sprint(m["issuer"], " ", m["subject"], " ", m["claims"]))
	}
	var perms []string
	for _, p := range send(t, http.MethodGet, "/v1/subjects/client-"+id+"/permissions", admin, nil).json(t)["data"].([]any) {
		m := p.(map[string]any)
		perms = append(perms, m["action"].(string)+" on "+m["scope"].(string))
	}
	slices.Sort(perms)
	return fmt.Sprintf("scopes=%v lifetime=%v claims=%v kids=%v federated=%v permissions=%v",
		cl["allowedScopes"], cl["accessTokenLifetime"], cl["tokenClaims"], kids, federated, perms)
}

// TestCustomResourceForgedEvents: whoever may invoke the function could send
// it events of their own. Only events CloudFormation confirms are acted on,
// only CloudFormation's response URLs are answered, no planted client is
// adopted, and the resource owns its client's credentials.
func TestCustomResourceForgedEvents(t *testing.T) {
	t.Parallel()
	adminTok, res := newTenantAdmin(t, "cfnforge")
	p := newProvisioning(t, res)
	const victimArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:machine-iam/victim-AbCdEf"
	const attackerArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:machine-iam/attacker-AbCdEf"
	p.secrets.set(victimArn, "victim-secret-value-0001")
	p.secrets.set(attackerArn, "attacker-secret-value-01")
	props := map[string]any{"Tenant": res.Tenant, "Name": "victim", "SecretArn": victimArn, "Scopes": []any{"api"},
		"Policies": []any{map[string]any{"Action": "banking.ais.read", "Scope": "/companies/42"}}}
	create := p.event(cfn.RequestCreate, "", props, nil)
	victim := p.succeed(create).PhysicalResourceID
	created := create
	created.PhysicalResourceID = victim
	p.stacks.set(created, "CREATE_COMPLETE")

	stolen := clone(props)
	stolen["SecretArn"] = attackerArn
	p.fail(p.forged(cfn.RequestUpdate, victim, stolen, props), "is CREATE_COMPLETE, not UPDATE_IN_PROGRESS")
	p.fail(p.forged(cfn.RequestDelete, victim, props, nil), "is CREATE_COMPLETE, not DELETE_IN_PROGRESS")
	tokenFor(t, res.Tenant, victim, "victim-secret-value-0001", "api")
	if r := send(t, http.MethodPost, tokenPath(res.Tenant), "", tokenForm(victim, "attacker-secret-value-01")); r.Status != http.StatusUnauthorized {
		t.Fatalf("a forged update took effect: %s", r)
	}

	// An event whose response URL is not CloudFormation's is not acted on,
	// and nothing is sent there.
	foreign := p.event(cfn.RequestUpdate, victim, stolen, props)
	foreign.ResponseURL = "https://attacker.example/collect"
	if err := p.h.Handle(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	tokenFor(t, res.Tenant, victim, "victim-secret-value-0001", "api")

	// A client planted with a guessed marker is not adopted by a create.
	guess := "Planted [cloudformation " + p.stackID + " Next " + id.New() + "]"
	planted := send(t, http.MethodPost, "/v1/clients", adminTok, map[string]any{"name": "next", "description": guess,
		"allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{}, "redirectUris": []string{}})
	next := clone(props)
	next["Name"] = "next"
	ev := p.event(cfn.RequestCreate, "", next, nil)
	ev.LogicalResourceID = "Next"
	p.stacks.set(ev, "CREATE_IN_PROGRESS")
	if got := p.succeed(ev).PhysicalResourceID; got == planted.json(t)["clientId"] {
		t.Fatal("a create adopted a planted client")
	}

	// The resource owns the client's credentials: an update removes a
	// secret added by hand, and an empty secret value is refused.
	r := send(t, http.MethodPost, "/v1/clients/"+victim+"/secrets", adminTok, map[string]any{"value": "by-hand-secret-000001", "description": "by hand"})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	p.succeed(p.event(cfn.RequestUpdate, victim, props, props))
	if r := send(t, http.MethodPost, tokenPath(res.Tenant), "", tokenForm(victim, "by-hand-secret-000001")); r.Status != http.StatusUnauthorized {
		t.Fatalf("a secret added by hand survived the update: %s", r)
	}
	tokenFor(t, res.Tenant, victim, "victim-secret-value-0001", "api")
	p.secrets.set(victimArn, "")
	p.fail(p.event(cfn.RequestUpdate, victim, props, props), "SecretArn holds no string value")
	tokenFor(t, res.Tenant, victim, "victim-secret-value-0001", "api")

	// Deletes of what is not ours succeed without touching anything, so
	// stacks roll back.
	other := p.event(cfn.RequestDelete, victim, props, nil)
	other.ResourceType = "AWS::CloudFormation::CustomResource"
	p.succeed(other)
	tokenFor(t, res.Tenant, victim, "victim-secret-value-0001", "api")
}
