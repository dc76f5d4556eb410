package wire

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// members lists a struct's JSON members with their options, embedded
// structs' included, as encoding/json writes them.
func members(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			out = append(out, members(f.Type)...)
			continue
		}
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// TestRequestsMatchWhatIsSent: the server reads a client body with
// pointers (ClientRequest) and clients send ClientSpec; both must name the
// same members, optional alike.
func TestRequestsMatchWhatIsSent(t *testing.T) {
	if got, want := members(reflect.TypeFor[ClientRequest]()), members(reflect.TypeFor[ClientSpec]()); !slices.Equal(got, want) {
		t.Errorf("ClientRequest has %v, ClientSpec %v", got, want)
	}
	policy := members(reflect.TypeFor[Policy]())
	for _, m := range members(reflect.TypeFor[PolicyRequest]()) {
		if !slices.Contains(policy, m) {
			t.Errorf("PolicyRequest's %s is not a member of Policy", m)
		}
	}
}

// TestShapes pins the JSON the API answers: member names, order, and which
// members are left out when empty (docs/openapi.yaml describes them).
func TestShapes(t *testing.T) {
	exp := "2030-01-01T00:00:00Z"
	for _, c := range []struct {
		v    any
		want string
	}{
		{Client{ClientID: "c", SubjectID: "client-c", ClientSpec: ClientSpec{Name: "n", Description: "d", AllowedGrantTypes: []string{},
			AllowedScopes: []string{}, RedirectURIs: []string{}}, CreatedAt: "t", UpdatedAt: "u"},
			`{"clientId":"c","subjectId":"client-c","name":"n","description":"d","allowedGrantTypes":[],"allowedScopes":[],"redirectUris":[],"createdAt":"t","updatedAt":"u"}`},
		{ClientSpec{Name: "n", AllowedAudiences: []string{"a"}, AccessTokenLifetime: 60, TokenClaims: map[string]string{"k": "v"},
			Provenance: &Provenance{Via: "apply", Document: "d", Name: "n"}},
			`{"name":"n","description":"","allowedGrantTypes":null,"allowedScopes":null,"redirectUris":null,"allowedAudiences":["a"],"accessTokenLifetime":60,"tokenClaims":{"k":"v"},"provenance":{"via":"apply","document":"d","name":"n"}}`},
		{ClientList{Items: []Client{}, Metadata: PageMetadata{1, 50, 0}},
			`{"items":[],"metadata":{"page":1,"pageSize":50,"totalCount":0},"links":{"first":null,"previous":null,"next":null,"last":null}}`},
		{CreatedSecret{Secret{ID: "s", Description: "d", Expiration: &exp, CreatedAt: "t"}, "v"},
			`{"id":"s","description":"d","expiration":"2030-01-01T00:00:00Z","createdAt":"t","expired":false,"lastUsedAt":null,"value":"v"}`},
		{List[Secret]{Items: []Secret{{ID: "s"}}}, `{"items":[{"id":"s","description":"","expiration":null,"createdAt":"","expired":false,"lastUsedAt":null}]}`},
		{Key{ID: "k", Kid: "kid"}, `{"id":"k","kid":"kid","description":"","expiration":null,"createdAt":"","expired":false,"lastUsedAt":null}`},
		{PolicyList{Items: []Policy{{Subject: "s", Action: "a", Scope: "/", Tenant: "t", CreatedAt: "c"}}},
			`{"items":[{"subject":"s","action":"a","scope":"/","tenant":"t","createdAt":"c"}]}`},
		{Decision{GrantedBy: []Policy{}}, `{"allowed":false,"grantedBy":[]}`},
		{Permission{Action: "a", Scope: "/", GrantedBy: []Policy{}}, `{"action":"a","scope":"/","grantedBy":[]}`},
		{Action{Action: "owner"}, `{"action":"owner","parent":null,"description":""}`},
		{Group{ID: "g", SubjectID: "group-g", Type: "Group"},
			`{"id":"g","subjectId":"group-g","displayName":"","description":"","tenant":"","type":"Group","createdAt":""}`},
		{Page[Subject]{Page: 1, PageSize: 10, Count: 1, Total: 1, TotalPages: 1, Data: []Subject{{ID: "x", Type: "User"}}},
			`{"page":1,"pageSize":10,"count":1,"total":1,"totalPages":1,"data":[{"id":"x","displayName":"","tenant":"","subjectId":"","type":"User"}]}`},
		{Policy{Subject: "s", Action: "a", Scope: "/"}.Request(), `{"subject":"s","action":"a","scope":"/"}`},
		{SecretRequest{Value: new("v"), Description: new("d")}, `{"value":"v","description":"d"}`},
		{GroupRequest{DisplayName: new("g"), Description: new("")}, `{"displayName":"g","description":""}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%T:\n got %s (%v)\nwant %s", c.v, b, err, c.want)
		}
	}
}

func TestProvenanceRoundTrips(t *testing.T) {
	if (*Provenance)(nil).Record() != ProvenanceOf((*Provenance)(nil).Record()).Record() {
		t.Fatal("nil provenance")
	}
	p := &Provenance{CreatedBy: "client-x", Via: "stack", StackID: "arn", LogicalID: "L"}
	if got := ProvenanceOf(p.Record()); *got != *p {
		t.Fatalf("round trip: %+v", got)
	}
	if !strings.Contains(p.Record().String(), "client-x") {
		t.Fatalf("record %v", p.Record())
	}
}
