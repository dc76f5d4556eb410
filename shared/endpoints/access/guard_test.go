package access_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/local/dynamotest"
	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// guarded is a route behind Guard.Require(iam.client.read on /clients)
// that answers with the principal the guard authenticated.
func guarded(e *apitest.Env) http.Handler {
	return e.Deps.Guard().Require("iam.client.read", func(*http.Request) string { return "/clients" },
		func(w http.ResponseWriter, r *http.Request) error {
			httpapi.WriteJSON(w, http.StatusOK, access.PrincipalFrom(r.Context()))
			return nil
		})
}

// TestGuardAuthenticates: the guard lets a request through only with a
// bearer access token of this deployment, for the tenant it names, holding
// services.iam, alive, and not revoked; every refusal is a 401
// invalid-token problem with an RFC 6750 challenge, and the route never
// runs.
func TestGuardAuthenticates(t *testing.T) {
	e := apitest.New(t)
	h := guarded(e)
	caller := e.Caller("iam.client.read on /clients")
	good := e.Token(caller)

	var p access.Principal
	apitest.Do(t, h, http.MethodGet, "/v1/clients", good, nil).JSON(http.StatusOK, &p)
	if p.Tenant != e.Tenant || p.Subject != caller.SubjectID() || p.ClientID != caller.ID || p.ManagementAudience != e.ManagementAudience() || p.TokenID == "" {
		t.Fatalf("principal %+v", p)
	}

	otherKey := apitest.New(t) // another deployment's signing key
	parts := strings.Split(good, ".")
	// Sign a token whose tid names another tenant than its issuer, and one
	// whose issuer is another deployment's.
	wrongTenant := e.Mint(token.Grant{Tenant: otherKey.Tenant, Scopes: []string{oauthscope.IAM}}, caller)
	wrongBase := e.Mint(token.Grant{Issuer: tenant.Issuer("https://other.example.test", e.Tenant), Scopes: []string{oauthscope.IAM}}, caller)
	for _, c := range []struct {
		name, authorization, detail string
	}{
		{"no header", "", "A bearer access token is required."},
		{"not bearer", "Basic " + good, "A bearer access token is required."},
		{"empty bearer", "Bearer  ", "A bearer access token is required."},
		{"garbage", "Bearer not.a.jwt", "The access token is not valid."},
		{"tampered", "Bearer " + parts[0] + "." + parts[1] + "x." + parts[2], "The access token is not valid."},
		{"another key", "Bearer " + otherKey.Token(caller), "The access token is not valid."},
		{"tid of another tenant", "Bearer " + wrongTenant, "The access token is not valid."},
		{"another deployment", "Bearer " + wrongBase, "The access token is not valid."},
		// A genuine token for another audience says so: the commonest
		// surprise once a client has allowedAudiences.
		{"for a resource server", "Bearer " + e.Mint(token.Grant{Scopes: []string{oauthscope.IAM}, Audiences: []string{"https://api.example.test"}}, caller),
			"The access token is for https://api.example.test, not for this management API (" + e.Issuer() + "/resources): " +
				"request a token without resource, or with resource=" + e.Issuer() + "/resources if the client's allowedAudiences list it."},
		{"without services.iam", "Bearer " + e.Mint(token.Grant{Scopes: []string{"api"}}, caller), "The access token lacks the services.iam scope."},
		{"too long", "Bearer " + strings.Repeat("a", access.MaxTokenLength), "The access token is not valid."},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := apitest.Do(t, h, http.MethodGet, "/v1/clients", "", nil, "Authorization", c.authorization)
			assertUnauthorized(t, r, c.detail)
		})
	}

	t.Run("expired", func(t *testing.T) {
		e := apitest.New(t)
		h := guarded(e)
		tok := e.Token(e.Caller("iam.client.read on /clients"))
		e.Advance(e.Deps.Config.TokenLifetime + token.DefaultLeeway - time.Second)
		apitest.Do(t, h, http.MethodGet, "/v1/clients", tok, nil).JSON(http.StatusOK, &p)
		e.Advance(2 * time.Second)
		assertUnauthorized(t, apitest.Do(t, h, http.MethodGet, "/v1/clients", tok, nil), "The access token is not valid.")
	})

	t.Run("revoked", func(t *testing.T) {
		ctx := context.Background()
		one := e.Token(caller)
		claims, err := e.Deps.Guard().Verifier.Verify(ctx, one, apitest.Base)
		if err != nil {
			t.Fatal(err)
		}
		err = e.Store.RevokeToken(ctx, e.Tenant, caller.ID, claims.ID, time.Unix(claims.Expiry, 0),
			store.RevocationLimit{Max: store.MaxRevocations, Span: 2 * time.Hour, Now: e.Now()})
		if err != nil {
			t.Fatal(err)
		}
		assertUnauthorized(t, apitest.Do(t, h, http.MethodGet, "/v1/clients", one, nil), "The access token was revoked.")
		apitest.Do(t, h, http.MethodGet, "/v1/clients", good, nil).JSON(http.StatusOK, &p)

		// The kill switch: every token issued up to it.
		if err := e.Store.RevokeTokens(ctx, e.Tenant, caller.ID, e.Now()); err != nil {
			t.Fatal(err)
		}
		assertUnauthorized(t, apitest.Do(t, h, http.MethodGet, "/v1/clients", good, nil), "The access token was revoked.")
		e.Advance(time.Second)
		apitest.Do(t, h, http.MethodGet, "/v1/clients", e.Token(caller), nil).JSON(http.StatusOK, &p)
	})

	t.Run("client deleted", func(t *testing.T) {
		gone := e.Caller("owner on /", "iam.client.read on /clients")
		tok := e.Token(gone)
		e.Owner() // so that gone is not the last owner
		if err := e.Store.DeleteClient(context.Background(), e.Tenant, gone.ID); err != nil {
			t.Fatal(err)
		}
		// Authenticated (the token is valid), but its subject holds nothing.
		apitest.Do(t, h, http.MethodGet, "/v1/clients", tok, nil).Forbidden("iam.client.read on /clients")
	})
}

func assertUnauthorized(t *testing.T, r apitest.Response, detail string) {
	t.Helper()
	p := r.Problem(http.StatusUnauthorized, httpapi.TypeInvalidToken)
	if p.Detail != detail {
		t.Errorf("detail %q, want %q", p.Detail, detail)
	}
	if got, want := r.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token", error_description="`+detail+`"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
}

// TestAllow: a caller is allowed an action on a scope by a policy, its own
// or a group's, naming that action or an ancestor of it on that scope or an
// ancestor of it; anything else is a 403 naming the action and the scope.
func TestAllow(t *testing.T) {
	e := apitest.New(t)
	g := e.Deps.Guard()
	for _, c := range []struct {
		name    string
		holds   []string
		viaGrp  []string
		action  string
		scope   string
		allowed bool
	}{
		{"exact", []string{"iam.client.read on /clients"}, nil, "iam.client.read", "/clients", true},
		{"ancestor action", []string{"iam.manage on /clients"}, nil, "iam.client.read", "/clients", true},
		{"ancestor scope", []string{"iam.client.read on /"}, nil, "iam.client.read", "/clients/x", true},
		{"owner", []string{"owner on /"}, nil, "banking.pis.authorize", "/a/b", true},
		{"through a group", nil, []string{"iam.client.read on /clients"}, "iam.client.read", "/clients", true},
		{"nothing", nil, nil, "iam.client.read", "/clients", false},
		{"sibling action", []string{"iam.client.update on /clients"}, nil, "iam.client.read", "/clients", false},
		{"descendant action", []string{"iam.client.read on /clients"}, nil, "iam.client.manage", "/clients", false},
		{"descendant scope", []string{"iam.client.read on /clients/x"}, nil, "iam.client.read", "/clients", false},
		{"near-miss scope", []string{"iam.client.read on /client"}, nil, "iam.client.read", "/clients", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			caller := e.Caller(c.holds...)
			if c.viaGrp != nil {
				e.Group(c.viaGrp, caller.SubjectID())
			}
			err := g.Allow(principal(e, caller), c.action, c.scope)
			if c.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.allowed {
				assertForbidden(t, err, "The caller is not allowed "+c.action+" on "+c.scope+".")
			}
		})
	}
}

// principal is ctx with c authenticated as the guard would.
func principal(e *apitest.Env, c client.Client) context.Context {
	return access.WithPrincipal(context.Background(), access.Principal{Tenant: e.Tenant, Subject: c.SubjectID(), ClientID: c.ID,
		Scopes: []string{oauthscope.IAM}, IssuedAt: e.Now(), ManagementAudience: e.ManagementAudience()})
}

func assertForbidden(t *testing.T, err error, detail ...string) {
	t.Helper()
	p := httpapi.Problem(err)
	if p.Status != http.StatusForbidden {
		t.Fatalf("want a 403, got %v", err)
	}
	for _, d := range detail {
		if !strings.Contains(p.Detail, d) {
			t.Errorf("detail %q does not name %q", p.Detail, d)
		}
	}
}

// TestRequireHolds: a caller may confer only what it holds: policies (an
// owner of / holds every one) and token rights; the 403 names what it
// lacks, the first five and a count of the rest.
func TestRequireHolds(t *testing.T) {
	e := apitest.New(t)
	g := e.Deps.Guard()
	caller := e.Caller("iam.client.manage on /clients", "banking.ais.read on /subscriptions")
	ctx := principal(e, caller)
	confer := func(policies ...string) policy.Grants {
		var out policy.Grants
		for _, p := range policies {
			act, sc, _ := strings.Cut(p, " on ")
			out.Direct = append(out.Direct, policy.Policy{Subject: "client-x", Action: act, Scope: sc})
		}
		return out
	}
	if err := g.RequireHolds(ctx, "confer", confer("iam.client.read on /clients/a", "banking.ais.read on /subscriptions/1")); err != nil {
		t.Fatalf("what the caller holds: %v", err)
	}
	assertForbidden(t, g.RequireHolds(ctx, "confer this", confer("iam.client.read on /clients", "owner on /", "iam.secret.read on /clients")),
		"The caller cannot confer this: that confers or removes what the caller does not hold itself: owner on /, iam.secret.read on /clients.")
	many := confer("banking.pis.read on /1", "banking.pis.read on /2", "banking.pis.read on /3", "banking.pis.read on /4",
		"banking.pis.read on /5", "banking.pis.read on /6", "banking.pis.read on /7")
	assertForbidden(t, g.RequireHolds(ctx, "confer", many), "banking.pis.read on /5 and 2 more.")
	// Inert policies (an action not in the catalog) confer nothing.
	if err := g.RequireHolds(ctx, "confer", confer("retired.thing on /")); err != nil {
		t.Fatalf("an inert policy: %v", err)
	}

	// Token rights: the caller is allowed services.iam, client_credentials,
	// the management audience and the deployment's lifetime.
	rights := func(change func(*policy.TokenRights)) policy.Grants {
		r := policy.TokenRights{OAuthScopes: []string{oauthscope.IAM}, GrantTypes: []string{client.GrantClientCredentials}}
		change(&r)
		return policy.Grants{TokenRights: r}
	}
	for _, c := range []struct {
		name   string
		change func(*policy.TokenRights)
		lacks  string
	}{
		{"same", func(*policy.TokenRights) {}, ""},
		{"the management audience named", func(r *policy.TokenRights) { r.Audiences = []string{e.ManagementAudience()} }, ""},
		{"shorter lifetime", func(r *policy.TokenRights) { r.Lifetime = time.Minute }, ""},
		{"scope", func(r *policy.TokenRights) { r.OAuthScopes = append(r.OAuthScopes, "api") }, "OAuth scope api"},
		{"grant type", func(r *policy.TokenRights) {
			r.GrantTypes = append(r.GrantTypes, client.GrantAuthorizationCode)
		}, "grant type authorization_code"},
		{"audience", func(r *policy.TokenRights) { r.Audiences = []string{"https://api.example.test"} }, "audience https://api.example.test"},
		{"claim", func(r *policy.TokenRights) { r.Claims = map[string]string{"role": "admin"} }, "token claim role=admin"},
		{"longer lifetime", func(r *policy.TokenRights) { r.Lifetime = 2 * time.Hour }, "token lifetime 2h0m0s"},
		{"redirect URI", func(r *policy.TokenRights) { r.RedirectURIs = []string{"https://app.example.test/cb"} }, "redirect URI https://app.example.test/cb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := g.RequireHolds(ctx, "confer", rights(c.change))
			if c.lacks == "" && err != nil {
				t.Fatalf("held: %v", err)
			}
			if c.lacks != "" {
				assertForbidden(t, err, c.lacks)
			}
		})
	}
	owner := principal(e, e.Owner())
	if err := g.RequireHolds(owner, "confer", many, rights(func(r *policy.TokenRights) { r.OAuthScopes = []string{"reconcile"} })); err != nil {
		t.Fatalf("owner on / holds everything: %v", err)
	}
}

// TestRequireHoldsSubject: acting on another subject (a credential for it,
// deleting it) needs everything it holds, its groups' policies and its
// token rights included; on itself, or on a subject that does not exist,
// nothing.
func TestRequireHoldsSubject(t *testing.T) {
	e := apitest.New(t)
	g := e.Deps.Guard()
	caller := e.Caller("iam.secret.create on /clients")
	ctx := principal(e, caller)
	target := e.Client(oauthscope.IAM, "reconcile")
	e.Grant(target.SubjectID(), "iam.client.read on /clients")
	e.Group([]string{"banking.consents.read on /x"}, target.SubjectID())
	assertForbidden(t, g.RequireHoldsSubject(ctx, "create a credential for "+target.SubjectID(), target.SubjectID()),
		"The caller cannot create a credential for "+target.SubjectID(), "iam.client.read on /clients", "banking.consents.read on /x", "OAuth scope reconcile")
	if err := g.RequireHoldsSubject(ctx, "act on itself", caller.SubjectID()); err != nil {
		t.Fatalf("on itself: %v", err)
	}
	if err := g.RequireHoldsSubject(ctx, "act", "client-00000000-0000-4000-8000-000000000000"); err != nil {
		t.Fatalf("on no one: %v", err)
	}
	peer := e.Caller("iam.secret.create on /clients")
	if err := g.RequireHoldsSubject(ctx, "act", peer.SubjectID()); err != nil {
		t.Fatalf("on a peer holding the same: %v", err)
	}
}

// TestRequireMayChange: a change that leaves every right as it was needs
// nothing; on itself a caller may only narrow; on another subject it must
// hold both what the subject holds before and after (taking rights away is
// as guarded as conferring them).
func TestRequireMayChange(t *testing.T) {
	e := apitest.New(t)
	g := e.Deps.Guard()
	caller := e.Caller("iam.client.update on /clients")
	ctx := principal(e, caller)
	rights := func(scopes ...string) policy.Grants {
		return policy.Grants{TokenRights: policy.TokenRights{OAuthScopes: scopes, GrantTypes: []string{client.GrantClientCredentials}}}
	}
	owner := rights(oauthscope.IAM, "api")
	owner.Direct = []policy.Policy{{Subject: "client-x", Action: "owner", Scope: "/"}}
	self, other := caller.SubjectID(), "client-x"
	for _, c := range []struct {
		name          string
		target        string
		before, after policy.Grants
		lacks         []string // nil: allowed
	}{
		{"no change to a stronger subject", other, owner, owner, nil},
		{"same rights, listed in another order", other, rights("api", oauthscope.IAM), rights(oauthscope.IAM, "api"), nil},
		{"narrow itself", self, rights(oauthscope.IAM), rights(), nil},
		{"widen itself", self, rights(oauthscope.IAM), rights(oauthscope.IAM, "api"), []string{"OAuth scope api"}},
		{"widen another", other, rights(oauthscope.IAM), rights(oauthscope.IAM, "api"), []string{"OAuth scope api"}},
		{"narrow a stronger one", other, rights(oauthscope.IAM, "api"), rights(oauthscope.IAM), []string{"OAuth scope api"}},
		{"narrow an owner", other, owner, rights(oauthscope.IAM, "api"), []string{"owner on /"}},
		{"change an owner's token rights only", other, owner, func() policy.Grants {
			o := owner
			o.Lifetime = time.Minute
			return o
		}(), []string{"owner on /"}},
		{"narrow a weaker one", other, rights(oauthscope.IAM), rights(), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := g.RequireMayChange(ctx, "change "+c.target, c.target, c.before, c.after)
			if c.lacks == nil && err != nil {
				t.Fatalf("allowed change refused: %v", err)
			}
			if c.lacks != nil {
				assertForbidden(t, err, append([]string{"The caller cannot change " + c.target}, c.lacks...)...)
			}
		})
	}
}
