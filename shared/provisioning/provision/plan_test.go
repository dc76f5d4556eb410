package provision

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// recordingAPI is a tenant of one group and one client, recording every
// write in order. Methods a test does not reach stay unimplemented.
type recordingAPI struct {
	API
	writes []string
}

func (f *recordingAPI) Tenant() string { return "t" }

// The shipped catalogs, as a deployment without its own lists them.
func (f *recordingAPI) ScopesSupported(context.Context) ([]string, error) {
	return builtin.Scopes.Names(), nil
}

func (f *recordingAPI) ListActions(context.Context) ([]wire.Action, error) {
	var out []wire.Action
	for _, a := range builtin.Actions.All() {
		w := wire.Action{Action: a.Name, Description: a.Description}
		if a.Parent != "" {
			w.Parent = &a.Parent
		}
		out = append(out, w)
	}
	return out, nil
}
func (f *recordingAPI) Subject() string { return "client-applier" }

// applied is the provenance of what the applier made from the default
// document under name.
func applied(name string) *wire.Provenance {
	return &wire.Provenance{CreatedBy: "client-applier", Via: "apply", Document: DefaultName, Name: name}
}

func (f *recordingAPI) ListClients(context.Context, string) ([]apiclient.ClientRecord, error) {
	return []apiclient.ClientRecord{{Client: wire.Client{ClientSpec: f.spec(), ClientID: "c1", SubjectID: "client-c1"}, ETag: `"1"`}}, nil
}

func (f *recordingAPI) spec() wire.ClientSpec {
	return wire.ClientSpec{Name: "job", Description: "d", AllowedGrantTypes: []string{"client_credentials"}, Provenance: applied("job")}
}

func (f *recordingAPI) ListGroups(context.Context) ([]wire.Group, error) {
	return []wire.Group{{ID: "g1", SubjectID: "group-g1", DisplayName: "jobs", Description: "d", Provenance: applied("jobs")}}, nil
}

func (f *recordingAPI) ListPolicies(_ context.Context, p apiclient.PolicyFilter) ([]wire.Policy, error) {
	if p.Subject == "group-g1" {
		return []wire.Policy{{Subject: "group-g1", Action: "owner", Scope: "/companies/42"}}, nil
	}
	return nil, nil
}

func (f *recordingAPI) Members(context.Context, string) ([]wire.Subject, error) { return nil, nil }
func (f *recordingAPI) ListAPIs(context.Context) ([]wire.API, error)            { return nil, nil }
func (f *recordingAPI) Memberships(context.Context, string) ([]wire.Group, error) {
	return nil, nil
}
func (f *recordingAPI) ListKeys(context.Context, string) ([]wire.Key, error) { return nil, nil }
func (f *recordingAPI) ListFederatedCredentials(context.Context, string) ([]wire.FederatedCredential, error) {
	return nil, nil
}
func (f *recordingAPI) GetClient(context.Context, string) (apiclient.ClientRecord, error) {
	panic("no read needed")
}

func (f *recordingAPI) Grant(_ context.Context, p wire.Policy) (wire.Policy, error) {
	f.writes = append(f.writes, "grant "+p.Subject+" "+p.Action)
	return p, nil
}

func (f *recordingAPI) Revoke(_ context.Context, p wire.Policy) error {
	f.writes = append(f.writes, "revoke "+p.Subject+" "+p.Action)
	return nil
}

func (f *recordingAPI) AddMembers(_ context.Context, g string, ids ...string) error {
	f.writes = append(f.writes, "join "+g+" "+strings.Join(ids, ","))
	return nil
}

// TestApplyNeverGrantsWhatNeitherStateGives: the group loses owner and gains
// read while the client joins it. Joining before the revoke would give the
// client owner, which neither state gives it, for as long as apply takes
// (or for good, were it stopped there).
func TestApplyNeverGrantsWhatNeitherStateGives(t *testing.T) {
	doc, err := Parse(strings.NewReader(`version: 1
groups:
  - {name: jobs, description: d, policies: [{action: banking.ais.read, scope: /companies/42}]}
clients:
  - {name: job, description: d, groups: [jobs]}
`))
	if err != nil {
		t.Fatal(err)
	}
	api := &recordingAPI{}
	plan, err := MakePlan(context.Background(), api, doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(context.Background(), api, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"grant group-g1 banking.ais.read", "revoke group-g1 owner", "join g1 client-c1"}
	if !slices.Equal(api.writes, want) {
		t.Fatalf("writes %q, want %q", api.writes, want)
	}
}

// tenantAPI is a tenant of clients and groups made by various creators,
// for the matching rules: what an apply manages is what it made.
type tenantAPI struct {
	recordingAPI
	clients []apiclient.ClientRecord
	groups  []wire.Group
	members map[string][]wire.Subject
	// holds is what the applier may do, as "action on scope".
	holds []string
	perms map[string][]wire.Permission
	// me is the applying client's record.
	me apiclient.ClientRecord
}

func (f *tenantAPI) GetClient(_ context.Context, id string) (apiclient.ClientRecord, error) {
	if id != "applier" {
		panic("only the applier is read")
	}
	return f.me, nil
}

func (f *tenantAPI) ListClients(context.Context, string) ([]apiclient.ClientRecord, error) {
	return f.clients, nil
}
func (f *tenantAPI) ListGroups(context.Context) ([]wire.Group, error) { return f.groups, nil }
func (f *tenantAPI) Members(_ context.Context, g string) ([]wire.Subject, error) {
	return f.members[g], nil
}
func (f *tenantAPI) Permissions(_ context.Context, s string) ([]wire.Permission, error) {
	return f.perms[s], nil
}
func (f *tenantAPI) Check(_ context.Context, _, action, scope string) (wire.Decision, error) {
	return wire.Decision{Allowed: slices.Contains(f.holds, action+" on "+scope)}, nil
}

func record(id, name string, p *wire.Provenance) apiclient.ClientRecord {
	return apiclient.ClientRecord{Client: wire.Client{ClientSpec: wire.ClientSpec{Name: name, Description: "d", AllowedGrantTypes: []string{"client_credentials"},
		Provenance: p}, ClientID: id, SubjectID: "client-" + id}, ETag: `"1"`}
}

func mustParse(t *testing.T, doc string) Document {
	t.Helper()
	d, err := Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPlanAdoptsNothingByName: a client that renamed itself to a declared
// name, and a group created under a declared name by someone else, are not
// adopted: the plan creates the declared ones anew and says why; prune
// deletes only what this applier made from this document.
func TestPlanAdoptsNothingByName(t *testing.T) {
	api := &tenantAPI{
		clients: []apiclient.ClientRecord{
			record("evil", "exporter", &wire.Provenance{CreatedBy: "client-evil", Via: "api"}),
			record("planted", "other", &wire.Provenance{CreatedBy: "client-evil", Via: "apply", Document: DefaultName, Name: "exporter"}),
			record("mine-old", "gone", applied("gone")),
			record("elsewhere", "x", &wire.Provenance{CreatedBy: "client-applier", Via: "apply", Document: "other-doc", Name: "gone"}),
			record("stack", "y", &wire.Provenance{CreatedBy: "client-applier", Via: "stack", StackID: "arn", LogicalID: "L"}),
			record("legacy", "z", nil),
		},
		groups: []wire.Group{{ID: "g-evil", SubjectID: "group-g-evil", DisplayName: "jobs", Description: "d",
			Provenance: &wire.Provenance{CreatedBy: "client-evil", Via: "api"}}},
	}
	doc := mustParse(t, `version: 1
groups: [{name: jobs, description: d, policies: [{action: banking.ais.read, scope: /companies/42}]}]
clients: [{name: exporter, description: d, groups: [jobs]}]
`)
	plan, err := MakePlan(context.Background(), api, doc, Options{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	plan.Write(&out)
	text := out.String()
	for _, want := range []string{`+ group "jobs"`, `+ client "exporter"`, `- client "gone" (mine-old)`,
		`client "exporter" (evil) has the declared name but was created by client-evil through the API: it is not adopted`,
		`group "jobs" (g-evil) has the declared name but was created by client-evil through the API: it is not adopted`} {
		if !strings.Contains(text, want) {
			t.Errorf("the plan lacks %q:\n%s", want, text)
		}
	}
	for _, c := range plan.Changes {
		if slices.Contains([]string{"evil", "planted", "elsewhere", "stack", "legacy", "g-evil"}, c.ID) {
			t.Errorf("the plan changes %s %s, which this apply did not make:\n%s", c.Kind, c.ID, text)
		}
	}
	if got := plan.Changes; len(got) != 3 {
		t.Errorf("changes %+v, want a group and a client to create and one client to prune", got)
	}
}

// TestPlanTakeoverNeedsAllTheObjectHolds: a client named by id is taken
// over only when the applier holds all it holds, and the plan says so.
func TestPlanTakeoverNeedsAllTheObjectHolds(t *testing.T) {
	api := &tenantAPI{
		clients: []apiclient.ClientRecord{record("strong", "exporter", &wire.Provenance{CreatedBy: "client-boss", Via: "api"})},
		perms:   map[string][]wire.Permission{"client-strong": {{Action: "iam.client.read", Scope: "/clients"}}},
		me:      record("applier", "applier", nil),
	}
	doc := mustParse(t, `version: 1
clients: [{name: exporter, id: strong, description: changed}]
`)
	if _, err := MakePlan(context.Background(), api, doc, Options{}); err == nil || !strings.Contains(err.Error(), "iam.client.read on /clients") {
		t.Fatalf("a takeover of a client holding more than the applier: %v, want a refusal naming what it lacks", err)
	}
	api.holds = []string{"iam.client.read on /clients"}
	// Every right its fields bear counts too: an audience the applier's
	// own tokens may not carry is one it lacks.
	api.clients[0].AllowedAudiences = []string{"https://payments.example"}
	if _, err := MakePlan(context.Background(), api, doc, Options{}); err == nil || !strings.Contains(err.Error(), "audience https://payments.example") {
		t.Fatalf("a takeover of a client with another audience: %v, want a refusal naming it", err)
	}
	api.clients[0].AllowedAudiences = nil
	plan, err := MakePlan(context.Background(), api, doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	plan.Write(&out)
	if !strings.Contains(out.String(), "! takes over   strong, created by client-boss through the API") {
		t.Fatalf("the plan does not announce the takeover:\n%s", out.String())
	}
}

// racedAPI is an empty tenant in which, while an apply runs, someone else
// joins the group it creates and plants a secret on the client it creates.
type racedAPI struct {
	tenantAPI
	members map[string][]wire.Subject
	secrets []wire.Secret
	writes  []string
}

func (f *racedAPI) CreateGroup(_ context.Context, name, _ string, _ *wire.Provenance) (wire.Group, error) {
	f.members = map[string][]wire.Subject{"g1": {{SubjectID: "client-evil", Type: "Client"}}}
	return wire.Group{ID: "g1", SubjectID: "group-g1", DisplayName: name}, nil
}
func (f *racedAPI) CreateClient(context.Context, wire.ClientCreate) (apiclient.ClientRecord, error) {
	return apiclient.ClientRecord{Client: wire.Client{ClientID: "c1", SubjectID: "client-c1"}}, nil
}
func (f *racedAPI) CreateSecret(_ context.Context, clientID, _, _ string, _ *time.Time) (wire.CreatedSecret, error) {
	f.secrets = append(f.secrets, wire.Secret{ID: "generated"}, wire.Secret{ID: "planted"})
	return wire.CreatedSecret{Secret: wire.Secret{ID: "generated"}}, nil
}
func (f *racedAPI) ListSecrets(context.Context, string) ([]wire.Secret, error) { return f.secrets, nil }
func (f *racedAPI) ListKeys(context.Context, string) ([]wire.Key, error)       { return nil, nil }
func (f *racedAPI) ListFederatedCredentials(context.Context, string) ([]wire.FederatedCredential, error) {
	return nil, nil
}
func (f *racedAPI) Members(_ context.Context, g string) ([]wire.Subject, error) {
	return f.members[g], nil
}
func (f *racedAPI) Grant(_ context.Context, p wire.Policy) (wire.Policy, error) { return p, nil }
func (f *racedAPI) AddMembers(_ context.Context, g string, ids ...string) error {
	for _, id := range ids {
		f.members[g] = append(f.members[g], wire.Subject{SubjectID: id, Type: "Client"})
	}
	return nil
}
func (f *racedAPI) RemoveMembers(_ context.Context, g string, ids ...string) error {
	f.writes = append(f.writes, "leave "+g+" "+strings.Join(ids, ","))
	return nil
}
func (f *racedAPI) DeleteSecret(_ context.Context, c, s string) error {
	f.writes = append(f.writes, "delete secret "+c+" "+s)
	return nil
}
func (f *racedAPI) RevokeTokens(_ context.Context, c string) error {
	f.writes = append(f.writes, "revoke tokens "+c)
	return nil
}

// TestApplySweepsWhatOthersAddedWhileItRan: a member that joined the group
// the apply created before its grants, and a secret planted on the client
// it created, are gone when the apply ends, with that client's tokens.
func TestApplySweepsWhatOthersAddedWhileItRan(t *testing.T) {
	api := &racedAPI{}
	doc := mustParse(t, `version: 1
groups: [{name: payers, description: d, policies: [{action: banking.ais.read, scope: /companies/42}]}]
clients: [{name: exporter, description: d, scopes: [api], groups: [payers]}]
`)
	plan, err := MakePlan(context.Background(), api, doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(context.Background(), api, func(NewSecret) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"leave g1 client-evil", "delete secret c1 planted", "revoke tokens c1"}
	if !slices.Equal(api.writes, want) {
		t.Fatalf("writes %q, want %q", api.writes, want)
	}
	if len(plan.Swept) != 3 {
		t.Fatalf("swept %q", plan.Swept)
	}
}

// builtin is the deployment's declared catalog, as a tenant without APIs
// of its own sees it.
var builtin = func() *apis.Registry {
	r, err := apis.NewRegistry(apis.Builtin(), nil)
	if err != nil {
		panic(err)
	}
	return r
}()
