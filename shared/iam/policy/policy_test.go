package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
)

func p(subject, act, sc string) Policy { return Policy{Subject: subject, Action: act, Scope: sc} }

func TestEvaluate(t *testing.T) {
	actions := testActions(t)
	const me, team, other = "client-1", "group-9", "client-2"
	cases := []struct {
		name    string
		grants  Grants
		act, sc string
		want    []Policy
	}{
		{"no policies", Grants{}, "iam.client.read", "/clients", nil},
		{"exact", Grants{Direct: []Policy{p(me, "iam.client.read", "/clients")}}, "iam.client.read", "/clients",
			[]Policy{p(me, "iam.client.read", "/clients")}},
		{"ancestor action and scope", Grants{Direct: []Policy{p(me, "iam.client.manage", "/")}}, "iam.client.delete", "/clients/x",
			[]Policy{p(me, "iam.client.manage", "/")}},
		{"owner", Grants{Direct: []Policy{p(me, "owner", "/")}}, "banking.pis.authorize", "/subscriptions/1/resource-groups/2",
			[]Policy{p(me, "owner", "/")}},
		{"descendant action does not cover", Grants{Direct: []Policy{p(me, "iam.client.read", "/")}}, "iam.client.manage", "/clients", nil},
		{"descendant scope does not cover", Grants{Direct: []Policy{p(me, "owner", "/clients/x")}}, "iam.client.read", "/clients", nil},
		{"sibling scope", Grants{Direct: []Policy{p(me, "owner", "/subscriptions/12")}}, "banking.ais.read", "/subscriptions/123", nil},
		{"sibling action", Grants{Direct: []Policy{p(me, "iam.secret.manage", "/")}}, "iam.client.read", "/clients", nil},
		{"action and scope from different policies do not combine", Grants{Direct: []Policy{
			p(me, "iam.client.read", "/groups"), p(me, "iam.group.read", "/clients")}}, "iam.client.read", "/clients", nil},
		{"group policy", Grants{Groups: []GroupGrants{{GroupID: "9", Policies: []Policy{p(team, "banking.ais.read", "/subscriptions/1")}}}},
			"banking.ais.read", "/subscriptions/1/resource-groups/a", []Policy{p(team, "banking.ais.read", "/subscriptions/1")}},
		{"direct first, then groups", Grants{
			Direct: []Policy{p(me, "banking.manage", "/subscriptions")},
			Groups: []GroupGrants{{GroupID: "9", Policies: []Policy{p(team, "banking.ais.manage", "/")}}}},
			"banking.ais.read", "/subscriptions/1",
			[]Policy{p(me, "banking.manage", "/subscriptions"), p(team, "banking.ais.manage", "/")}},
		{"unknown action", Grants{Direct: []Policy{p(me, "owner", "/")}}, "no.such.action", "/", nil},
		{"another subject's policy still counts when handed in", Grants{Direct: []Policy{p(other, "owner", "/")}}, "iam.client.read", "/",
			[]Policy{p(other, "owner", "/")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(actions, c.grants, c.act, c.sc)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestEffective(t *testing.T) {
	g := Grants{
		Direct: []Policy{p("client-1", "iam.client.read", "/clients"), p("client-1", "owner", "/")},
		Groups: []GroupGrants{{GroupID: "9", Policies: []Policy{p("group-9", "iam.client.read", "/clients")}}},
	}
	got := Effective(g)
	if len(got) != 2 || got[0].Scope != "/" || got[1].Action != "iam.client.read" || len(got[1].GrantedBy) != 2 {
		t.Fatalf("%+v", got)
	}
}

// benchmarkGrants builds 1,000 policies: 500 direct and 25 on each of 20
// groups, none of which grants the request, so evaluation visits them all.
func benchmarkGrants() Grants {
	var g Grants
	for i := range 500 {
		g.Direct = append(g.Direct, p("client-1", "banking.ais.read", fmt.Sprintf("/subscriptions/%d/resource-groups/%d", i, i)))
	}
	for gi := range 20 {
		gg := GroupGrants{GroupID: fmt.Sprint(gi)}
		for i := range 25 {
			gg.Policies = append(gg.Policies, p(fmt.Sprintf("group-%d", gi), "banking.pis.create", fmt.Sprintf("/subscriptions/%d", 1000+gi*25+i)))
		}
		g.Groups = append(g.Groups, gg)
	}
	return g
}

func BenchmarkEvaluate1000Policies20Groups(b *testing.B) {
	actions := testActions(b)
	g := benchmarkGrants()
	b.ReportAllocs()
	for b.Loop() {
		if len(Evaluate(actions, g, "banking.pis.authorize", "/subscriptions/9999/resource-groups/1")) != 0 {
			b.Fatal("unexpected grant")
		}
	}
}

// tr abbreviates TokenRights in tables: space-separated lists.
type tr struct {
	scopes, grants, audiences, redirects string
	claims                               map[string]string
	lifetime                             time.Duration
}

// rights builds resolved TokenRights for issuer.example with a default
// lifetime of one hour.
func rights(t tr) TokenRights {
	return TokenRights{OAuthScopes: strings.Fields(t.scopes), GrantTypes: strings.Fields(t.grants), Audiences: strings.Fields(t.audiences),
		Claims: t.claims, Lifetime: t.lifetime, RedirectURIs: strings.Fields(t.redirects)}.Resolve("https://issuer.example/resources", time.Hour)
}

func TestLacks(t *testing.T) {
	actions := testActions(t)
	const me, team, them = "client-1", "group-9", "client-2"
	cases := []struct {
		name              string
		holder, conferred Grants
		want              []string
	}{
		{"nothing conferred", Grants{}, Grants{}, nil},
		{"owner on / holds everything, OAuth scopes and inert policies too", Grants{Direct: []Policy{p(me, "owner", "/")}},
			Grants{Direct: []Policy{p(them, "banking.ais.read", "/x"), p(them, "gone.action", "/")}, TokenRights: TokenRights{OAuthScopes: []string{"api"}}}, nil},
		{"owner below / is not everything", Grants{Direct: []Policy{p(me, "owner", "/clients")}},
			Grants{Direct: []Policy{p(them, "iam.client.read", "/clients/7"), p(them, "iam.group.read", "/groups")}},
			[]string{"iam.group.read on /groups"}},
		{"broader action and scope cover", Grants{Direct: []Policy{p(me, "iam.manage", "/")}},
			Grants{Direct: []Policy{p(them, "iam.secret.create", "/clients/7")}}, nil},
		{"narrower does not cover", Grants{Direct: []Policy{p(me, "iam.secret.create", "/clients/7")}},
			Grants{Direct: []Policy{p(them, "iam.secret.manage", "/clients/7"), p(them, "iam.secret.create", "/clients")}},
			[]string{"iam.secret.manage on /clients/7", "iam.secret.create on /clients"}},
		{"held through a group", Grants{Groups: []GroupGrants{{GroupID: "9", Policies: []Policy{p(team, "banking.manage", "/")}}}},
			Grants{Direct: []Policy{p(them, "banking.pis.authorize", "/s/1")}}, nil},
		{"conferred through a group", Grants{},
			Grants{Groups: []GroupGrants{{GroupID: "9", Policies: []Policy{p(team, "banking.pis.read", "/"), p(team, "banking.pis.read", "/")}}}},
			[]string{"banking.pis.read on /"}},
		{"inert policies confer nothing", Grants{}, Grants{Direct: []Policy{p(them, "retired.thing", "/")}}, nil},
		{"OAuth scopes", Grants{TokenRights: TokenRights{OAuthScopes: []string{"services.iam", "api"}}},
			Grants{TokenRights: TokenRights{OAuthScopes: []string{"api", "reconcile", "reconcile"}}},
			[]string{"OAuth scope reconcile"}},
		{"every token right, resolved", Grants{TokenRights: rights(tr{scopes: "api", grants: "client_credentials", lifetime: time.Hour})},
			Grants{TokenRights: rights(tr{scopes: "api services.iam", grants: "client_credentials authorization_code",
				audiences: "https://a.example", claims: map[string]string{"team": "x"}, lifetime: 2 * time.Hour, redirects: "https://r.example/cb"})},
			[]string{"OAuth scope services.iam", "grant type authorization_code", "audience https://a.example",
				"redirect URI https://r.example/cb", "token claim team=x", "token lifetime 2h0m0s"}},
		{"the management audience named is the default one", Grants{TokenRights: rights(tr{grants: "client_credentials"})},
			Grants{TokenRights: rights(tr{grants: "client_credentials", audiences: "https://issuer.example/resources"})}, nil},
		{"a restricted client does not hold the default audience", Grants{TokenRights: rights(tr{grants: "client_credentials", audiences: "https://a.example"})},
			Grants{TokenRights: rights(tr{grants: "client_credentials"})}, []string{"audience " + DefaultAudience}},
		{"a group obtains no tokens", Grants{TokenRights: rights(tr{grants: "client_credentials", audiences: "https://a.example", lifetime: time.Minute})},
			Grants{Direct: []Policy{p(team, "banking.pis.read", "/")}}, []string{"banking.pis.read on /"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Lacks(actions, c.holder, c.conferred); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("Lacks = %q, want %q", got, c.want)
			}
		})
	}
}

// testActions is the IAM and banking trees, as a deployment declares them.
func testActions(t testing.TB) *action.Catalog {
	doc, err := os.ReadFile("../action/testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := action.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
