package clientsapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/apitest"
	"github.com/machine-iam/machine-iam/shared/endpoints/clientsapi"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// bodyOf is the replace body that leaves c as it is.
func bodyOf(c client.Client) map[string]any {
	b := body(c.Name, c.Scopes...)
	b["description"], b["allowedGrantTypes"], b["redirectUris"] = c.Description, c.GrantTypes, c.RedirectURIs
	if c.Audiences != nil {
		b["allowedAudiences"] = c.Audiences
	}
	if c.TokenClaims != nil {
		b["tokenClaims"] = c.TokenClaims
	}
	if c.TokenLifetime != 0 {
		b["accessTokenLifetime"] = int(c.TokenLifetime / time.Second)
	}
	return b
}

// unchanged fails the test unless the stored client is still want.
func unchanged(t *testing.T, e *apitest.Env, want client.Client) {
	t.Helper()
	got := e.GetClient(want.ID)
	if got.Version != want.Version || got.Name != want.Name || !slices.Equal(got.Scopes, want.Scopes) ||
		!slices.Equal(got.GrantTypes, want.GrantTypes) || !slices.Equal(got.Audiences, want.Audiences) ||
		len(got.TokenClaims) != len(want.TokenClaims) || got.TokenLifetime != want.TokenLifetime {
		t.Errorf("a refused replace changed the client:\n got %+v\nwant %+v", got, want)
	}
}

// TestReplaceNoEscalation: a caller allowed only iam.client.update changes
// a rights-bearing field (scopes, audiences, claims, lifetime, grant types,
// redirect URIs) only within what it holds itself, both before and after
// the change; a neutral field (name, description) of any client; on itself
// it may only narrow. Each refusal is a 403 naming what it lacks, and the
// client stays as it was.
func TestReplaceNoEscalation(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	caller := e.Caller("iam.client.update on /clients")
	tok := e.Token(caller)

	t.Run("every rights-bearing field of a peer", func(t *testing.T) {
		// The peer holds what the caller holds: services.iam,
		// client_credentials, the management audience.
		for _, c := range []struct {
			field string
			value any
			lacks []string
		}{
			{"allowedScopes", []string{oauthscope.IAM, "api"}, []string{"OAuth scope api"}},
			{"allowedAudiences", []string{"https://api.example.test"}, []string{"audience https://api.example.test"}},
			{"tokenClaims", map[string]string{"role": "admin"}, []string{"token claim role=admin"}},
			{"accessTokenLifetime", 7200, []string{"token lifetime 2h0m0s"}},
			{"allowedGrantTypes", []string{client.GrantClientCredentials, client.GrantAuthorizationCode}, []string{"grant type authorization_code", "redirect URI https://app.example.test/cb"}},
		} {
			t.Run(c.field, func(t *testing.T) {
				peer := e.Client(oauthscope.IAM)
				b := with(bodyOf(peer), c.field, c.value)
				if c.field == "allowedGrantTypes" {
					b["redirectUris"] = []string{"https://app.example.test/cb"}
				}
				apitest.Do(t, h, http.MethodPut, "/v1/clients/"+peer.ID, tok, b).Forbidden(c.lacks...)
				unchanged(t, e, peer)
			})
		}
	})

	t.Run("removing what the caller lacks", func(t *testing.T) {
		rich := e.Client(oauthscope.IAM, "bankservice")
		apitest.Do(t, h, http.MethodPut, "/v1/clients/"+rich.ID, tok, with(bodyOf(rich), "allowedScopes", []string{oauthscope.IAM})).Forbidden("OAuth scope bankservice")
		unchanged(t, e, rich)
		// Narrowing a client that holds less than the caller is fine.
		weak := e.Client(oauthscope.IAM)
		apitest.Do(t, h, http.MethodPut, "/v1/clients/"+weak.ID, tok, with(bodyOf(weak), "allowedScopes", []string{})).JSON(http.StatusOK, &clientJSON{})
	})

	t.Run("a stronger client", func(t *testing.T) {
		strong := e.Caller("owner on /")
		for field, value := range map[string]any{
			"tokenClaims":         map[string]string{"tier": "gold"},
			"accessTokenLifetime": 600, // shorter: it still changes what an owner holds
			"allowedScopes":       []string{},
		} {
			apitest.Do(t, h, http.MethodPut, "/v1/clients/"+strong.ID, tok, with(bodyOf(strong), field, value)).Forbidden("owner on /")
		}
		unchanged(t, e, strong)
		var got clientJSON
		r := apitest.Do(t, h, http.MethodPut, "/v1/clients/"+strong.ID, tok, with(with(bodyOf(strong), "name", "renamed"), "description", "by an updater"))
		r.JSON(http.StatusOK, &got)
		if got.Name != "renamed" || r.Header().Get("ETag") != `"2"` {
			t.Errorf("a neutral change: %+v, ETag %q", got, r.Header().Get("ETag"))
		}
	})

	t.Run("naming the management audience confers nothing", func(t *testing.T) {
		peer := e.Client(oauthscope.IAM)
		var got clientJSON
		apitest.Do(t, h, http.MethodPut, "/v1/clients/"+peer.ID, tok, with(bodyOf(peer), "allowedAudiences", []string{e.ManagementAudience()})).JSON(http.StatusOK, &got)
		if !slices.Equal(got.AllowedAudiences, []string{e.ManagementAudience()}) {
			t.Errorf("audiences %v", got.AllowedAudiences)
		}
	})

	t.Run("itself", func(t *testing.T) {
		self := e.Caller("iam.client.update on /clients")
		tok := e.Token(self)
		apitest.Do(t, h, http.MethodPut, "/v1/clients/"+self.ID, tok, with(bodyOf(self), "allowedScopes", []string{oauthscope.IAM, "api"})).Forbidden("OAuth scope api")
		apitest.Do(t, h, http.MethodPut, "/v1/clients/"+self.ID, tok, with(bodyOf(self), "tokenClaims", map[string]string{"role": "admin"})).Forbidden("token claim role=admin")
		unchanged(t, e, self)
		var got clientJSON
		apitest.Do(t, h, http.MethodPut, "/v1/clients/"+self.ID, tok, with(bodyOf(self), "accessTokenLifetime", 600)).JSON(http.StatusOK, &got)
		if got.AccessTokenLifetime != 600 {
			t.Errorf("narrowing itself: %+v", got)
		}
	})
}

// TestOwnerKeepsManagement: a client holding owner on / by a policy of its
// own keeps what it needs to use the management API (services.iam,
// client_credentials, the management audience): a replace that takes any
// away is a 409 last-owner problem, even by itself or by another owner, and
// changes nothing. A client that is not such an owner may lose them; the
// tenant's only owner cannot be deleted.
func TestOwnerKeepsManagement(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	owner := e.Owner()
	other := e.Owner()
	for _, c := range []struct {
		name  string
		field string
		value any
	}{
		{"without services.iam", "allowedScopes", []string{"api"}},
		{"without client_credentials", "allowedGrantTypes", []string{client.GrantAuthorizationCode}},
		{"tokens for another audience", "allowedAudiences", []string{"https://api.example.test"}},
	} {
		for _, by := range []struct {
			name   string
			caller client.Client
		}{{"itself", owner}, {"another owner", other}} {
			t.Run(c.name+" by "+by.name, func(t *testing.T) {
				b := with(bodyOf(owner), c.field, c.value)
				if c.field == "allowedGrantTypes" {
					b["redirectUris"] = []string{"https://app.example.test/cb"}
				}
				p := apitest.Do(t, h, http.MethodPut, "/v1/clients/"+owner.ID, e.Token(by.caller), b).Problem(http.StatusConflict, httpapi.TypeLastOwner)
				if !strings.Contains(p.Detail, owner.SubjectID()+" holds owner on /") {
					t.Errorf("detail %q", p.Detail)
				}
				unchanged(t, e, owner)
			})
		}
	}
	// Adding to what an owner holds is fine.
	apitest.Do(t, h, http.MethodPut, "/v1/clients/"+owner.ID, e.Token(other), with(bodyOf(owner), "allowedScopes", []string{oauthscope.IAM, "api"})).JSON(http.StatusOK, &clientJSON{})

	// Owner through a group, or of less than /: not such an owner.
	viaGroup := e.Caller()
	e.Group([]string{"owner on /"}, viaGroup.SubjectID())
	apitest.Do(t, h, http.MethodPut, "/v1/clients/"+viaGroup.ID, e.Token(other), with(bodyOf(viaGroup), "allowedScopes", []string{})).JSON(http.StatusOK, &clientJSON{})
	partial := e.Caller("owner on /clients")
	apitest.Do(t, h, http.MethodPut, "/v1/clients/"+partial.ID, e.Token(other), with(bodyOf(partial), "allowedScopes", []string{})).JSON(http.StatusOK, &clientJSON{})

	// Deleting: one owner may go, the last may not.
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+other.ID, e.Token(other), nil); r.Code != http.StatusNoContent {
		t.Fatalf("deleting one of two owners: %d %s", r.Code, r.Body)
	}
	apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+owner.ID, e.Token(owner), nil).Problem(http.StatusConflict, httpapi.TypeLastOwner)
	e.GetClient(owner.ID)
}

// TestDeleteNeedsAllTheTargetHolds: deleting another client takes away
// all it holds: a 403 naming what the caller lacks, and the client stays.
func TestDeleteNeedsAllTheTargetHolds(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	tok := e.Token(e.Caller("iam.client.delete on /clients"))
	target := e.Client(oauthscope.IAM, "reconcile")
	e.Grant(target.SubjectID(), "iam.policy.read on /")
	apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+target.ID, tok, nil).Forbidden("iam.policy.read on /", "OAuth scope reconcile")
	apitest.Do(t, h, http.MethodPost, "/v1/clients/"+target.ID+"/revoke-tokens", e.Token(e.Caller("iam.token.revoke on /clients")), nil).Forbidden("iam.policy.read on /")
	if got := e.GetClient(target.ID); !got.TokensRevokedAt.IsZero() {
		t.Errorf("refused kill switch revoked the tokens: %+v", got)
	}
	peer := e.Client(oauthscope.IAM)
	if r := apitest.Do(t, h, http.MethodDelete, "/v1/clients/"+peer.ID, tok, nil); r.Code != http.StatusNoContent {
		t.Fatalf("deleting a client that holds no more than the caller: %d %s", r.Code, r.Body)
	}
}

// TestConditionalReplace: If-Match naming the stored version (its ETag)
// writes and answers the next; naming another version is a 412 that writes
// nothing; a malformed If-Match is a 400 naming the header, never an
// unconditional write; without If-Match the last writer wins.
func TestConditionalReplace(t *testing.T) {
	e := apitest.New(t)
	h := clientsapi.New(e.Deps)
	tok := e.Token(e.Owner())
	c := e.Client(oauthscope.IAM)
	put := func(name string, ifMatch ...string) apitest.Response {
		t.Helper()
		var headers []string
		for _, v := range ifMatch {
			headers = append(headers, "If-Match", v)
		}
		return apitest.Do(t, h, http.MethodPut, "/v1/clients/"+c.ID, tok, with(bodyOf(c), "name", name), headers...)
	}
	etag := func(r apitest.Response, want string) {
		t.Helper()
		r.JSON(http.StatusOK, &clientJSON{})
		if got := r.Header().Get("ETag"); got != want {
			t.Fatalf("ETag %q, want %q", got, want)
		}
	}
	etag(put("first", `"1"`), `"2"`)
	p := put("stale", `"1"`).Problem(http.StatusPreconditionFailed, httpapi.TypePreconditionFailed)
	if p.Detail != "The client has changed since the version named in If-Match." {
		t.Errorf("detail %q", p.Detail)
	}
	put("weak", `W/"2"`).Problem(http.StatusPreconditionFailed, httpapi.TypePreconditionFailed)
	put("malformed", "2").Invalid("If-Match")
	if got := e.GetClient(c.ID); got.Name != "first" || got.Version != 2 {
		t.Fatalf("a refused conditional replace wrote: %+v", got)
	}
	etag(put("listed", `"7", "2"`), `"3"`)
	etag(put("any", "*"), `"4"`)
	etag(put("unconditional"), `"5"`)
	etag(put("last writer"), `"6"`)
	if got := e.GetClient(c.ID); got.Name != "last writer" {
		t.Errorf("stored name %q", got.Name)
	}
	r := apitest.Do(t, h, http.MethodGet, "/v1/clients/"+c.ID, tok, nil)
	if r.Code != http.StatusOK || r.Header().Get("ETag") != `"6"` {
		t.Errorf("GET: %d ETag %q", r.Code, r.Header().Get("ETag"))
	}
}
