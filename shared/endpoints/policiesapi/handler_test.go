package policiesapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/local/dynamotest"
	"github.com/machine-iam/machine-iam/shared/endpoints/policiesapi"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func triple(subject, action, scope string) map[string]string {
	return map[string]string{"subject": subject, "action": action, "scope": scope}
}

// policiesOf returns subjectID's own policies as "<action> on <scope>".
func policiesOf(t *testing.T, e *apitest.Env, subjectID string) []string {
	t.Helper()
	ps, err := e.Store.SubjectPolicies(context.Background(), e.Tenant, subjectID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Action+" on "+p.Scope)
	}
	return out
}

// TestPolicyChangeNeedsTheActionHeld: creating or deleting a policy needs
// the route's action (iam.policy.create, iam.policy.delete) on the
// policy's scope and the action the policy names, held there by the
// caller itself; each refusal is a 403 saying which, and changes nothing.
func TestPolicyChangeNeedsTheActionHeld(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	caller := e.Caller("iam.policy.manage on /clients", "iam.client.read on /clients")
	tok := e.Token(caller)
	target := e.Client()
	subj := target.SubjectID()

	for _, c := range []struct {
		name   string
		method string
		body   map[string]string
		detail string
	}{
		{"create outside the route's scope", http.MethodPost, triple(subj, "iam.client.read", "/"), "The caller is not allowed iam.policy.create on /."},
		{"create an action not held", http.MethodPost, triple(subj, "iam.client.update", "/clients/a"),
			"The caller cannot grant or remove iam.client.update on /clients/a: it does not hold it there."},
		{"create a wider action", http.MethodPost, triple(subj, "iam.client.manage", "/clients"),
			"The caller cannot grant or remove iam.client.manage on /clients: it does not hold it there."},
	} {
		t.Run(c.name, func(t *testing.T) {
			apitest.Do(t, h, c.method, "/v1/policies", tok, c.body).Forbidden(c.detail)
		})
	}
	if ps := policiesOf(t, e, subj); len(ps) != 0 {
		t.Fatalf("refused creates stored %v", ps)
	}

	var made struct {
		Subject, Action, Scope, Tenant, CreatedAt string
	}
	apitest.Do(t, h, http.MethodPost, "/v1/policies", tok, triple(subj, "iam.client.read", "/clients/a/")).JSON(http.StatusOK, &made)
	if made.Subject != subj || made.Action != "iam.client.read" || made.Scope != "/clients/a" || made.Tenant != e.Tenant || made.CreatedAt == "" {
		t.Errorf("created %+v (the scope normalized)", made)
	}
	again := made
	apitest.Do(t, h, http.MethodPost, "/v1/policies", tok, triple(subj, "iam.client.read", "/clients/a")).JSON(http.StatusOK, &again)
	if again != made {
		t.Errorf("creating it again: %+v, want the stored %+v", again, made)
	}

	// Deleting: the same two checks.
	e.Grant(subj, "iam.client.update on /clients")
	e.Grant(subj, "iam.client.read on /")
	apitest.Do(t, h, http.MethodDelete, "/v1/policies", tok, triple(subj, "iam.client.update", "/clients")).
		Forbidden("The caller cannot grant or remove iam.client.update on /clients: it does not hold it there.")
	apitest.Do(t, h, http.MethodDelete, "/v1/policies", tok, triple(subj, "iam.client.read", "/")).
		Forbidden("The caller is not allowed iam.policy.delete on /.")
	if ps := policiesOf(t, e, subj); len(ps) != 3 {
		t.Fatalf("refused deletes changed the policies: %v", ps)
	}
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/policies", tok, triple(subj, "iam.client.read", "/clients/a")); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	p := apitest.Do(t, h, http.MethodDelete, "/v1/policies", tok, triple(subj, "iam.client.read", "/clients/a")).Problem(http.StatusNotFound, httpapi.TypeBlank)
	if p.Detail != "No such policy." {
		t.Errorf("detail %q", p.Detail)
	}
}

// TestPolicyValidation: a body that is no valid triple is a 400 naming the
// field; a policy for a subject that does not exist is a 400 naming
// subject.
func TestPolicyValidation(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	tok := e.Token(e.Owner())
	subj := e.Client().SubjectID()
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"missing", map[string]string{}, "subject"},
		{"malformed subject", triple("client-x", "owner", "/"), "subject"},
		{"unknown action", triple(subj, "iam.client.fly", "/"), "action"},
		{"relative scope", triple(subj, "owner", "clients"), "scope"},
		{"no such subject", triple("client-00000000-0000-4000-8000-000000000000", "iam.client.read", "/"), "subject"},
	} {
		t.Run(c.name, func(t *testing.T) {
			apitest.Do(t, h, http.MethodPost, "/v1/policies", tok, c.body).Invalid(c.field)
		})
	}
}

// TestInertPolicy: a policy whose action is not in the catalog grants
// nothing; only an owner of its scope may delete it, and no one may
// create one.
func TestInertPolicy(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	subj := e.Client().SubjectID()
	if _, _, err := e.Store.PutPolicy(context.Background(), e.Tenant, policy.Policy{Subject: subj, Action: "legacy.thing", Scope: "/x", CreatedAt: e.Now()}); err != nil {
		t.Fatal(err)
	}
	owner := e.Token(e.Owner())
	apitest.Do(t, h, http.MethodPost, "/v1/policies", owner, triple(subj, "legacy.thing", "/x")).Invalid("action")
	manager := e.Token(e.Caller("iam.manage on /"))
	apitest.Do(t, h, http.MethodDelete, "/v1/policies", manager, triple(subj, "legacy.thing", "/x")).
		Forbidden("Only a holder of owner on /x can delete a policy whose action legacy.thing is not in the catalog.")
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/policies", owner, triple(subj, "legacy.thing", "/x")); r.Code != http.StatusNoContent {
		t.Fatalf("owner deletes the inert policy: %d %s", r.Code, r.Body)
	}
}

// TestLastOwnerPolicy: deleting the owner policy on / of the tenant's last
// client that holds one of its own is a 409 last-owner problem, and the
// policy stays; with another such owner it goes.
func TestLastOwnerPolicy(t *testing.T) {
	e := apitest.New(t)
	h := policiesapi.New(e.Deps)
	only := e.Owner()
	tok := e.Token(only)
	// An owner through a group does not count.
	e.Group([]string{"owner on /"}, e.Caller().SubjectID())
	apitest.Do(t, h, http.MethodDelete, "/v1/policies", tok, triple(only.SubjectID(), "owner", "/")).Problem(http.StatusConflict, httpapi.TypeLastOwner)
	if ps := policiesOf(t, e, only.SubjectID()); len(ps) != 1 {
		t.Fatalf("the last owner's policy: %v", ps)
	}
	second := e.Owner()
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/policies", tok, triple(only.SubjectID(), "owner", "/")); r.Code != http.StatusNoContent {
		t.Fatalf("one of two owners gives up owner: %d %s", r.Code, r.Body)
	}
	apitest.Do(t, h, http.MethodDelete, "/v1/policies", e.Token(second), triple(second.SubjectID(), "owner", "/")).Problem(http.StatusConflict, httpapi.TypeLastOwner)
}
