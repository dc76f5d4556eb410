package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/machine-iam/machine-iam/shared/oauth/token"
)

// TestStandardLibrariesInterop gets tokens with golang.org/x/oauth2's
// client-credentials flow (both authentication styles) and verifies them with
// go-oidc through the discovery document and the JWKS, for the default tenant
// and another one.
func TestStandardLibrariesInterop(t *testing.T) {
	ctx := oidc.ClientContext(context.Background(), env.http)
	_, other := newTenantAdmin(t, "interop")
	admin := adminToken(t)
	id, value := newClient(t, admin, "interop", "api", "services.banking")

	for _, c := range []struct {
		name, issuer, clientID, secret string
		scopes                         []string
		style                          oauth2.AuthStyle
		wantScope                      string
	}{
		{"default tenant, basic", env.base, id, value, []string{"api"}, oauth2.AuthStyleInHeader, "api"},
		{"default tenant, post", env.base, id, value, nil, oauth2.AuthStyleInParams, "api services.banking"},
		{"other tenant", other.Issuer, other.ClientID, other.ClientSecret, []string{"services.iam"}, oauth2.AuthStyleInHeader, "services.iam"},
	} {
		t.Run(c.name, func(t *testing.T) {
			provider, err := oidc.NewProvider(ctx, c.issuer)
			if err != nil {
				t.Fatal(err)
			}
			if provider.Endpoint().TokenURL != c.issuer+"/connect/token" {
				t.Errorf("token endpoint %q", provider.Endpoint().TokenURL)
			}
			cfg := clientcredentials.Config{ClientID: c.clientID, ClientSecret: c.secret, TokenURL: provider.Endpoint().TokenURL,
				Scopes: c.scopes, AuthStyle: c.style}
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Errorf("token = %+v", tok)
			}
			verified, err := provider.Verifier(&oidc.Config{ClientID: token.Audience(c.issuer)}).Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			var claims token.Claims
			if err := verified.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.ClientID != c.clientID || claims.Subject != "client-"+c.clientID || claims.Scope != c.wantScope ||
				claims.Issuer != c.issuer || claims.ID == "" || claims.Expiry-claims.IssuedAt != 3600 {
				t.Errorf("claims = %+v", claims)
			}
			if !strings.HasPrefix(c.issuer, env.base) || claims.Tenant != strings.TrimPrefix(strings.TrimPrefix(c.issuer, env.base), "/") && claims.Tenant != "default" {
				t.Errorf("tid = %q for issuer %q", claims.Tenant, c.issuer)
			}
		})
	}

	t.Run("a token of one tenant does not verify as another's", func(t *testing.T) {
		provider, err := oidc.NewProvider(ctx, other.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		_, err = provider.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(ctx, admin)
		if err == nil {
			t.Fatal("the default tenant's token verified under another issuer")
		}
	})

	t.Run("discovery of an unknown tenant", func(t *testing.T) {
		assertProblem(t, send(t, http.MethodGet, "/no-such-tenant/.well-known/openid-configuration", "", nil), http.StatusNotFound)
	})
}
