package tokenapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/issuerkeys"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/stsidentity"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// Federation is what federated client authentication needs.
type Federation struct {
	// Keys fetches outside issuers' keys.
	Keys *issuerkeys.Fetcher
	// STS checks signed GetCallerIdentity requests.
	STS *stsidentity.Checker
	// MaxTokenLifetime bounds how long a presented external token may
	// still live (0: federation.DefaultMaxTokenLifetime).
	MaxTokenLifetime time.Duration
}

// NewFederation builds the token function's federation from the
// deployment's settings.
func NewFederation(allowLocal bool, maxLifetime time.Duration, stsEndpoints []string, now func() time.Time) *Federation {
	return &Federation{
		Keys:             issuerkeys.New(issuerkeys.Options{AllowLocal: allowLocal, Now: now}),
		STS:              stsidentity.New(stsidentity.Options{Endpoints: stsEndpoints, AllowLocal: allowLocal, Now: now}),
		MaxTokenLifetime: maxLifetime,
	}
}

// FederationStore is the storage a federated authentication reads and
// counts failures in.
type FederationStore interface {
	GetFederationRecord(ctx context.Context, tenant, clientID, addressKey, address string, window time.Time) (store.CredentialRecord, error)
	CountAttempt(ctx context.Context, at store.Attempts, n int, p lockout.Limits, expires time.Time) error
}

// federatedRequest is a token request that authenticates with a federated
// credential.
type federatedRequest struct {
	clientID  string
	assertion string
	aws       bool
	// token is the parsed OIDC token (not yet verified).
	token *federation.Token
}

// readFederated reports whether the request authenticates with a
// federated credential: an AWS signed request, or a JWT client assertion
// whose iss is not the client itself (private_key_jwt has iss = sub =
// client_id). A request that mixes it with another method is refused.
func readFederated(r *http.Request, form url.Values) (federatedRequest, bool, error) {
	typ := form.Get("client_assertion_type")
	raw := form.Get("client_assertion")
	fr := federatedRequest{clientID: form.Get("client_id"), assertion: raw}
	switch typ {
	case stsidentity.AssertionType:
		fr.aws = true
	case clientkey.AssertionType:
		t, err := federation.ParseToken(raw)
		if err != nil || t.Issuer() == fr.clientID || fr.clientID == "" {
			// private_key_jwt, or nothing federated can make of it.
			return federatedRequest{}, false, nil
		}
		fr.token = t
	default:
		return federatedRequest{}, false, nil
	}
	_, secret := form["client_secret"]
	switch {
	case secret || r.Header.Get("Authorization") != "":
		return federatedRequest{}, true, httpapi.InvalidRequest("Use one client authentication method, not both.")
	case fr.clientID == "":
		return federatedRequest{}, true, httpapi.InvalidRequest("client_id is required with a federated client assertion.")
	case raw == "":
		return federatedRequest{}, true, httpapi.InvalidRequest("client_assertion is required with client_assertion_type.")
	}
	return fr, true, nil
}

// errIssuerUnavailable is the 503 of an issuer or STS that could not be
// asked: not the caller's doing, so never counted.
func errIssuerUnavailable(what string) error {
	return &httpapi.OAuthError{Code: httpapi.CodeTemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "The " + what + " of the federated credential could not be reached; retry later.",
		Header:      http.Header{"Retry-After": {"5"}}}
}

// authenticateFederated authenticates fr's client with one of its
// federated credentials, for the audited action. One storage read gets the client, its credentials
// and the attempts counted for the caller's address; an address past its
// threshold gets 429 before any outside request. A failure is counted for
// the address alone (one write) and is invalid_client, alike for unknown
// clients, unknown issuers and mismatches; an unreachable issuer or STS is
// 503 and not counted.
func (s *Service) authenticateFederated(ctx context.Context, r *http.Request, ten string, fr federatedRequest, action string) (caller, error) {
	realm := tenant.Issuer(s.IssuerBase(r), ten)
	audit.Note(ctx, action, lockout.CounterKey(fr.clientID))
	address := lockout.Address(r.RemoteAddr)
	now := s.Now()
	at := store.Attempts{Tenant: ten, Key: lockout.AddressKey(address), Address: address}
	var end time.Time
	at.Window, end = s.Lockout.WindowAt(now)
	cid := fr.clientID
	if !id.Valid(cid) {
		cid = lockout.CounterKey(cid)
	}
	if s.Federation == nil || s.FederationStore == nil {
		return caller{}, httpapi.InvalidClient(false, realm)
	}
	rec, err := s.FederationStore.GetFederationRecord(ctx, ten, cid, at.Key, address, at.Window)
	if err != nil {
		return caller{}, err
	}
	if s.Lockout.AddressExhausted(rec.Attempts) {
		metric.Throttled()
		return caller{}, throttled(now, end)
	}
	fail := func(why string) (caller, error) {
		slog.InfoContext(ctx, "federated authentication refused", "reason", why)
		// Per address alone: the key holds this address's count only.
		limits := s.Lockout
		limits.Ceiling = max(limits.Ceiling, limits.Threshold)
		err := s.FederationStore.CountAttempt(ctx, at, 1, limits, end.Add(time.Hour))
		switch {
		case errors.Is(err, store.ErrLimitExceeded):
			metric.Throttled()
			return caller{}, throttled(now, end)
		case err != nil:
			return caller{}, err
		}
		metric.AuthenticationFailed(reasonInvalidFederated)
		return caller{}, httpapi.InvalidClient(false, realm)
	}
	fed := s.Federation
	var ext *token.External
	var match federation.Credential
	if fr.aws {
		ext, match, err = fed.authenticateAWS(ctx, rec.Federated, fr.assertion, realm)
	} else {
		ext, match, err = fed.authenticateOIDC(ctx, rec.Federated, fr.token, s.IssuerBase(r), ten, now)
	}
	var unavailable *unavailableError
	switch {
	case errors.As(err, &unavailable):
		slog.WarnContext(ctx, "federated authentication: issuer unavailable", "error", unavailable.err.Error())
		return caller{}, errIssuerUnavailable(unavailable.what)
	case err != nil:
		return fail(err.Error())
	case rec.Client == nil:
		return fail("no such client")
	}
	if match.TrustedTenant != "" {
		// A token of another tenant of this deployment counts only while
		// it counts there: its client not deleted or killed, the token
		// not revoked.
		clientID := strings.TrimPrefix(match.TrustedSubject, subject.ID(subject.Client, ""))
		live, err := s.notRevoked(ctx, match.TrustedTenant, clientID, fr.token.ID(), fr.token.IssuedAt())
		if err != nil {
			return caller{}, err
		}
		if !live {
			return fail("the trusted tenant's token was revoked, or its client killed or deleted")
		}
	}
	s.recordUse(ctx, ten, rec.Client.ID, store.Credential{FederatedID: match.ID}, match.LastUsedAt, now)
	c := authenticated(rec)
	c.external = ext
	c.method = federatedMethod(fr.aws)
	audit.NoteCaller(ctx, ten, c.SubjectID())
	audit.NoteExternal(ctx, ext.Issuer, ext.Subject)
	return c, nil
}

// unavailableError is an outside party that could not be asked.
type unavailableError struct {
	what string
	err  error
}

func (e *unavailableError) Error() string { return e.what + ": " + e.err.Error() }

// authenticateOIDC finds the credential among creds that accepts the
// external token t, and returns the identity it names and the credential.
func (f *Federation) authenticateOIDC(ctx context.Context, creds []federation.Credential, t *federation.Token, issuerBase, ten string, now time.Time) (*token.External, federation.Credential, error) {
	var named []federation.Credential
	for _, c := range creds {
		if c.Type == federation.TypeOIDC && c.Issuer == t.Issuer() {
			named = append(named, c)
		}
	}
	if len(named) == 0 {
		// No fetch for an issuer no credential names.
		return nil, federation.Credential{}, errors.New("no credential names the issuer")
	}
	maxLifetime := f.MaxTokenLifetime
	if maxLifetime == 0 {
		maxLifetime = federation.DefaultMaxTokenLifetime
	}
	// The claims first: an expired token costs no fetch.
	ident, err := t.CheckClaims(now, maxLifetime)
	if err != nil {
		return nil, federation.Credential{}, err
	}
	var fetched []jose.JSONWebKey
	why := "no credential"
	for _, c := range named {
		// The audience was checked against the issuer when it was set;
		// a deployment whose issuer changed since accepts it no more.
		if !federation.AudienceOf(issuerBase, ten, c.Audience) {
			why = "audience is no longer the tenant's"
			continue
		}
		if ok, reason := t.Accepts(c); !ok {
			why = reason + " does not match"
			continue
		}
		// A credential with inline keys accepts only tokens they verify;
		// one without, only tokens the issuer's published keys verify.
		keys, inline := c.InlineKeys()
		if !inline {
			if fetched == nil {
				if fetched, err = f.Keys.Keys(ctx, t.Issuer(), t.KeyID()); err != nil {
					return nil, federation.Credential{}, &unavailableError{what: "issuer", err: err}
				}
			}
			keys = fetched
		}
		if err := t.VerifySignature(keys); err != nil {
			why = err.Error()
			continue
		}
		return &token.External{Issuer: ident.Issuer, Subject: ident.Subject}, c, nil
	}
	return nil, federation.Credential{}, errors.New(why)
}

// authenticateAWS finds the credential among creds that accepts the caller
// of the signed GetCallerIdentity in assertion, and returns the identity
// it names and the credential. STS is asked only when the client has an
// AWS credential.
func (f *Federation) authenticateAWS(ctx context.Context, creds []federation.Credential, assertion, audience string) (*token.External, federation.Credential, error) {
	var named []federation.Credential
	for _, c := range creds {
		if c.Type == federation.TypeAWS {
			named = append(named, c)
		}
	}
	if len(named) == 0 {
		return nil, federation.Credential{}, errors.New("no AWS credential")
	}
	res, err := f.STS.Check(ctx, assertion, audience)
	if errors.Is(err, stsidentity.ErrUnavailable) {
		return nil, federation.Credential{}, &unavailableError{what: "STS endpoint", err: err}
	}
	if err != nil {
		return nil, federation.Credential{}, err
	}
	for _, c := range named {
		if c.AcceptsCaller(res.Caller) {
			return &token.External{Issuer: res.Endpoint, Subject: res.Caller.ARN}, c, nil
		}
	}
	return nil, federation.Credential{}, errors.New("caller " + res.Caller.ARN + " matches no AWS credential")
}
