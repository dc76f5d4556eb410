package provision

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/apiclient"
)

// recordingAPI is a tenant of one group and one client, recording every
// write in order. Methods a test does not reach stay unimplemented.
type recordingAPI struct {
	API
	writes []string
}

func (f *recordingAPI) Tenant() string { return "t" }

func (f *recordingAPI) ListClients(context.Context, string) ([]apiclient.ClientRecord, error) {
	return []apiclient.ClientRecord{{ClientSpec: f.spec(), ClientID: "c1", SubjectID: "client-c1", ETag: `"1"`}}, nil
}

func (f *recordingAPI) spec() apiclient.ClientSpec {
	return apiclient.ClientSpec{Name: "job", Description: "d", AllowedGrantTypes: []string{"client_credentials"}}
}

func (f *recordingAPI) ListGroups(context.Context) ([]apiclient.Group, error) {
	return []apiclient.Group{{ID: "g1", SubjectID: "group-g1", DisplayName: "jobs", Description: "d"}}, nil
}

func (f *recordingAPI) ListPolicies(_ context.Context, p apiclient.PolicyFilter) ([]apiclient.Policy, error) {
	if p.Subject == "group-g1" {
		return []apiclient.Policy{{Subject: "group-g1", Action: "owner", Scope: "/companies/42"}}, nil
	}
	return nil, nil
}

func (f *recordingAPI) Members(context.Context, string) ([]apiclient.Subject, error) { return nil, nil }
func (f *recordingAPI) Memberships(context.Context, string) ([]apiclient.Group, error) {
	return nil, nil
}
func (f *recordingAPI) ListKeys(context.Context, string) ([]apiclient.Key, error) { return nil, nil }
func (f *recordingAPI) GetClient(context.Context, string) (apiclient.ClientRecord, error) {
	panic("no read needed")
}

func (f *recordingAPI) Grant(_ context.Context, p apiclient.Policy) (apiclient.Policy, error) {
	f.writes = append(f.writes, "grant "+p.Subject+" "+p.Action)
	return p, nil
}

func (f *recordingAPI) Revoke(_ context.Context, p apiclient.Policy) error {
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
