package integration

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"

	"github.com/aws/aws-lambda-go/cfn"
	"pgregory.net/rapid"

	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/provisioning/provision"
)

// modelChecks is how many random runs TestNoEscalationModel makes by
// default; RAPID_CHECKS or -rapid.checks asks for more.
const modelChecks = 12

// modelRights is what a set of clients can exercise or obtain: their
// policies (own and their groups'), and every right their fields bear, as
// sets (claims as name=value, the longest lifetime), resolved for the
// tenant as the no-escalation check resolves them.
type modelRights struct {
	policies                                     []policy.Policy
	scopes, grants, audiences, redirects, claims []string
	lifetime                                     time.Duration
}

func (m *modelRights) add(g policy.Grants, managementAudience string) {
	m.policies = append(m.policies, g.All()...)
	t := g.Resolve(managementAudience, token.DefaultLifetime)
	m.scopes = append(m.scopes, t.OAuthScopes...)
	m.grants = append(m.grants, t.GrantTypes...)
	m.audiences = append(m.audiences, t.Audiences...)
	m.redirects = append(m.redirects, t.RedirectURIs...)
	for k, v := range t.Claims {
		m.claims = append(m.claims, k+"="+v)
	}
	m.lifetime = max(m.lifetime, t.Lifetime)
}

func (m *modelRights) union(o modelRights) {
	m.policies = append(m.policies, o.policies...)
	m.scopes, m.grants = append(m.scopes, o.scopes...), append(m.grants, o.grants...)
	m.audiences, m.redirects = append(m.audiences, o.audiences...), append(m.redirects, o.redirects...)
	m.claims, m.lifetime = append(m.claims, o.claims...), max(m.lifetime, o.lifetime)
}

// beyond lists what r holds that ceiling does not cover; owner on / in
// the ceiling covers everything.
func (r modelRights) beyond(actions *action.Catalog, ceiling modelRights) []string {
	held := policy.Grants{Direct: ceiling.policies}
	out := policy.Lacks(actions, held, policy.Grants{Direct: r.policies})
	if len(policy.Evaluate(actions, held, action.Owner, "/")) > 0 {
		return out
	}
	for _, set := range []struct {
		what      string
		have, cap []string
	}{{"scope", r.scopes, ceiling.scopes}, {"grant", r.grants, ceiling.grants}, {"audience", r.audiences, ceiling.audiences},
		{"redirect", r.redirects, ceiling.redirects}, {"claim", r.claims, ceiling.claims}} {
		for _, v := range set.have {
			if !slices.Contains(set.cap, v) {
				out = append(out, set.what+" "+v)
			}
		}
	}
	if r.lifetime > ceiling.lifetime {
		out = append(out, "lifetime "+r.lifetime.String())
	}
	return out
}

// modelActor is a non-owner client driving management calls, with the
// clients whose credentials it knows: itself, and each client it managed
// to create a secret for.
type modelActor struct {
	name     string
	id       string
	token    string
	controls []string
}

// TestNoEscalationModel is a model-based test of docs/authorization.md "No escalation, by
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
	actions := access.NewCatalogs(apis.Builtin(), nil).Builtin().Actions
	store := env.svc.Store()
	actionPool := []string{"owner", "iam.manage", "iam.client.manage", "iam.client.create", "iam.client.update", "iam.client.delete",
		"iam.secret.create", "iam.group.write", "iam.policy.create", "iam.policy.delete", "iam.policy.read", "banking.ais.read", "banking.manage"}
	oauthPool := []string{"services.iam", "api", "reconcile"}
	steps, squats, applies := 0, 0, 0
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
		// Some actors may update themselves (rename, narrow) or write
		// groups: the squatters of names a document declares.
		for _, a := range actors {
			if rapid.Bool().Draw(rt, "mayUpdateItself") {
				call(http.MethodPost, "/v1/policies", admin, map[string]string{"subject": "client-" + a.id, "action": "iam.client.update", "scope": "/clients/" + a.id})
			}
			if rapid.Bool().Draw(rt, "mayWriteGroups") {
				call(http.MethodPost, "/v1/policies", admin, map[string]string{"subject": "client-" + a.id, "action": "iam.group.write", "scope": "/groups"})
			}
		}
		for _, g := range groups {
			call(http.MethodPost, "/v1/subjects/groups/"+g+"/members", admin, map[string]any{"subjectIds": []string{subjectGen.Filter(func(s string) bool {
				return s[:7] == "client-"
			}).Draw(rt, "member")}})
		}

		// reach is everything an actor can exercise or obtain credentials
		// for, read from storage as authorization decisions read it;
		// except leaves out clients (those an apply made: see below).
		mgmt := tenant.Issuer(env.base, ten) + "/resources"
		reach := func(a *modelActor, except []string) modelRights {
			var out modelRights
			for _, c := range a.controls {
				if slices.Contains(except, c) {
					continue
				}
				if g, err := store.Grants(context.Background(), ten, "client-"+c); err == nil {
					out.add(g, mgmt)
				}
			}
			return out
		}
		ceiling := map[*modelActor]*modelRights{}
		absorb := func() {
			for _, a := range actors {
				if ceiling[a] == nil {
					ceiling[a] = &modelRights{}
				}
				ceiling[a].union(reach(a, nil))
			}
		}
		absorb()
		// Each actor's reach, without what applies made, stays within its
		// ceiling and, when author is not nil, its author's.
		within := func(step int, op string, author *modelActor, except []string) {
			for _, y := range actors {
				limit := *ceiling[y]
				if author != nil {
					limit.union(*ceiling[author])
				}
				if beyond := reach(y, except).beyond(actions, limit); len(beyond) > 0 {
					rt.Fatalf("step %d (%s): %s can now reach %v, beyond what it held and what its author held", step, op, y.name, beyond)
				}
			}
		}
		applier := provisioner(t, res)
		var applied []string // clients that applies made
		stackEvents := newProvisioning(t, res)
		stackEvents.secrets.set("arn:aws:secretsmanager:eu-west-1:123456789012:secret:model-stack", "model-stack-secret-1")

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
			ops := []string{"grant", "revoke", "addMember", "removeMember", "createSecret", "setScopes", "setField",
				"deleteClient", "deleteGroup", "createClient", "createGroup", "forgedStackEvent"}
			if !byOwner {
				// Squatters are non-owners: the owner labelling a group as
				// its own document's would be the document's own group.
				ops = append(ops, "squatName", "squatGroup")
			}
			if byOwner {
				// Applies are weighted up: squatting only matters before one.
				ops = append(ops, "apply", "apply", "apply", "stackCreate")
			}
			op := rapid.SampledFrom(ops).Draw(rt, "op")
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
			case "setField":
				// One rights-bearing field changed, the others kept: the
				// surgical change an attacker makes.
				if c := current(ten, client); c != nil {
					call(http.MethodPut, "/v1/clients/"+client, token, modelField(rt, *c, scopesGen, mgmt))
				}
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
			case "squatName":
				// The author renames a client (itself, half the time) to a
				// name the documents declare, keeping its rights: a
				// neutral change.
				if rapid.Bool().Draw(rt, "squatSelf") {
					client = author.id
				}
				if c := current(ten, client); c != nil {
					body := bodyOf(*c)
					body["name"] = rapid.SampledFrom(modelDeclared).Draw(rt, "declaredName")
					if call(http.MethodPut, "/v1/clients/"+client, token, body).Status == http.StatusOK {
						squats++
					}
				}
			case "squatGroup":
				// An empty group under a declared name, labelled as the
				// document's own, which the author then joins.
				name := rapid.SampledFrom(modelDeclared).Draw(rt, "declaredGroup")
				r := call(http.MethodPost, "/v1/subjects/groups", token, map[string]any{"displayName": name, "description": "",
					"provenance": map[string]string{"via": "apply", "document": "model", "name": name}})
				if r.Status == http.StatusCreated {
					squats++
					gid := r.json(t)["id"].(string)
					groups = append(groups, gid)
					call(http.MethodPost, "/v1/subjects/groups/"+gid+"/members", token, map[string]any{"subjectIds": []string{"client-" + author.id}})
				}
			case "apply":
				before := existing(ten, clients)
				applies++
				// Only what an apply created counts as the document's: a
				// client it merely manages may be an attacker's.
				for _, id := range applyModelDocument(rt, applier, actionPool, scopeGen, scopesGen) {
					if !slices.Contains(clients, id) {
						applied = append(applied, id)
						clients = append(clients, id)
					}
				}
				after := existing(ten, before)
				for _, gone := range slices.DeleteFunc(before, func(id string) bool { return slices.Contains(after, id) }) {
					if !slices.Contains(applied, gone) {
						rt.Fatalf("step %d: apply deleted client %s, which no apply made", step, gone)
					}
				}
				within(step, op, nil, applied)
			case "stackCreate":
				props := map[string]any{"Tenant": ten, "Name": "stack-" + rapid.SampledFrom(modelDeclared).Draw(rt, "stackName"),
					"Scopes": []string{"api"}, "SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:model-stack",
					"Policies": []map[string]string{{"Action": rapid.SampledFrom(actionPool).Draw(rt, "stackAction"), "Scope": scopeGen.Draw(rt, "stackScope")}}}
				if resp := stackEvents.send(stackEvents.event(cfn.RequestCreate, "", props, nil)); resp.Status == cfn.StatusSuccess {
					applied = append(applied, resp.PhysicalResourceID)
				}
				within(step, op, nil, applied)
			case "forgedStackEvent":
				// An attacker's Delete or Update naming a victim client: not
				// confirmed by CloudFormation, or confirmed for another
				// physical id (the cleanup of a replaced resource).
				victim := current(ten, client)
				ev := stackEvents.forged(rapid.SampledFrom([]cfn.RequestType{cfn.RequestDelete, cfn.RequestUpdate}).Draw(rt, "forgedType"), client,
					map[string]any{"Tenant": ten, "Name": "x", "SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:model-stack"}, nil)
				if rapid.Bool().Draw(rt, "confirmedElsewhere") {
					real := ev
					real.PhysicalResourceID = "none-" + id.New()
					stackEvents.stacks.set(real, "DELETE_IN_PROGRESS")
				}
				stackEvents.send(ev)
				if after := current(ten, client); victim != nil && (after == nil || after.Version != victim.Version) && !slices.Contains(applied, client) {
					rt.Fatalf("step %d: a forged %s changed or deleted client %s", step, ev.RequestType, client)
				}
			}
			if author != nil {
				within(step, op, author, nil)
			}
			absorb()
		}
	})
	t.Logf("%d management steps checked, %d applies, %d names squatted", steps, applies, squats)
}

// modelDeclared are the names the model's documents and stacks declare.
var modelDeclared = []string{"exporter", "payers"}

// bodyOf is a replace body that keeps every field of c.
func bodyOf(c client.Client) map[string]any {
	body := clientBody(c.Name, nonNil(c.Scopes)...)
	body["description"], body["allowedGrantTypes"], body["redirectUris"] = c.Description, c.GrantTypes, nonNil(c.RedirectURIs)
	body["allowedAudiences"], body["tokenClaims"] = nonNil(c.Audiences), map[string]string{}
	for k, v := range c.TokenClaims {
		body["tokenClaims"].(map[string]string)[k] = v
	}
	if c.TokenLifetime > 0 {
		body["accessTokenLifetime"] = int(c.TokenLifetime / time.Second)
	}
	return body
}

// modelField is a replace body of c with one rights-bearing field given a
// random value.
func modelField(rt *rapid.T, c client.Client, scopesGen *rapid.Generator[[]string], managementAudience string) map[string]any {
	body := bodyOf(c)
	switch rapid.SampledFrom([]string{"scopes", "audiences", "claims", "lifetime", "grants"}).Draw(rt, "field") {
	case "scopes":
		body["allowedScopes"] = scopesGen.Draw(rt, "fieldScopes")
	case "audiences":
		body["allowedAudiences"] = rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"https://a.example", "https://b.example", managementAudience}),
			0, 2, rapid.ID[string]).Draw(rt, "audiences")
	case "claims":
		claims := map[string]string{}
		for _, c := range rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"team=a", "team=b", "role=x"}), 0, 2, rapid.ID[string]).Draw(rt, "claims") {
			k, v, _ := strings.Cut(c, "=")
			claims[k] = v
		}
		body["tokenClaims"] = claims
	case "lifetime":
		delete(body, "accessTokenLifetime")
		if n := rapid.SampledFrom([]int{0, 300, 7200}).Draw(rt, "lifetime"); n > 0 {
			body["accessTokenLifetime"] = n
		}
	case "grants":
		body["allowedGrantTypes"], body["redirectUris"] = []string{"client_credentials"}, []string{}
		if rapid.Bool().Draw(rt, "authorizationCode") {
			body["allowedGrantTypes"] = []string{"client_credentials", "authorization_code"}
			body["redirectUris"] = []string{"https://app.example/cb"}
		}
	}
	return body
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// provisioner is an API client acting as res, for applies.
func provisioner(t *testing.T, res operator.Result) *apiclient.Client {
	api, err := apiclient.New(context.Background(), apiclient.Credentials{BaseURL: env.base, Tenant: res.Tenant,
		ClientID: res.ClientID, ClientSecret: res.ClientSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// current is a client as stored, nil when it is gone.
func current(ten, id string) *client.Client {
	c, err := env.svc.Store().GetClient(context.Background(), ten, id)
	if err != nil {
		return nil
	}
	return &c
}

// existing are those of ids whose clients exist.
func existing(ten string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if current(ten, id) != nil {
			out = append(out, id)
		}
	}
	return out
}

// applyModelDocument applies, as the tenant's owner, a random document
// declaring the names attackers squat, with --prune at random, and returns
// the clients that applies of it manage.
func applyModelDocument(rt *rapid.T, api *apiclient.Client, actionPool []string, scopeGen *rapid.Generator[string], scopesGen *rapid.Generator[[]string]) []string {
	grants := func(label string) []provision.Grant {
		var out []provision.Grant
		for range rapid.IntRange(0, 2).Draw(rt, label) {
			out = append(out, provision.Grant{Action: rapid.SampledFrom(actionPool).Draw(rt, label+"Action"), Scope: scopeGen.Draw(rt, label+"Scope")})
		}
		return out
	}
	doc := provision.Document{Version: 1, Name: "model",
		Groups: []provision.Group{{Name: "payers", Description: "d", Policies: grants("groupGrants")}}}
	if rapid.Bool().Draw(rt, "declareClient") {
		doc.Clients = []provision.Client{{Name: "exporter", Description: "d", Scopes: scopesGen.Draw(rt, "docScopes"),
			Policies: grants("clientGrants"), Groups: []string{"payers"}}}
	}
	for i := range doc.Clients {
		if err := doc.Clients[i].Normalize(); err != nil {
			return nil
		}
	}
	ctx := context.Background()
	plan, err := provision.MakePlan(ctx, api, doc, provision.Options{Prune: rapid.Bool().Draw(rt, "prune")})
	if err != nil {
		rt.Fatalf("plan: %v", err)
	}
	if err := plan.Apply(ctx, api, func(provision.NewSecret) error { return nil }); err != nil && apiclient.StatusOf(err) >= 500 {
		rt.Fatalf("apply: %v", err)
	}
	if id := plan.ClientID("exporter"); id != "" {
		return []string{id}
	}
	return nil
}
