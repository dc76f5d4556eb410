package integration

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/machine-iam/machine-iam/shared/action"
	"github.com/machine-iam/machine-iam/shared/policy"
)

// modelChecks is how many random runs TestNoEscalationModel makes by
// default; RAPID_CHECKS or -rapid.checks asks for more.
const modelChecks = 12

// modelActor is a non-owner client driving management calls, with the
// clients whose credentials it knows: itself, and each client it managed
// to create a secret for.
type modelActor struct {
	name     string
	id       string
	token    string
	controls []string
}

// TestNoEscalationModel is a model-based test of api.md "No escalation, by
// any path". Several non-owner clients, each with random rights, and the
// tenant's owner make random sequences of management calls (policies,
// memberships, secrets, OAuth scopes, deletions, new clients and groups)
// through the gateway, the real handlers and DynamoDB Local. Each actor has
// a ceiling: what it held at the start, grown by what owner steps give it
// (what it can reach right after an owner's step). After every step by a
// non-owner A, everything each actor Y can exercise or obtain credentials
// for (the policies, group policies and OAuth scopes of every client whose
// secret Y knows) must be covered by Y's ceiling and A's: a step can give
// others only what its author was entitled to. So no coalition of
// non-owners ever reaches past what it held plus what an owner gave it.
func TestNoEscalationModel(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue && os.Getenv("RAPID_CHECKS") == "" {
		_ = f.Value.Set(fmt.Sprint(modelChecks))
		defer func() { _ = f.Value.Set(f.DefValue) }()
	}
	actions := action.Default()
	store := env.svc.Deps["PoliciesFunction"].Store
	actionPool := []string{"owner", "iam.manage", "iam.client.manage", "iam.client.create", "iam.client.update", "iam.client.delete",
		"iam.secret.create", "iam.group.write", "iam.policy.create", "iam.policy.delete", "iam.policy.read", "banking.ais.read", "banking.manage"}
	oauthPool := []string{"services.iam", "api", "reconcile"}
	steps := 0
	rapid.Check(t, func(rt *rapid.T) {
		admin, res := newTenantAdmin(t, "model")
		ten := res.Tenant
		var clients, groups []string
		call := func(method, path, token string, body any) response {
			r := send(t, method, path, token, body)
			if r.Status >= 500 {
				rt.Fatalf("%s %s: %s", method, path, r)
			}
			return r
		}
		scopeGen := rapid.Custom(func(rt *rapid.T) string {
			fixed := []string{"/", "/clients", "/groups", "/subscriptions/1"}
			switch rapid.IntRange(0, 2).Draw(rt, "scopeKind") {
			case 1:
				if len(clients) > 0 {
					return "/clients/" + rapid.SampledFrom(clients).Draw(rt, "scopeClient")
				}
			case 2:
				if len(groups) > 0 {
					return "/groups/" + rapid.SampledFrom(groups).Draw(rt, "scopeGroup")
				}
			}
			return rapid.SampledFrom(fixed).Draw(rt, "scope")
		})
		subjectGen := rapid.Custom(func(rt *rapid.T) string {
			if len(groups) > 0 && rapid.Bool().Draw(rt, "isGroup") {
				return "group-" + rapid.SampledFrom(groups).Draw(rt, "group")
			}
			return "client-" + rapid.SampledFrom(clients).Draw(rt, "client")
		})
		scopesGen := rapid.SliceOfNDistinct(rapid.SampledFrom(oauthPool), 0, len(oauthPool), rapid.ID[string])
		newClientAs := func(token string, scopes []string) string {
			r := call(http.MethodPost, "/v1/clients", token, clientBody("model", scopes...))
			if r.Status != http.StatusCreated {
				return ""
			}
			id := r.json(t)["clientId"].(string)
			clients = append(clients, id)
			return id
		}
		newGroupAs := func(token string) string {
			r := call(http.MethodPost, "/v1/subjects/groups", token, map[string]string{"displayName": "model", "description": ""})
			if r.Status != http.StatusCreated {
				return ""
			}
			id := r.json(t)["id"].(string)
			groups = append(groups, id)
			return id
		}

		// The world: actors with random rights, target clients, groups.
		var actors []*modelActor
		for i := range 3 {
			scopes := scopesGen.Draw(rt, "actorScopes")
			if !slices.Contains(scopes, "services.iam") {
				scopes = append(scopes, "services.iam")
			}
			id, secret := newClient(t, admin, fmt.Sprint("actor", i), scopes...)
			clients = append(clients, id)
			actors = append(actors, &modelActor{name: fmt.Sprint("actor", i), id: id, controls: []string{id},
				token: tokenFor(t, ten, id, secret, "services.iam")})
		}
		for range 2 {
			newClientAs(admin, scopesGen.Draw(rt, "targetScopes"))
			newGroupAs(admin)
		}
		grantAs := func(token, method string, rt *rapid.T) {
			call(method, "/v1/policies", token, map[string]string{"subject": subjectGen.Draw(rt, "subject"),
				"action": rapid.SampledFrom(actionPool).Draw(rt, "action"), "scope": scopeGen.Draw(rt, "scope")})
		}
		for range rapid.IntRange(4, 12).Draw(rt, "initialGrants") {
			grantAs(admin, http.MethodPost, rt)
		}
		for _, g := range groups {
			call(http.MethodPost, "/v1/subjects/groups/"+g+"/members", admin, map[string]any{"subjectIds": []string{subjectGen.Filter(func(s string) bool {
				return s[:7] == "client-"
			}).Draw(rt, "member")}})
		}

		// reach is everything an actor can exercise or obtain credentials
		// for, read from storage as authorization decisions read it.
		reach := func(a *modelActor) policy.Grants {
			var out policy.Grants
			for _, c := range a.controls {
				g, err := store.Grants(context.Background(), ten, "client-"+c)
				if err != nil {
					continue // deleted
				}
				out.Direct = append(out.Direct, g.All()...)
				out.OAuthScopes = append(out.OAuthScopes, g.OAuthScopes...)
			}
			return out
		}
		union := func(gs ...policy.Grants) policy.Grants {
			var out policy.Grants
			for _, g := range gs {
				out.Direct = append(out.Direct, g.All()...)
				out.OAuthScopes = append(out.OAuthScopes, g.OAuthScopes...)
			}
			return out
		}
		ceiling := map[*modelActor]policy.Grants{}
		absorb := func() {
			for _, a := range actors {
				ceiling[a] = union(ceiling[a], reach(a))
			}
		}
		absorb()

		for step := range rapid.IntRange(10, 40).Draw(rt, "steps") {
			steps++
			byOwner := rapid.IntRange(0, 5).Draw(rt, "byOwner") == 0
			var author *modelActor
			token := admin
			if !byOwner {
				author = rapid.SampledFrom(actors).Draw(rt, "author")
				token = author.token
			}
			client := rapid.SampledFrom(clients).Draw(rt, "target")
			op := rapid.SampledFrom([]string{"grant", "revoke", "addMember", "removeMember", "createSecret", "setScopes",
				"deleteClient", "deleteGroup", "createClient", "createGroup"}).Draw(rt, "op")
			switch op {
			case "grant":
				grantAs(token, http.MethodPost, rt)
			case "revoke":
				grantAs(token, http.MethodDelete, rt)
			case "addMember", "removeMember":
				if len(groups) == 0 {
					continue
				}
				method := map[string]string{"addMember": http.MethodPost, "removeMember": http.MethodDelete}[op]
				call(method, "/v1/subjects/groups/"+rapid.SampledFrom(groups).Draw(rt, "group")+"/members", token,
					map[string]any{"subjectIds": []string{"client-" + client}})
			case "createSecret":
				r := call(http.MethodPost, "/v1/clients/"+client+"/secrets", token, map[string]string{"value": "model-secret", "description": "m"})
				if r.Status == http.StatusCreated && author != nil && !slices.Contains(author.controls, client) {
					author.controls = append(author.controls, client)
				}
			case "setScopes":
				call(http.MethodPut, "/v1/clients/"+client, token, clientBody("model", scopesGen.Draw(rt, "scopes")...))
			case "deleteClient":
				call(http.MethodDelete, "/v1/clients/"+client, token, nil)
			case "deleteGroup":
				if len(groups) > 0 {
					call(http.MethodDelete, "/v1/subjects/groups/"+rapid.SampledFrom(groups).Draw(rt, "group"), token, nil)
				}
			case "createClient":
				newClientAs(token, scopesGen.Draw(rt, "newScopes"))
			case "createGroup":
				newGroupAs(token)
			}
			if author != nil {
				for _, y := range actors {
					if lacking := policy.Lacks(actions, union(ceiling[y], ceiling[author]), reach(y)); len(lacking) > 0 {
						rt.Fatalf("step %d (%s by %s): %s can now reach %v, beyond its ceiling and its author's", step, op, author.name, y.name, lacking)
					}
				}
			}
			absorb()
		}
	})
	t.Logf("%d management steps checked", steps)
}
