package integration

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// TestAuthorizationMatrix walks every management route: 401 without a token,
// 403 with a token lacking the policy, success with the narrowest policy
// that allows it, and 403 on the very next request once that policy is gone.
func TestAuthorizationMatrix(t *testing.T) {
	admin := adminToken(t)
	type request struct {
		path string
		body any
	}
	type routeCase struct {
		name, method  string
		action, scope string
		// prepare makes the request's resources afresh for each attempt.
		prepare func(t *testing.T) request
		want    int
		// extra is a second policy the route needs (policy changes need the
		// granted action too).
		extra [2]string
	}
	target := func(t *testing.T) string { id, _ := newClient(t, admin, "matrix-target"); return id }
	fixed := func(path string, body any) func(*testing.T) request {
		return func(*testing.T) request { return request{path, body} }
	}
	var tg string
	clientScoped := func(suffix string, body any) func(*testing.T) request {
		return func(t *testing.T) request { return request{"/v1/clients/" + tg + suffix, body} }
	}
	var grp string
	groupScoped := func(suffix string, body any) func(*testing.T) request {
		return func(t *testing.T) request { return request{"/v1/subjects/groups/" + grp + suffix, body} }
	}
	tg = target(t)
	grp = newGroup(t, admin, "matrix-group")
	secretValue := map[string]any{"value": "matrix-secret-1", "description": "m"}
	member, _ := newClient(t, admin, "matrix-member")
	members := map[string]any{"subjectIds": []string{"client-" + member}}

	cases := []routeCase{
		{"list clients", http.MethodGet, "iam.client.read", "/clients", fixed("/v1/clients", nil), 200, [2]string{}},
		{"create client", http.MethodPost, "iam.client.create", "/clients", fixed("/v1/clients", clientBody("matrix-new")), 201, [2]string{}},
		{"read client", http.MethodGet, "iam.client.read", "/clients/{t}", clientScoped("", nil), 200, [2]string{}},
		{"update client", http.MethodPut, "iam.client.update", "/clients/{t}", clientScoped("", clientBody("matrix-renamed")), 200, [2]string{}},
		{"list secrets", http.MethodGet, "iam.secret.read", "/clients/{t}", clientScoped("/secrets", nil), 200, [2]string{}},
		{"create secret", http.MethodPost, "iam.secret.create", "/clients/{t}", clientScoped("/secrets", secretValue), 201, [2]string{}},
		{"delete secret", http.MethodDelete, "iam.secret.delete", "/clients/{t}", func(t *testing.T) request {
			r := send(t, http.MethodPost, "/v1/clients/"+tg+"/secrets", admin, secretValue)
			return request{"/v1/clients/" + tg + "/secrets/" + r.json(t)["id"].(string), nil}
		}, 204, [2]string{}},
		{"delete client", http.MethodDelete, "iam.client.delete", "/clients/{t}", clientScoped("", nil), 204, [2]string{}},
		{"list policies", http.MethodGet, "iam.policy.read", "/", fixed("/v1/policies", nil), 200, [2]string{}},
		{"list actions", http.MethodGet, "iam.policy.read", "/", fixed("/v1/actions", nil), 200, [2]string{}},
		{"check", http.MethodPost, "iam.policy.read", "/", fixed("/v1/permissions/check",
			map[string]string{"subject": "client-" + member, "action": "iam.client.read", "scope": "/clients"}), 200, [2]string{}},
		{"subject permissions", http.MethodGet, "iam.policy.read", "/", fixed("/v1/subjects/client-"+member+"/permissions", nil), 200, [2]string{}},
		{"client subjects", http.MethodGet, "iam.policy.read", "/", fixed("/v1/subjects/clients", nil), 200, [2]string{}},
		{"memberships", http.MethodGet, "iam.group.read", "/groups", fixed("/v1/subjects/client-"+member+"/memberships", nil), 200, [2]string{}},
		{"list groups", http.MethodGet, "iam.group.read", "/groups", fixed("/v1/subjects/groups", nil), 200, [2]string{}},
		{"create group", http.MethodPost, "iam.group.write", "/groups", fixed("/v1/subjects/groups", map[string]string{"displayName": "g", "description": ""}), 201, [2]string{}},
		{"read group", http.MethodGet, "iam.group.read", "/groups/{g}", groupScoped("", nil), 200, [2]string{}},
		{"list members", http.MethodGet, "iam.group.read", "/groups/{g}", groupScoped("/members", nil), 200, [2]string{}},
		{"add members", http.MethodPost, "iam.group.write", "/groups/{g}", groupScoped("/members", members), 204, [2]string{}},
		{"remove members", http.MethodDelete, "iam.group.write", "/groups/{g}", groupScoped("/members", members), 204, [2]string{}},
		{"delete group", http.MethodDelete, "iam.group.write", "/groups/{g}", groupScoped("", nil), 204, [2]string{}},
		{"create policy", http.MethodPost, "iam.policy.create", "/subscriptions/1", fixed("/v1/policies",
			map[string]string{"subject": "client-" + member, "action": "banking.ais.read", "scope": "/subscriptions/1/resource-groups/a"}), 200,
			[2]string{"banking.ais.read", "/subscriptions/1"}},
		{"delete policy", http.MethodDelete, "iam.policy.delete", "/subscriptions/2", func(t *testing.T) request {
			body := map[string]string{"subject": "client-" + member, "action": "banking.pis.read", "scope": "/subscriptions/2"}
			grant(t, admin, body["subject"], body["action"], body["scope"])
			return request{"/v1/policies", body}
		}, 204, [2]string{"banking.pis.manage", "/subscriptions/2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg = target(t)
			grp = newGroup(t, admin, "matrix-group")
			sc := strings.NewReplacer("{t}", tg, "{g}", grp).Replace(c.scope)
			who := newCaller(t, admin, "matrix-caller")
			if c.extra[0] != "" {
				grant(t, admin, who.subject, c.extra[0], c.extra[1])
			}
			tok := who.token(t)

			req := c.prepare(t)
			assertProblem(t, send(t, c.method, req.path, "", req.body), http.StatusUnauthorized)
			assertProblem(t, send(t, c.method, req.path, tok, req.body), http.StatusForbidden)

			grant(t, admin, who.subject, c.action, sc)
			if r := send(t, c.method, req.path, tok, req.body); r.Status != c.want {
				t.Fatalf("with %s on %s: %s, want %d", c.action, sc, r, c.want)
			}
			revoke(t, admin, who.subject, c.action, sc)
			req = c.prepare(t)
			assertProblem(t, send(t, c.method, req.path, tok, req.body), http.StatusForbidden)
		})
	}
}

// TestNearMissPoliciesDeny: a sibling scope, a scope that merely shares a
// string prefix, a sibling action and a descendant action all deny.
func TestNearMissPoliciesDeny(t *testing.T) {
	admin := adminToken(t)
	target, _ := newClient(t, admin, "near-miss-target")
	who := newCaller(t, admin, "near-miss")
	tok := who.token(t)
	path := "/v1/clients/" + target
	for _, p := range [][2]string{
		{"iam.client.read", "/clients/" + target[:len(target)-1]}, // string prefix of the id
		{"iam.client.read", "/clients/" + target + "/secrets"},    // descendant scope
		{"iam.client.read", "/groups"},                            // unrelated scope
		{"iam.client.update", "/clients/" + target},               // sibling action
		{"iam.secret.manage", "/clients/" + target},               // other branch
	} {
		grant(t, admin, who.subject, p[0], p[1])
		assertProblem(t, send(t, http.MethodGet, path, tok, nil), http.StatusForbidden)
		revoke(t, admin, who.subject, p[0], p[1])
	}
	for _, p := range [][2]string{
		{"iam.client.manage", "/clients"}, // ancestor action on an ancestor scope
		{"iam.manage", "/"},
		{"owner", "/clients/" + target},
	} {
		grant(t, admin, who.subject, p[0], p[1])
		if r := send(t, http.MethodGet, path, tok, nil); r.Status != 200 {
			t.Errorf("%v should allow: %s", p, r)
		}
		revoke(t, admin, who.subject, p[0], p[1])
	}
}

// TestSelfRotation: a CI pipeline holding iam.secret.manage on its own
// /clients/{id} rotates its secrets and cannot touch another client's.
func TestSelfRotation(t *testing.T) {
	admin := adminToken(t)
	ci := newCaller(t, admin, "ci-pipeline")
	other, _ := newClient(t, admin, "someone-else")
	grant(t, admin, ci.subject, "iam.secret.manage", "/clients/"+ci.id)
	tok := ci.token(t)

	created := send(t, http.MethodPost, "/v1/clients/"+ci.id+"/secrets", tok, map[string]any{"value": "rotated-secret-2", "description": "rotation"})
	if created.Status != 201 {
		t.Fatal(created)
	}
	newTok := tokenFor(t, tenant.Default, ci.id, "rotated-secret-2", "")
	list := send(t, http.MethodGet, "/v1/clients/"+ci.id+"/secrets", newTok, nil).json(t)["items"].([]any)
	for _, it := range list {
		if m := it.(map[string]any); m["description"] == "first" {
			if r := send(t, http.MethodDelete, "/v1/clients/"+ci.id+"/secrets/"+m["id"].(string), newTok, nil); r.Status != 204 {
				t.Fatal(r)
			}
		}
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ci.id}, "client_secret": {ci.secret}}
	if r := send(t, http.MethodPost, "/connect/token", "", form); r.Status != 401 {
		t.Fatalf("the rotated-out secret still works: %s", r)
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		assertProblem(t, send(t, m, "/v1/clients/"+other+"/secrets", newTok, map[string]any{"value": "intruder-value", "description": "x"}), http.StatusForbidden)
	}
	assertProblem(t, send(t, http.MethodGet, "/v1/clients/"+ci.id, newTok, nil), http.StatusForbidden)
}

// TestEscalationRefused: a caller that may create policies cannot grant, or
// remove, an action it does not itself hold on the scope.
func TestEscalationRefused(t *testing.T) {
	admin := adminToken(t)
	mallory := newCaller(t, admin, "mallory")
	grant(t, admin, mallory.subject, "iam.policy.manage", "/")
	grant(t, admin, mallory.subject, "banking.ais.read", "/subscriptions/1")
	tok := mallory.token(t)
	for _, body := range []map[string]string{
		{"subject": mallory.subject, "action": "owner", "scope": "/"},
		{"subject": mallory.subject, "action": "iam.client.manage", "scope": "/clients"},
		{"subject": mallory.subject, "action": "banking.ais.read", "scope": "/subscriptions"},
		{"subject": mallory.subject, "action": "banking.ais.manage", "scope": "/subscriptions/1"},
	} {
		r := send(t, http.MethodPost, "/v1/policies", tok, body)
		assertProblem(t, r, http.StatusForbidden)
		if !strings.Contains(r.json(t)["detail"].(string), "does not hold") {
			t.Errorf("detail should explain the escalation rule: %s", r.Body)
		}
	}
	// Within what it holds, delegation works.
	friend := newCaller(t, admin, "friend")
	if r := send(t, http.MethodPost, "/v1/policies", tok, map[string]string{"subject": friend.subject, "action": "banking.ais.read", "scope": "/subscriptions/1/resource-groups/x"}); r.Status != 200 {
		t.Fatalf("delegating a held action on a narrower scope: %s", r)
	}
	// And it cannot remove the admin's owner policy.
	assertProblem(t, send(t, http.MethodDelete, "/v1/policies", tok, map[string]string{"subject": "client-" + env.admin.ClientID, "action": "owner", "scope": "/"}), http.StatusForbidden)
}

// TestGroupInheritance: members hold the group's policies; removing the
// member, or deleting the group, revokes them on the next request.
func TestGroupInheritance(t *testing.T) {
	admin := adminToken(t)
	auditor := newCaller(t, admin, "auditor")
	tok := auditor.token(t)
	gid := newGroup(t, admin, "Auditors")
	grant(t, admin, "group-"+gid, "iam.client.read", "/clients")
	assertProblem(t, send(t, http.MethodGet, "/v1/clients", tok, nil), http.StatusForbidden)

	add := map[string]any{"subjectIds": []string{auditor.subject}}
	if r := send(t, http.MethodPost, "/v1/subjects/groups/group-"+gid+"/members", admin, add); r.Status != 204 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodGet, "/v1/clients", tok, nil); r.Status != 200 {
		t.Fatalf("a member holds the group's policy: %s", r)
	}
	if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+gid+"/members", admin, add); r.Status != 204 {
		t.Fatal(r)
	}
	assertProblem(t, send(t, http.MethodGet, "/v1/clients", tok, nil), http.StatusForbidden)

	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, add); r.Status != 204 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodGet, "/v1/clients", tok, nil); r.Status != 200 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+gid, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	assertProblem(t, send(t, http.MethodGet, "/v1/clients", tok, nil), http.StatusForbidden)
	if got := send(t, http.MethodGet, "/v1/subjects/"+auditor.subject+"/memberships", admin, nil).json(t)["total"]; got != 0.0 {
		t.Errorf("memberships after the group's deletion: %v", got)
	}
	if got := send(t, http.MethodGet, "/v1/policies?subject=group-"+gid, admin, nil).json(t)["items"].([]any); len(got) != 0 {
		t.Errorf("the deleted group's policies remain: %v", got)
	}
}

// TestDecisionCost counts the DynamoDB requests of one authorization: one
// Query of the caller's grants and own items, one BatchGetItem of its
// groups' grants items, whatever their number; the action catalog itself
// costs one more Query (the tenant's registered APIs).
func TestDecisionCost(t *testing.T) {
	admin := adminToken(t)
	who := newCaller(t, admin, "cost-member")
	tok := who.token(t)
	for i := range 3 {
		gid := newGroup(t, admin, fmt.Sprintf("cost-%d", i))
		if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{who.subject}}); r.Status != 204 {
			t.Fatal(r)
		}
		if i == 2 {
			grant(t, admin, "group-"+gid, "iam.policy.read", "/")
		}
	}
	env.calls.reset()
	if r := send(t, http.MethodGet, "/v1/actions", tok, nil); r.Status != 200 {
		t.Fatal(r)
	}
	if got := env.calls.snapshot(); !maps.Equal(got, map[string]int{"DynamoDB:Query": 2, "DynamoDB:BatchGetItem": 1, "DynamoDB:GetItem": 1}) {
		t.Errorf("calls = %v, want 1 Query (the caller), 1 BatchGetItem (its 3 groups), the token's revocation and the tenant's APIs, nothing else", got)
	}
}

// TestCascades: deleting a client removes its policies and memberships.
func TestCascades(t *testing.T) {
	admin := adminToken(t)
	doomed := newCaller(t, admin, "doomed")
	gid := newGroup(t, admin, "cascade")
	grant(t, admin, doomed.subject, "iam.client.read", "/clients")
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{doomed.subject, "user-00000000-0000-4000-8000-000000000001"}}); r.Status != 204 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodDelete, "/v1/clients/"+doomed.id, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	if n := partitionSize(t, "T#default#S#"+doomed.subject); n != 0 {
		t.Errorf("%d items left in the deleted client's partition", n)
	}
	members := send(t, http.MethodGet, "/v1/subjects/groups/"+gid+"/members", admin, nil).json(t)
	if members["total"] != 1.0 || members["data"].([]any)[0].(map[string]any)["type"] != "User" {
		t.Errorf("members after the client's deletion: %v", members)
	}
	if got := send(t, http.MethodGet, "/v1/policies?subject="+doomed.subject, admin, nil).json(t)["items"].([]any); len(got) != 0 {
		t.Errorf("policies of a deleted client: %v", got)
	}
	if r := send(t, http.MethodPost, "/v1/policies", admin, map[string]string{"subject": doomed.subject, "action": "owner", "scope": "/"}); r.Status != 400 {
		t.Errorf("a policy for a deleted client: %s", r)
	}
}
