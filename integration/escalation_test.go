package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// TestNoEscalation walks the table of docs/authorization.md "No escalation, by any path":
// for each operation, a caller allowed to call the route but not holding
// what the operation confers or removes gets a 403 naming what it lacks,
// and nothing changes; once it holds that, the same request succeeds; the
// tenant's owner is never blocked.
func TestNoEscalation(t *testing.T) {
	admin, res := newTenantAdmin(t, "escalation")
	ten := res.Tenant
	mkGroup := func(t *testing.T, policies ...[2]string) string {
		gid := newGroup(t, admin, "confers")
		for _, p := range policies {
			grant(t, admin, "group-"+gid, p[0], p[1])
		}
		return gid
	}

	t.Run("add to group", func(t *testing.T) {
		gid := mkGroup(t, [2]string{"owner", "/"})
		c := newTenantCaller(t, ten, admin, "adder", "services.iam")
		grant(t, admin, c.subject, "iam.group.write", "/groups")
		body := map[string]any{"subjectIds": []string{c.subject}}
		assertLacks(t, send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", c.token(t), body), "owner on /")
		if m := members(t, admin, gid); len(m) != 0 {
			t.Fatalf("refused add changed the group: %v", m)
		}
		// The classic path: the next request must not list every client.
		assertProblem(t, send(t, http.MethodGet, "/v1/clients", c.token(t), nil), http.StatusForbidden)

		weaker := mkGroup(t, [2]string{"iam.client.read", "/clients"}, [2]string{"banking.ais.read", "/subscriptions/1"})
		assertLacks(t, send(t, http.MethodPost, "/v1/subjects/groups/"+weaker+"/members", c.token(t), body),
			"iam.client.read on /clients", "banking.ais.read on /subscriptions/1")
		grant(t, admin, c.subject, "iam.client.manage", "/clients")
		grant(t, admin, c.subject, "banking.ais.read", "/subscriptions")
		if r := send(t, http.MethodPost, "/v1/subjects/groups/"+weaker+"/members", c.token(t), body); r.Status != http.StatusNoContent {
			t.Fatalf("caller holding all the group grants: %s", r)
		}
		if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, body); r.Status != http.StatusNoContent {
			t.Fatalf("owner adds: %s", r)
		}
	})

	t.Run("remove member and delete group", func(t *testing.T) {
		gid := mkGroup(t, [2]string{"banking.pis.authorize", "/"})
		victim := newTenantCaller(t, ten, admin, "member")
		if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{victim.subject}}); r.Status != http.StatusNoContent {
			t.Fatal(r)
		}
		c := newTenantCaller(t, ten, admin, "remover", "services.iam")
		grant(t, admin, c.subject, "iam.group.write", "/groups")
		body := map[string]any{"subjectIds": []string{victim.subject}}
		assertLacks(t, send(t, http.MethodDelete, "/v1/subjects/groups/"+gid+"/members", c.token(t), body), "banking.pis.authorize on /")
		assertLacks(t, send(t, http.MethodDelete, "/v1/subjects/groups/"+gid, c.token(t), nil), "banking.pis.authorize on /")
		if m := members(t, admin, gid); len(m) != 1 {
			t.Fatalf("refused removal changed the group: %v", m)
		}
		grant(t, admin, c.subject, "banking.pis.manage", "/")
		if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+gid+"/members", c.token(t), body); r.Status != http.StatusNoContent {
			t.Fatalf("caller holding the group grants removes: %s", r)
		}
		if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+gid, c.token(t), nil); r.Status != http.StatusNoContent {
			t.Fatalf("caller holding the group grants deletes: %s", r)
		}
		owned := mkGroup(t, [2]string{"owner", "/"})
		if r := send(t, http.MethodDelete, "/v1/subjects/groups/"+owned, admin, nil); r.Status != http.StatusNoContent {
			t.Fatalf("owner deletes: %s", r)
		}
	})

	t.Run("credential for another client", func(t *testing.T) {
		// The target holds a policy of its own, one through a group, and
		// an OAuth scope: each must be held.
		target := newTenantCaller(t, ten, admin, "target", "services.iam", "reconcile")
		grant(t, admin, target.subject, "iam.client.read", "/clients")
		gid := mkGroup(t, [2]string{"banking.consents.read", "/x"})
		send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{target.subject}})
		c := newTenantCaller(t, ten, admin, "keymaker", "services.iam")
		grant(t, admin, c.subject, "iam.secret.create", "/clients")
		body := map[string]any{"value": "attacker-chosen-1", "description": "x"}
		assertLacks(t, send(t, http.MethodPost, "/v1/clients/"+target.id+"/secrets", c.token(t), body),
			"iam.client.read on /clients", "banking.consents.read on /x", "OAuth scope reconcile")
		if n := len(send(t, http.MethodGet, "/v1/clients/"+target.id+"/secrets", admin, nil).json(t)["items"].([]any)); n != 1 {
			t.Fatalf("refused create left %d secrets, want 1", n)
		}
		// Its own secrets are its own business.
		if r := send(t, http.MethodPost, "/v1/clients/"+c.id+"/secrets", c.token(t), body); r.Status != http.StatusCreated {
			t.Fatalf("own secret: %s", r)
		}
		// The admin's client: the classic create-access-key path.
		assertLacks(t, send(t, http.MethodPost, "/v1/clients/"+res.ClientID+"/secrets", c.token(t), body), "owner on /")
		grant(t, admin, c.subject, "iam.client.read", "/")
		grant(t, admin, c.subject, "banking.consents.manage", "/")
		assertLacks(t, send(t, http.MethodPost, "/v1/clients/"+target.id+"/secrets", c.token(t), body), "OAuth scope reconcile")
		putScopes(t, admin, c.id, "services.iam", "reconcile")
		if r := send(t, http.MethodPost, "/v1/clients/"+target.id+"/secrets", c.token(t), body); r.Status != http.StatusCreated {
			t.Fatalf("caller holding all the target holds: %s", r)
		}
	})

	t.Run("OAuth scopes", func(t *testing.T) {
		c := newTenantCaller(t, ten, admin, "widener", "services.iam")
		grant(t, admin, c.subject, "iam.client.manage", "/clients")
		other, _ := newClient(t, admin, "other", "services.iam")
		wider := clientBody("widened", "services.iam", "services.erphub")
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+c.id, c.token(t), wider), "OAuth scope services.erphub")
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+other, c.token(t), wider), "OAuth scope services.erphub")
		assertLacks(t, send(t, http.MethodPost, "/v1/clients", c.token(t), wider), "OAuth scope services.erphub")
		got := send(t, http.MethodGet, "/v1/clients/"+c.id, admin, nil).json(t)
		if scopes := got["allowedScopes"].([]any); len(scopes) != 1 {
			t.Fatalf("refused change left scopes %v", scopes)
		}
		// Renaming without touching scopes, and narrowing to what it holds,
		// are fine.
		if r := send(t, http.MethodPut, "/v1/clients/"+other, c.token(t), clientBody("renamed", "services.iam")); r.Status != http.StatusOK {
			t.Fatalf("rename: %s", r)
		}
		if r := send(t, http.MethodPost, "/v1/clients", c.token(t), clientBody("same", "services.iam")); r.Status != http.StatusCreated {
			t.Fatalf("create with held scopes: %s", r)
		}
		// Removing a scope it does not hold takes away what it lacks.
		rich, _ := newClient(t, admin, "rich", "services.iam", "bankservice")
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+rich, c.token(t), clientBody("rich", "services.iam")), "OAuth scope bankservice")
		if r := send(t, http.MethodPut, "/v1/clients/"+c.id, admin, wider); r.Status != http.StatusOK {
			t.Fatalf("owner widens: %s", r)
		}
	})

	t.Run("weaken a stronger client", func(t *testing.T) {
		// Taking away what an owner needs to use its rights (its secrets,
		// services.iam, client_credentials) takes away what it holds.
		strong := newTenantCaller(t, ten, admin, "strong-to-weaken", "services.iam", "api")
		grant(t, admin, strong.subject, "owner", "/")
		c := newTenantCaller(t, ten, admin, "weakener", "services.iam", "api")
		grant(t, admin, c.subject, "iam.client.update", "/clients")
		grant(t, admin, c.subject, "iam.secret.manage", "/clients")
		secrets := send(t, http.MethodGet, "/v1/clients/"+strong.id+"/secrets", c.token(t), nil).json(t)["items"].([]any)
		sid := secrets[0].(map[string]any)["id"].(string)
		assertLacks(t, send(t, http.MethodDelete, "/v1/clients/"+strong.id+"/secrets/"+sid, c.token(t), nil), "owner on /")
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+strong.id, c.token(t), clientBody("strong-to-weaken", "api")), "owner on /")
		noCC := clientBody("strong-to-weaken", "services.iam", "api")
		noCC["allowedGrantTypes"], noCC["redirectUris"] = []string{"authorization_code"}, []string{"https://app.example.com/cb"}
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+strong.id, c.token(t), noCC), "owner on /")
		strong.token(t) // still works
		// Its own secret, and a weaker client's scopes, are fine.
		weak, _ := newClient(t, admin, "weak-to-narrow", "services.iam", "api")
		if r := send(t, http.MethodPut, "/v1/clients/"+weak, c.token(t), clientBody("weak-to-narrow", "api")); r.Status != http.StatusOK {
			t.Fatalf("narrow a client holding less: %s", r)
		}
		own := send(t, http.MethodGet, "/v1/clients/"+c.id+"/secrets", c.token(t), nil).json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		tok := c.token(t)
		if r := send(t, http.MethodDelete, "/v1/clients/"+c.id+"/secrets/"+own, tok, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete its own secret: %s", r)
		}
	})

	t.Run("every rights-bearing field", func(t *testing.T) {
		// An update right alone changes no rights-bearing field of a
		// stronger client, adding or removing: audiences (which take its
		// tokens away from the management API), claims, lifetime,
		// redirect URIs; a neutral field (description) it may change.
		strong := newTenantCaller(t, ten, admin, "strong-fields", "services.iam", "api")
		grant(t, admin, strong.subject, "owner", "/")
		c := newTenantCaller(t, ten, admin, "field-updater", "services.iam", "api")
		grant(t, admin, c.subject, "iam.client.update", "/clients")
		for field, value := range map[string]any{
			"allowedAudiences":    []string{"https://api.example.test"},
			"tokenClaims":         map[string]string{"role": "admin"},
			"accessTokenLifetime": 600,
		} {
			body := clientBody("strong-fields", "services.iam", "api")
			body[field] = value
			assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+strong.id, c.token(t), body), "owner on /")
		}
		neutral := clientBody("strong-fields", "services.iam", "api")
		neutral["description"] = "renamed by someone with the update right alone"
		if r := send(t, http.MethodPut, "/v1/clients/"+strong.id, c.token(t), neutral); r.Status != http.StatusOK {
			t.Fatalf("a neutral change: %s", r)
		}
		strong.token(t)
		r := send(t, http.MethodGet, "/v1/clients", strong.token(t), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("the owner lost the management API: %s", r)
		}
	})

	t.Run("the management audience is held like any other", func(t *testing.T) {
		// A client restricted to another API may not be given the
		// management audience back by one holding less than it.
		restricted := newTenantCaller(t, ten, admin, "restricted", "services.iam", "api")
		grant(t, admin, restricted.subject, "iam.client.read", "/clients")
		body := clientBody("restricted", "services.iam", "api")
		body["allowedAudiences"] = []string{"https://api.example.test"}
		if r := send(t, http.MethodPut, "/v1/clients/"+restricted.id, admin, body); r.Status != http.StatusOK {
			t.Fatal(r)
		}
		c := newTenantCaller(t, ten, admin, "reopener", "services.iam", "api")
		grant(t, admin, c.subject, "iam.client.update", "/clients")
		body["allowedAudiences"] = []string{"https://api.example.test", tenant.Issuer(env.base, ten) + "/resources"}
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+restricted.id, c.token(t), body), "iam.client.read on /clients")
	})

	t.Run("on itself a client may only narrow", func(t *testing.T) {
		self := newTenantCaller(t, ten, admin, "self-narrower", "services.iam", "api")
		grant(t, admin, self.subject, "iam.client.update", "/clients/"+self.id)
		wider := clientBody("self-narrower", "services.iam", "api")
		wider["accessTokenLifetime"] = 86400
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+self.id, self.token(t), wider), "token lifetime 24h0m0s")
		claims := clientBody("self-narrower", "services.iam", "api")
		claims["tokenClaims"] = map[string]string{"role": "admin"}
		assertLacks(t, send(t, http.MethodPut, "/v1/clients/"+self.id, self.token(t), claims), "token claim role=admin")
		narrower := clientBody("self-narrower", "services.iam")
		narrower["accessTokenLifetime"] = 300
		if r := send(t, http.MethodPut, "/v1/clients/"+self.id, self.token(t), narrower); r.Status != http.StatusOK {
			t.Fatalf("narrowing itself: %s", r)
		}
	})

	t.Run("an owner keeps the management API", func(t *testing.T) {
		// A client that holds owner on / by its own policy cannot lose
		// what it needs to use the management API, not even by its own
		// hand or the tenant admin's: the tenant always has a usable owner.
		o := newTenantCaller(t, ten, admin, "owner-keeps", "services.iam", "api")
		grant(t, admin, o.subject, "owner", "/")
		restrict := clientBody("owner-keeps", "services.iam", "api")
		restrict["allowedAudiences"] = []string{"https://api.example.test"}
		for _, caller := range []string{o.token(t), admin} {
			r := send(t, http.MethodPut, "/v1/clients/"+o.id, caller, restrict)
			assertProblem(t, r, http.StatusConflict)
			if r.json(t)["type"] != "urn:machine-iam:problem:last-owner" {
				t.Errorf("%s", r)
			}
		}
		if r := send(t, http.MethodPut, "/v1/clients/"+o.id, o.token(t), clientBody("owner-keeps", "api")); r.Status != http.StatusConflict {
			t.Fatalf("an owner dropping services.iam: %s", r)
		}
		if r := send(t, http.MethodGet, "/v1/clients", o.token(t), nil); r.Status != http.StatusOK {
			t.Fatalf("the owner lost the management API: %s", r)
		}
	})

	t.Run("delete a stronger client", func(t *testing.T) {
		strong := newTenantCaller(t, ten, admin, "strong", "services.iam")
		grant(t, admin, strong.subject, "owner", "/")
		c := newTenantCaller(t, ten, admin, "deleter", "services.iam")
		grant(t, admin, c.subject, "iam.client.delete", "/clients")
		assertLacks(t, send(t, http.MethodDelete, "/v1/clients/"+strong.id, c.token(t), nil), "owner on /")
		if r := send(t, http.MethodGet, "/v1/clients/"+strong.id, admin, nil); r.Status != http.StatusOK {
			t.Fatalf("refused delete removed the client: %s", r)
		}
		weak, _ := newClient(t, admin, "weak", "services.iam")
		if r := send(t, http.MethodDelete, "/v1/clients/"+weak, c.token(t), nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete of a client holding less: %s", r)
		}
		// Deleting itself gives up only its own rights.
		if r := send(t, http.MethodDelete, "/v1/clients/"+c.id, c.token(t), nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete itself: %s", r)
		}
		if r := send(t, http.MethodDelete, "/v1/clients/"+strong.id, admin, nil); r.Status != http.StatusNoContent {
			t.Fatalf("owner deletes: %s", r)
		}
	})
}

// putScopes replaces a client's OAuth scopes as the tenant admin.
func putScopes(t *testing.T, admin, id string, scopes ...string) {
	t.Helper()
	cur := send(t, http.MethodGet, "/v1/clients/"+id, admin, nil).json(t)
	if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, clientBody(cur["name"].(string), scopes...)); r.Status != http.StatusOK {
		t.Fatalf("put scopes: %s", r)
	}
}

// TestLastOwner: the last client holding owner on / by its own policy can
// be neither deleted nor stripped of that policy, also when the deletions
// race; other owners can.
func TestLastOwner(t *testing.T) {
	admin, res := newTenantAdmin(t, "lastowner")
	ownerSubject := "client-" + res.ClientID
	ownerPolicy := map[string]string{"subject": ownerSubject, "action": "owner", "scope": "/"}
	r := send(t, http.MethodDelete, "/v1/clients/"+res.ClientID, admin, nil)
	assertProblem(t, r, http.StatusConflict)
	if r.json(t)["type"] != "urn:machine-iam:problem:last-owner" {
		t.Errorf("type %v", r.json(t)["type"])
	}
	assertProblem(t, send(t, http.MethodDelete, "/v1/policies", admin, ownerPolicy), http.StatusConflict)
	if r := send(t, http.MethodGet, "/v1/clients/"+res.ClientID, admin, nil); r.Status != http.StatusOK {
		t.Fatalf("refused delete removed the owner: %s", r)
	}

	// A second owner, through a group, does not count: the group could go.
	gid := newGroup(t, admin, "owners")
	grant(t, admin, "group-"+gid, "owner", "/")
	assertProblem(t, send(t, http.MethodDelete, "/v1/policies", admin, ownerPolicy), http.StatusConflict)

	// Two direct owners racing to remove each other: exactly one wins.
	second := newTenantCaller(t, res.Tenant, admin, "second-owner", "services.iam")
	grant(t, admin, second.subject, "owner", "/")
	secondToken := second.token(t)
	results := parallel(2, func(i int) response {
		if i == 0 {
			return send(t, http.MethodDelete, "/v1/clients/"+second.id, admin, nil)
		}
		return send(t, http.MethodDelete, "/v1/policies", secondToken, ownerPolicy)
	})
	// The loser finds either the count at one (409) or that it no longer
	// holds owner itself (403).
	if s := statuses(results); s[http.StatusNoContent]+s[http.StatusConflict]+s[http.StatusForbidden] != 2 || s[http.StatusNoContent] < 1 {
		t.Fatalf("racing removals: %v %v", results[0], results[1])
	}
	// Whoever is left can read the policies.
	reader := admin
	if results[1].Status == http.StatusNoContent {
		reader = secondToken
	}
	left := 0
	for _, sub := range []string{ownerSubject, second.subject} {
		r := send(t, http.MethodGet, "/v1/policies?subject="+sub+"&action=owner&scope=/", reader, nil)
		if r.Status != http.StatusOK {
			t.Fatal(r)
		}
		left += len(r.json(t)["items"].([]any))
	}
	if left != 1 {
		t.Fatalf("%d direct owners left after the race, want 1: %s; %s", left, results[0], results[1])
	}
}

// TestLastOwnerCountedForOlderTenants: a tenant bootstrapped before the
// owner count existed gets it recounted on first need, exactly.
func TestLastOwnerCountedForOlderTenants(t *testing.T) {
	admin, res := newTenantAdmin(t, "legacy")
	second := newTenantCaller(t, res.Tenant, admin, "second-owner", "services.iam")
	grant(t, admin, second.subject, "owner", "/")
	_, err := env.svc.DynamoDB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
		TableName: aws.String(env.svc.Resources.TableName),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + res.Tenant}, "SK": &types.AttributeValueMemberS{Value: "OWNERS"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := send(t, http.MethodDelete, "/v1/clients/"+second.id, admin, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete one of two owners: %s", r)
	}
	assertProblem(t, send(t, http.MethodDelete, "/v1/clients/"+res.ClientID, admin, nil), http.StatusConflict)
}

// TestLastOwnerRace: an owner (also an owner through a group, so that it is
// never blocked itself) removes the owner policies of every direct owner at
// once; the count refuses exactly the last one.
func TestLastOwnerRace(t *testing.T) {
	admin, res := newTenantAdmin(t, "ownerrace")
	gid := newGroup(t, admin, "owners")
	grant(t, admin, "group-"+gid, "owner", "/")
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{"client-" + res.ClientID}}); r.Status != http.StatusNoContent {
		t.Fatal(r)
	}
	for round := range 3 {
		subjects := []string{"client-" + res.ClientID}
		for range 3 {
			c := newTenantCaller(t, res.Tenant, admin, "owner", "services.iam")
			grant(t, admin, c.subject, "owner", "/")
			subjects = append(subjects, c.subject)
		}
		results := parallel(len(subjects), func(i int) response {
			return send(t, http.MethodDelete, "/v1/policies", admin, map[string]string{"subject": subjects[i], "action": "owner", "scope": "/"})
		})
		if s := statuses(results); s[http.StatusNoContent] != len(subjects)-1 || s[http.StatusConflict] != 1 {
			t.Fatalf("round %d: %v", round, s)
		}
		// Restore the admin's own policy for the next round if it lost it.
		grant(t, admin, "client-"+res.ClientID, "owner", "/")
		for i, r := range results {
			if r.Status == http.StatusConflict && i > 0 {
				revoke(t, admin, subjects[i], "owner", "/")
			}
		}
	}
}

// TestRecover runs the operator's iamctl binary against the stack: a tenant
// whose owner credentials are lost gets a fresh owner client, printed once
// in bootstrap's shape, with an audit line and no secret in it.
func TestRecover(t *testing.T) {
	_, res := newTenantAdmin(t, "recover")
	bin := filepath.Join(t.TempDir(), "iamctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/iamctl").CombinedOutput(); err != nil {
		t.Fatalf("build iamctl: %v\n%s", err, out)
	}
	iamctl := func(args ...string) (stdout, stderr string, err error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "TABLE_NAME="+env.svc.Resources.TableName, "ISSUER_URL="+env.base)
		for k, v := range env.svc.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	out, errOut, err := iamctl("recover", "--tenant", res.Tenant)
	if err != nil {
		t.Fatalf("iamctl recover: %v\n%s", err, errOut)
	}
	// Operator commands against DynamoDB Local say nothing they need not:
	// no SDK warning for the checksum its error responses lack.
	if _, upErr, err := iamctl("upgrade", "--tenant", res.Tenant); err != nil || strings.Contains(upErr+errOut, "SDK ") {
		t.Errorf("iamctl upgrade: %v\n%s%s", err, upErr, errOut)
	}
	var got operator.Result
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Tenant != res.Tenant || got.ClientID == res.ClientID || got.ClientSecret == "" ||
		got.Issuer != res.Issuer || got.TokenEndpoint != res.TokenEndpoint {
		t.Fatalf("recover printed %q (%v)", out, err)
	}
	tok := tokenFor(t, res.Tenant, got.ClientID, got.ClientSecret, "")
	if r := send(t, http.MethodGet, "/v1/clients", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("recovered owner lists clients: %s", r)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(errOut)), &line); err != nil || line["action"] != "iam.recover" ||
		line["tenant"] != res.Tenant || line["target"] != "/clients/"+got.ClientID || line["outcome"] != "success" {
		t.Errorf("audit line %q", errOut)
	}
	if strings.Contains(errOut, got.ClientSecret) {
		t.Error("the audit line holds the secret")
	}
	// With two direct owners now, the old one may go.
	if r := send(t, http.MethodDelete, "/v1/clients/"+res.ClientID, tok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete the old owner: %s", r)
	}
	if out, _, err := iamctl("recover", "--tenant", "never-created"); err == nil || out != "" {
		t.Errorf("recover of an unknown tenant: %v %q", err, out)
	}
}

// TestEscalationCheckCost counts the DynamoDB calls of a credential created
// for another client: the route's decision (the caller's grants, then its
// group's), the no-escalation check (the caller's and its group's again,
// the target's and its two groups'), each a Query and a BatchGetItem, and
// the write.
func TestEscalationCheckCost(t *testing.T) {
	admin := adminToken(t)
	c := newCaller(t, admin, "cost-keymaker")
	target, _ := newClient(t, admin, "cost-target", "api")
	mine := newGroup(t, admin, "cost-mine")
	grant(t, admin, "group-"+mine, "iam.manage", "/clients")
	send(t, http.MethodPost, "/v1/subjects/groups/"+mine+"/members", admin, map[string]any{"subjectIds": []string{c.subject}})
	for i := range 2 {
		gid := newGroup(t, admin, "cost-theirs")
		grant(t, admin, "group-"+gid, "iam.client.read", "/clients/"+strconv.Itoa(i))
		send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{"client-" + target}})
	}
	tok := c.token(t)
	env.calls.reset()
	if r := send(t, http.MethodPost, "/v1/clients/"+target+"/secrets", tok, map[string]string{"value": "cost-secret-1", "description": "x"}); r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	if got, want := env.calls.snapshot(), map[string]int{"DynamoDB:Query": 3, "DynamoDB:BatchGetItem": 3, "DynamoDB:GetItem": 1, "DynamoDB:TransactWriteItems": 1}; !maps.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
}
