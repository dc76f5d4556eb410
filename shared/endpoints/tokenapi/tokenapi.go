// Package tokenapi is the http.Handler of the token function: the RFC 6749
// §4.4 token endpoint (client_credentials, client_secret_basic and
// client_secret_post), the discovery document (RFC 8414 / OpenID Connect
// Discovery) and the JWKS (RFC 7517).
package tokenapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
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

// Credentials is the storage client authentication reads and writes, and
// introspection and revocation use.
type Credentials interface {
	store.Credentials
	store.Assertions
	store.Revocations
	Grants(ctx context.Context, tenant, subjectID string) (policy.Grants, error)
}

// Service is what the token function needs.
type Service struct {
	Credentials Credentials
	Tenants     store.Tenants
	Secrets     *secret.Verifier
	Minter      *token.Minter
	Keys        signer.KeySet
	Scopes      *oauthscope.Catalog
	IssuerBase  func(*http.Request) string
	Lockout     lockout.Policy
	// Reuse, when set, hands out still-fresh tokens again instead of
	// signing new ones (see token.Reuse).
	Reuse *token.Reuse
	// Verifier checks the tokens presented for introspection and
	// revocation; Actions decides who may introspect.
	Verifier *token.Verifier
	Actions  *action.Catalog
	// MaxLifetime caps a client's own token lifetime.
	MaxLifetime time.Duration
	// MaxAssertionLifetime bounds how far ahead a client assertion's exp
	// may be (0: clientkey.DefaultMaxAssertionLifetime).
	MaxAssertionLifetime time.Duration
	Now                  func() time.Time
}

// New is the handler of the token function.
func New(d *app.Deps) *app.Handler {
	s := &Service{
		Credentials: d.Store, Tenants: d.Store, Secrets: d.Verifier,
		Minter: &token.Minter{Signer: d.Signer, Lifetime: d.Config.TokenLifetime, Now: d.Now},
		Keys:   d.Signer, Scopes: d.Scopes, IssuerBase: d.IssuerBase, Lockout: d.Config.Lockout, Now: d.Now,
		// The authority on its own tokens allows no leeway (RFC 7662 §2.2).
		Verifier: &token.Verifier{Keys: d.Signer, Now: d.Now}, Actions: d.Actions,
		MaxLifetime: d.Config.MaxTokenLifetime, MaxAssertionLifetime: d.Config.MaxAssertionLifetime,
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

func (s *Service) issue(r *http.Request, ten string) (*tokenResponse, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	switch gt := form.Get("grant_type"); {
	case gt == "":
		return nil, httpapi.InvalidRequest("grant_type is required.")
	case gt != client.GrantClientCredentials:
		return nil, &httpapi.OAuthError{Code: httpapi.CodeUnsupportedGrantType,
			Description: "Only client_credentials is supported.", Status: http.StatusBadRequest}
	}
	c, err := s.authenticateClient(r, ten, form, "token.issue")
	if err != nil {
		return nil, err
	}
	realm := tenant.Issuer(s.IssuerBase(r), ten)
	if !c.AllowsGrant(client.GrantClientCredentials) {
		return nil, &httpapi.OAuthError{Code: httpapi.CodeUnauthorizedClient,
			Description: "The client may not use client_credentials.", Status: http.StatusBadRequest}
	}
	scopes, err := s.grantedScopes(c.Client, form)
	if err != nil {
		return nil, err
	}
	audiences, err := grantedAudiences(c.Client, form)
	if err != nil {
		return nil, err
	}
	lifetime := c.TokenLifetime
	if s.MaxLifetime != 0 && lifetime > s.MaxLifetime {
		// The deployment's maximum was lowered after the client was set.
		lifetime = s.MaxLifetime
	}
	grant := token.Grant{Issuer: realm, Tenant: ten, Subject: c.SubjectID(), ClientID: c.ID, Scopes: scopes,
		Audiences: audiences, Lifetime: lifetime, Claims: c.TokenClaims}
	now := s.Now()
	state := c.revocationState()
	if s.Reuse != nil {
		// Only while the client's revocation state is unchanged since it
		// was minted (no revocation, by RFC 7009 or the kill switch, since),
		// and never a token the kill switch covers.
		if raw, claims, ok := s.Reuse.Get(grant, state, now); ok && time.Unix(claims.IssuedAt, 0).After(c.TokensRevokedAt) {
			return &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - now.Unix(), Scope: claims.Scope}, nil
		}
	}
	raw, claims, err := s.Minter.Mint(r.Context(), grant)
	if err != nil {
		return nil, err
	}
	if s.Reuse != nil {
		s.Reuse.Put(grant, state, raw, claims, now)
	}
	return &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - claims.IssuedAt, Scope: claims.Scope}, nil
}

// authenticateClient authenticates the request's client in tenant ten, by
// whichever one method it uses, for the audited action; every failure is
// invalid_client (or a 429 of the throttle).
func (s *Service) authenticateClient(r *http.Request, ten string, form url.Values, action string) (caller, error) {
	realm := tenant.Issuer(s.IssuerBase(r), ten)
	creds, err := clientCredentials(r, form)
	if errors.Is(err, errNoClientAuthentication) {
		// RFC 6749 §5.2: no client authentication is invalid_client; the
		// challenge names the scheme this endpoint takes (RFC 9110 §11.6.1).
		e := httpapi.InvalidClient(true, realm)
		e.Description = "Client authentication is required (client_secret_basic, client_secret_post or private_key_jwt)."
		return caller{}, e
	}
	if err != nil {
		return caller{}, err
	}
	// Only a well-formed id is logged: a malformed one may be anything,
	// even a secret pasted into the wrong field.
	audit.Note(r.Context(), action, lockout.Key(creds.id))
	authenticate := s.authenticate
	if creds.jwt {
		authenticate = func(ctx context.Context, ten, address string, cr credentials) (caller, error) {
			return s.authenticateAssertion(ctx, ten, address, cr, []string{realm, tenant.TokenEndpoint(realm)})
		}
	}
	c, err := authenticate(r.Context(), ten, lockout.Address(r.RemoteAddr), creds)
	if errors.Is(err, errAuthFailed) {
		return caller{}, httpapi.InvalidClient(creds.basic, realm)
	}
	if err != nil {
		return caller{}, err
	}
	audit.NoteCaller(r.Context(), ten, c.SubjectID())
	return c, nil
}

// readForm reads the form body. RFC 6749 §3.2 forbids repeated parameters;
// parameters in the query string are ignored, as credentials there would
// leak into logs.
func readForm(r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, httpapi.InvalidRequest("The body must be application/x-www-form-urlencoded.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, httpapi.InvalidRequest("The request body could not be read.")
	}
	if len(body) > MaxBodyBytes {
		return nil, &httpapi.OAuthError{Code: httpapi.CodeInvalidRequest, Status: http.StatusRequestEntityTooLarge,
			Description: "The request body is too large."}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, httpapi.InvalidRequest("The body is not a valid form encoding.")
	}
	for name, vs := range form {
		// RFC 8707 §2: resource may be repeated, one target each.
		if len(vs) > 1 && name != "resource" {
			return nil, httpapi.InvalidRequest("Parameter " + strings.ToValidUTF8(name, "?") + " is repeated.")
		}
	}
	return form, nil
}

// errNoClientAuthentication: the request uses no client authentication
// method at all (a client_id alone is none).
var errNoClientAuthentication = errors.New("no client authentication")

type credentials struct {
	id string
	// secrets holds the presented secret, and for Basic also its raw form
	// when that differs (see clientCredentials).
	secrets []string
	basic   bool
	// jwt is set for private_key_jwt; assertion is nil when it could not
	// even be parsed.
	jwt       bool
	assertion *clientkey.Assertion
}

// clientCredentials extracts exactly one client authentication: HTTP Basic
// (RFC 6749 §2.3.1: id and secret are form-url-encoded before base64),
// client_id and client_secret in the body, or a client assertion (RFC 7523,
// private_key_jwt).
func clientCredentials(r *http.Request, form url.Values) (credentials, error) {
	_, inBody := form["client_secret"]
	auth := r.Header.Get("Authorization")
	_, assertionType := form["client_assertion_type"]
	_, assertion := form["client_assertion"]
	if assertionType || assertion {
		switch {
		case inBody || auth != "":
			return credentials{}, httpapi.InvalidRequest("Use one client authentication method, not both.")
		case form.Get("client_assertion_type") != clientkey.AssertionType:
			return credentials{}, httpapi.InvalidRequest("client_assertion_type must be " + clientkey.AssertionType + ".")
		case form.Get("client_assertion") == "":
			return credentials{}, httpapi.InvalidRequest("client_assertion is required with client_assertion_type.")
		}
		cr := credentials{id: form.Get("client_id"), jwt: true}
		if a, err := clientkey.ParseAssertion(form.Get("client_assertion")); err == nil {
			if cr.id == "" {
				cr.id = a.ClientID()
			}
			if cr.id == a.ClientID() {
				cr.assertion = a
			}
		}
		return cr, nil
	}
	if auth == "" {
		if !inBody {
			return credentials{}, errNoClientAuthentication
		}
		if form.Get("client_id") == "" {
			return credentials{}, httpapi.InvalidRequest("client_id is required with client_secret.")
		}
		return credentials{id: form.Get("client_id"), secrets: []string{form.Get("client_secret")}}, nil
	}
	scheme, payload, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return credentials{}, httpapi.InvalidRequest("Only the Basic authorization scheme is accepted.")
	}
	if inBody {
		return credentials{}, httpapi.InvalidRequest("Use one client authentication method, not both.")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return credentials{}, httpapi.InvalidRequest("The Basic credentials are not valid base64.")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return credentials{}, httpapi.InvalidRequest("The Basic credentials must be client_id:client_secret.")
	}
	// RFC 6749 §2.3.1 has clients form-url-encode both parts, but many
	// HTTP libraries send them raw. A secret is tried decoded and, when
	// that differs (a "+" or "%" in it), as sent; unknown clients get the
	// same number of tries, so the work still says nothing.
	cid, err := url.QueryUnescape(rawID)
	if err != nil {
		cid = rawID
	}
	if cid == "" {
		return credentials{}, httpapi.InvalidRequest("The Basic credentials have no client_id.")
	}
	secrets := []string{rawSecret}
	if decoded, err := url.QueryUnescape(rawSecret); err == nil && decoded != rawSecret {
		secrets = []string{decoded, rawSecret}
	}
	if bodyID := form.Get("client_id"); bodyID != "" && bodyID != cid {
		return credentials{}, httpapi.InvalidRequest("client_id in the body differs from the Basic credentials.")
	}
	return credentials{id: cid, secrets: secrets, basic: true}, nil
}

var errAuthFailed = errors.New("client authentication failed")

// authenticate checks the credentials with one storage read. An address
// that spent its attempts in this window gets 429 for anything. A secret
// this process verified before is accepted without hash work or any write.
// Anything else is counted before it is checked (one conditional write per
// client id and caller address, refused past the lockout's limits, so
// concurrent guesses cannot overrun them; one attempt per form of the
// secret tried), then checked with the same hash work whether the client
// exists or not; a success gives its count back. Every refusal is
// errAuthFailed or a 429, alike for known and unknown client ids.
func (s *Service) authenticate(ctx context.Context, ten, address string, cr credentials) (caller, error) {
	a, rec, err := s.attempt(ctx, ten, address, cr.id)
	if err != nil {
		return caller{}, err
	}
	key, now, window, end := a.key, a.now, a.window, a.end
	if rec.Client != nil {
		for _, presented := range cr.secrets {
			if _, ok := s.Secrets.MatchWarm(rec.Secrets, presented, now); ok {
				return authenticated(rec), nil
			}
		}
	}
	// Counted before any hash work; kept for 1 h past the window, so a
	// slow give-back still finds it.
	attempts := min(len(cr.secrets), s.Lockout.Threshold)
	err = s.Credentials.CountAttempt(ctx, ten, key, address, attempts, window, s.Lockout, end.Add(time.Hour))
	switch {
	case errors.Is(err, store.ErrLimitExceeded):
		return caller{}, throttled(now, end)
	case err != nil:
		return caller{}, err
	}
	matched := false
	for _, presented := range cr.secrets {
		if _, matched = s.Secrets.Match(rec.Secrets, presented, now); matched {
			break
		}
	}
	if !matched || rec.Client == nil {
		return caller{}, errAuthFailed
	}
	if err := s.Credentials.UncountAttempt(ctx, ten, key, address, attempts, window); err != nil {
		// The client is in; only its address keeps its attempts spent.
		slog.WarnContext(ctx, "successful authentication not uncounted", "error", err.Error())
	}
	return authenticated(rec), nil
}

// authenticateAssertion checks a private_key_jwt client assertion with one
// storage read (the client, its keys, the attempt count) and, on success,
// one conditional write that makes its jti single-use. A signature check
// is cheap and not a guess of anything, so a failure is counted after it
// (one write), not before; an address past its threshold gets 429 first.
// Every failure is errAuthFailed after the same work, known client or not.
func (s *Service) authenticateAssertion(ctx context.Context, ten, address string, cr credentials, audiences []string) (caller, error) {
	a, rec, err := s.attempt(ctx, ten, address, cr.id)
	if err != nil {
		return caller{}, err
	}
	key, now, window, end := a.key, a.now, a.window, a.end
	fail := func(why error) (caller, error) {
		slog.InfoContext(ctx, "client assertion refused", "reason", why.Error())
		err := s.Credentials.CountAttempt(ctx, ten, key, address, 1, window, s.Lockout, end.Add(time.Hour))
		if errors.Is(err, store.ErrLimitExceeded) {
			return caller{}, throttled(now, end)
		}
		return caller{}, errAuthFailed
	}
	if cr.assertion == nil {
		return fail(errors.New("unparsable, or client_id differs from iss"))
	}
	maxLifetime := s.MaxAssertionLifetime
	if maxLifetime == 0 {
		maxLifetime = clientkey.DefaultMaxAssertionLifetime
	}
	// The jti is kept until the assertion expires (v.Expiry), however far
	// ahead within maxLifetime that is.
	v, err := cr.assertion.Verify(rec.Keys, audiences, now, maxLifetime)
	if err == nil && rec.Client == nil {
		err = errors.New("no such client")
	}
	if err != nil {
		return fail(err)
	}
	switch err := s.Credentials.UseAssertion(ctx, ten, cr.id, v.JTI, v.Expiry, now); {
	case errors.Is(err, store.ErrConflict):
		return fail(errors.New("jti used before"))
	case err != nil:
		return caller{}, err
	}
	return authenticated(rec), nil
}

// caller is an authenticated client with the revocation state read with
// it.
type caller struct {
	client.Client
	revocations int64
}

// authenticated is the caller rec holds; rec.Client is not nil.
func authenticated(rec store.CredentialRecord) caller {
	return caller{Client: *rec.Client, revocations: rec.Revocations}
}

// revocationState is what token reuse compares: a remembered token is
// handed out again only while the client's kill switch and the count of
// its revoked tokens are what they were when it was minted.
func (c caller) revocationState() string {
	return strconv.FormatInt(c.TokensRevokedAt.Unix(), 10) + "/" + strconv.FormatInt(c.revocations, 10)
}

// attemptWindow is where an authentication attempt is counted.
type attemptWindow struct {
	key              string // the lockout key of the presented client id
	now, window, end time.Time
}

// attempt reads, in the one storage read of an authentication, the
// credentials of the presented client id and the attempts counted in the
// current window; an address that spent its attempts gets its 429 here.
func (s *Service) attempt(ctx context.Context, ten, address, clientID string) (attemptWindow, store.CredentialRecord, error) {
	a := attemptWindow{key: lockout.Key(clientID), now: s.Now()}
	a.window, a.end = s.Lockout.WindowAt(a.now)
	rec, err := s.Credentials.GetCredentials(ctx, ten, a.key, address, a.window)
	if err != nil {
		return a, rec, err
	}
	if s.Lockout.AddressExhausted(rec.Attempts) {
		return a, rec, throttled(a.now, a.end)
	}
	return a, rec, nil
}

// throttled is the 429 of a client id and address past the lockout.
func throttled(now, end time.Time) error {
	seconds := int(math.Ceil(end.Sub(now).Seconds()))
	return &httpapi.OAuthError{Code: httpapi.CodeTemporarilyUnavailable, Status: http.StatusTooManyRequests,
		Description: "Too many failed authentications for this client; retry later.",
		Header:      http.Header{"Retry-After": {strconv.Itoa(max(1, seconds))}}}
}

// grantedAudiences applies RFC 8707: the requested resources, each of
// which must be an absolute URI the client may ask for; or, when none is
// requested, the client's allowed audiences; or none, for the deployment's
// default (the service's own API).
func grantedAudiences(c client.Client, form url.Values) ([]string, error) {
	requested := form["resource"]
	if len(requested) == 0 {
		return c.Audiences, nil
	}
	invalid := func(msg string) error {
		return &httpapi.OAuthError{Code: httpapi.CodeInvalidTarget, Description: msg, Status: http.StatusBadRequest}
	}
	for i, res := range requested {
		if msg := client.CheckResource(res); msg != "" {
			return nil, invalid("resource " + strconv.Itoa(i+1) + " " + msg + ".")
		}
		if !slices.Contains(c.Audiences, res) {
			return nil, invalid("Resource " + strconv.Itoa(i+1) + " is not one the client may ask for.")
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(requested))), nil
}

// grantedScopes applies RFC 6749 §3.3: the requested scopes, each of which the
// client must be allowed, or all it is allowed when none are requested.
func (s *Service) grantedScopes(c client.Client, form url.Values) ([]string, error) {
	invalid := func(msg string) error {
		return &httpapi.OAuthError{Code: httpapi.CodeInvalidScope, Description: msg, Status: http.StatusBadRequest}
	}
	allowed := slices.DeleteFunc(slices.Clone(c.Scopes), func(sc string) bool { return !s.Scopes.Has(sc) })
	requested, ok := oauthscope.ParseRequest(form.Get("scope"))
	if !ok {
		return nil, invalid("The scope parameter is malformed.")
	}
	if len(requested) == 0 {
		if len(allowed) == 0 {
			return nil, invalid("The client is allowed no scopes.")
		}
		return allowed, nil
	}
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return nil, invalid("The client is not allowed scope " + sc + ".")
		}
	}
	return requested, nil
}

// authMethods are the client authentication methods of every endpoint.
var authMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

// discoveryDocument is the RFC 8414 / OIDC Discovery metadata. The OIDC
// members about ID tokens are present because common OIDC libraries require
// them; this service issues access tokens only.
type discoveryDocument struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionAuthMethods          []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationAuthMethods             []string `json:"revocation_endpoint_auth_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (s *Service) discovery(w http.ResponseWriter, r *http.Request) error {
	ten, ok := pathTenant(r)
	if !ok {
		return errNoTenant
	}
	if ten != tenant.Default {
		exists, err := s.Tenants.TenantExists(r.Context(), ten)
		if err != nil {
			return err
		}
		if !exists {
			return errNoTenant
		}
	}
	keys, err := s.Keys.Keys(r.Context())
	if err != nil {
		return err
	}
	algs := []string{}
	for _, k := range keys {
		if !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	base := s.IssuerBase(r)
	iss := tenant.Issuer(base, ten)
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpapi.WriteJSON(w, http.StatusOK, discoveryDocument{
		Issuer:                            iss,
		TokenEndpoint:                     tenant.TokenEndpoint(iss),
		JWKSURI:                           strings.TrimSuffix(base, "/") + "/.well-known/jwks.json",
		ScopesSupported:                   s.Scopes.Names(),
		GrantTypesSupported:               []string{client.GrantClientCredentials},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgs:      []string{"RS256", "PS256", "ES256"},
		IntrospectionEndpoint:             iss + "/connect/introspect",
		IntrospectionAuthMethods:          authMethods,
		RevocationEndpoint:                iss + "/connect/revocation",
		RevocationAuthMethods:             authMethods,
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  algs,
		ClaimsSupported:                   []string{"iss", "sub", "aud", "client_id", "scope", "tid", "iat", "nbf", "exp", "jti"},
	})
	return nil
}

func (s *Service) jwks(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.Keys.Keys(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpapi.WriteJSON(w, http.StatusOK, signer.JWKS(keys))
	return nil
}
