// Package tokenapi is the http.Handler of the token function: the RFC 6749
// §4.4 token endpoint (client_credentials, client_secret_basic and
// client_secret_post), the discovery document (RFC 8414 / OpenID Connect
// Discovery) and the JWKS (RFC 7517).
package tokenapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// MaxBodyBytes bounds a token request body; real ones are a few hundred bytes.
const MaxBodyBytes = 16 << 10

// CredentialStore is the storage client authentication reads and writes, and
// introspection and revocation use.
type CredentialStore interface {
	store.Credentials
	store.Assertions
	store.Revocations
	Grants(ctx context.Context, tenant, subjectID string) (policy.Grants, error)
}

// Service is what the token function needs.
type Service struct {
	Credentials CredentialStore
	Tenants     store.Tenants
	Secrets     *secret.Verifier
	// Tags tags presented secrets (nil: no tag key, every secret is
	// verified).
	Tags   *secret.Tagger
	Minter *token.Minter
	Keys   signer.KeySet
	// Catalogs say which scopes exist in a tenant: a client's
	// allowedScopes that name no API's scope are inert.
	Catalogs   *access.Catalogs
	IssuerBase func(*http.Request) string
	Lockout    lockout.Limits
	// Reuse, when set, hands out still-fresh tokens again instead of
	// signing new ones (see token.Reuse).
	Reuse *token.Reuse
	// Verifier checks the tokens presented for introspection and
	// revocation.
	Verifier *token.Verifier
	// MaxLifetime caps a client's own token lifetime.
	MaxLifetime time.Duration
	// MaxAssertionLifetime bounds how far ahead a client assertion's exp
	// may be (0: clientkey.DefaultMaxAssertionLifetime).
	MaxAssertionLifetime time.Duration
	// Uses keeps each credential's last use; nil keeps none.
	Uses store.Uses
	// Federation, when set, accepts federated credentials, read and
	// counted in FederationStore.
	Federation      *Federation
	FederationStore FederationStore
	Now             func() time.Time
}

// New is the handler of the token function.
func New(d *app.Deps) *app.Handler {
	s := &Service{
		Credentials: d.Store, Tenants: d.Store, Secrets: d.Verifier, Tags: d.Tags,
		Minter: &token.Minter{Signer: d.Signer, Lifetime: d.Config.TokenLifetime, Now: d.Now},
		Keys:   d.Signer, Catalogs: d.Catalogs, IssuerBase: d.IssuerBase, Lockout: d.Config.Lockout, Now: d.Now,
		// The authority on its own tokens allows no leeway (RFC 7662 §2.2).
		Verifier:    &token.Verifier{Keys: d.Signer, Now: d.Now},
		MaxLifetime: d.Config.MaxTokenLifetime, MaxAssertionLifetime: d.Config.MaxAssertionLifetime,
		Uses: d.Store,
		Federation: NewFederation(d.Config.Federation.AllowLocalIssuers, d.Config.Federation.MaxTokenLifetime,
			d.Config.Federation.STSEndpoints, d.Now),
		FederationStore: d.Store,
	}
	if p := d.Config.TokenReusePercent; p > 0 {
		s.Reuse = &token.Reuse{MinRemaining: float64(p) / 100, Max: 10_000}
	}
	return d.Instrument(s.Handler())
}

// Handler returns the function's routes.
func (s *Service) Handler() *httpapi.Router {
	rt := httpapi.NewRouter()
	tok := httpapi.Methods{http.MethodPost: endpoint("token.issue", s.issue)}
	disc := httpapi.Methods{http.MethodGet: httpapi.Handle(s.discovery)}
	rt.Route("/connect/token", tok)
	rt.Route("/{tenant}/connect/token", tok)
	rt.Route("/.well-known/openid-configuration", disc)
	rt.Route("/{tenant}/.well-known/openid-configuration", disc)
	rt.Route("/.well-known/jwks.json", httpapi.Methods{http.MethodGet: httpapi.Handle(s.jwks)})
	introspect := httpapi.Methods{http.MethodPost: endpoint("token.introspect", s.introspection)}
	rt.Route("/connect/introspect", introspect)
	rt.Route("/{tenant}/connect/introspect", introspect)
	revoke := httpapi.Methods{http.MethodPost: endpoint("token.revoke", s.revocation)}
	rt.Route("/connect/revocation", revoke)
	rt.Route("/{tenant}/connect/revocation", revoke)
	return rt
}

// errNoTenant answers a path naming no tenant.
var errNoTenant = httpapi.NotFound("No tenant of that name.")

// pathTenant returns the tenant a path names, the default one when it names
// none, and false for a malformed or reserved name (no tenant has one).
func pathTenant(r *http.Request) (string, bool) {
	t := r.PathValue("tenant")
	if t == "" {
		return tenant.Default, true
	}
	return t, tenant.Valid(t) && !tenant.Reserved(t)
}

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// endpoint serves one OAuth endpoint of a tenant (token, introspection,
// revocation): every request is audited as action, refused ones included
// (the client id is added once it is known); a malformed tenant is a 404
// problem; an error is written in the RFC 6749 form, a response as
// no-store JSON, and no response as an empty 200.
func endpoint[R any](action string, serve func(r *http.Request, ten string) (*R, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		audit.Note(r.Context(), action, "")
		ten, ok := pathTenant(r)
		if !ok {
			httpapi.WriteProblem(w, r, errNoTenant)
			return
		}
		audit.NoteCaller(r.Context(), ten, "")
		resp, err := serve(r, ten)
		switch {
		case err != nil:
			httpapi.WriteOAuthError(w, r, err)
		case resp == nil:
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
		default:
			httpapi.WriteTokenJSON(w, resp)
		}
	}
}

// errNoClientAuthentication: the request uses no client authentication
// method at all (a client_id alone is none).
var errNoClientAuthentication = errors.New("no client authentication")

var errAuthFailed = errors.New("client authentication failed")

// authMethods are the client authentication methods of every endpoint.
var authMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
