package tokenapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// authenticateClient authenticates the request's client in tenant ten, by
// whichever one method it uses, for the audited action; every failure is
// invalid_client (or a 429 of the throttle).
func (s *Service) authenticateClient(r *http.Request, ten string, form url.Values, action string) (caller, error) {
	realm := tenant.Issuer(s.IssuerBase(r), ten)
	if fr, ok, err := readFederated(r, form); err != nil {
		return caller{}, err
	} else if ok {
		return s.authenticateFederated(r.Context(), r, ten, fr, action)
	}
	creds, err := readClientAuthentication(r, form)
	if errors.Is(err, errNoClientAuthentication) {
		// RFC 6749 §5.2: no client authentication is invalid_client; the
		// challenge names the scheme this endpoint takes (RFC 9110 §11.6.1).
		e := httpapi.InvalidClient(true, realm)
		e.Description = "Client authentication is required (client_secret_basic, client_secret_post or private_key_jwt)."
		metric.AuthenticationFailed(reasonMissing)
		return caller{}, e
	}
	if err != nil {
		countRefusal(err, reasonMalformed)
		return caller{}, err
	}
	// Only a generated id is logged as it is: anything else may be a
	// secret pasted into the wrong field. attempt names a chosen id once
	// it is known to be a client's.
	audit.Note(r.Context(), action, lockout.LogKey(creds.id))
	authenticate := s.authenticate
	if creds.jwt {
		authenticate = func(ctx context.Context, ten, address string, cr presented) (caller, error) {
			return s.authenticateAssertion(ctx, ten, address, cr, []string{realm, tenant.TokenEndpoint(realm)})
		}
	}
	c, err := authenticate(r.Context(), ten, lockout.Address(r.RemoteAddr), creds)
	if errors.Is(err, errAuthFailed) {
		metric.AuthenticationFailed(creds.failureReason())
		return caller{}, httpapi.InvalidClient(creds.basic, realm)
	}
	if err != nil {
		countRefusal(err, "")
		return caller{}, err
	}
	audit.NoteCaller(r.Context(), ten, c.SubjectID())
	c.method = creds.method()
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

// presented is the client authentication a token request carries.
type presented struct {
	id string
	// secrets holds the presented secret, and for Basic also its raw form
	// when that differs (see readClientAuthentication).
	secrets []string
	basic   bool
	// jwt is set for private_key_jwt; assertion is nil when it could not
	// even be parsed.
	jwt       bool
	assertion *clientkey.Assertion
}

// readClientAuthentication extracts exactly one client authentication: HTTP Basic
// (RFC 6749 §2.3.1: id and secret are form-url-encoded before base64),
// client_id and client_secret in the body, or a client assertion (RFC 7523,
// private_key_jwt).
func readClientAuthentication(r *http.Request, form url.Values) (presented, error) {
	_, inBody := form["client_secret"]
	auth := r.Header.Get("Authorization")
	_, assertionType := form["client_assertion_type"]
	_, assertion := form["client_assertion"]
	if assertionType || assertion {
		switch {
		case inBody || auth != "":
			return presented{}, httpapi.InvalidRequest("Use one client authentication method, not both.")
		case form.Get("client_assertion_type") != clientkey.AssertionType:
			return presented{}, httpapi.InvalidRequest("client_assertion_type must be " + clientkey.AssertionType + ".")
		case form.Get("client_assertion") == "":
			return presented{}, httpapi.InvalidRequest("client_assertion is required with client_assertion_type.")
		}
		cr := presented{id: form.Get("client_id"), jwt: true}
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
			return presented{}, errNoClientAuthentication
		}
		if form.Get("client_id") == "" {
			return presented{}, httpapi.InvalidRequest("client_id is required with client_secret.")
		}
		return presented{id: form.Get("client_id"), secrets: []string{form.Get("client_secret")}}, nil
	}
	scheme, payload, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return presented{}, httpapi.InvalidRequest("Only the Basic authorization scheme is accepted.")
	}
	if inBody {
		return presented{}, httpapi.InvalidRequest("Use one client authentication method, not both.")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return presented{}, httpapi.InvalidRequest("The Basic credentials are not valid base64.")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return presented{}, httpapi.InvalidRequest("The Basic credentials must be client_id:client_secret.")
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
		return presented{}, httpapi.InvalidRequest("The Basic credentials have no client_id.")
	}
	secrets := []string{rawSecret}
	if decoded, err := url.QueryUnescape(rawSecret); err == nil && decoded != rawSecret {
		secrets = []string{decoded, rawSecret}
	}
	if bodyID := form.Get("client_id"); bodyID != "" && bodyID != cid {
		return presented{}, httpapi.InvalidRequest("client_id in the body differs from the Basic credentials.")
	}
	return presented{id: cid, secrets: secrets, basic: true}, nil
}

// authenticate checks the credentials with one storage read. An address
// that spent its attempts in this window gets 429 for anything. A secret
// this process verified before is accepted without hash work or any write.
// Anything else is counted before it is checked (one conditional write per
// client id and caller address, refused past the lockout's limits, so
// concurrent guesses cannot overrun them; one attempt per form of the
// secret tried), then checked with the same hash work whether the client
// exists or not: one argon2id run per form of the secret, however many
// secrets the client has (secret.Verifier); a success gives its count back
// and tags an untagged secret. Every refusal is
// errAuthFailed or a 429, alike for known and unknown client ids.
func (s *Service) authenticate(ctx context.Context, ten, address string, cr presented) (caller, error) {
	a, rec, err := s.attempt(ctx, ten, address, cr.id)
	if err != nil {
		return caller{}, err
	}
	now, end := a.now, a.end
	if rec.Client != nil {
		for _, presented := range cr.secrets {
			if sec, ok := s.Secrets.MatchWarm(rec.Secrets, presented, now); ok {
				s.recordUse(ctx, ten, rec.Client.ID, store.Credential{SecretID: sec.ID}, sec.LastUsedAt, now)
				return authenticated(rec), nil
			}
		}
	}
	// Counted before any hash work; kept for 1 h past the window, so a
	// slow give-back still finds it.
	attempts := min(len(cr.secrets), s.Lockout.Threshold)
	err = s.Credentials.CountAttempt(ctx, a.at, attempts, s.Lockout, end.Add(time.Hour))
	switch {
	case errors.Is(err, store.ErrLimitExceeded):
		audit.NoteReason(ctx, "past the lockout threshold or ceiling")
		return caller{}, throttled(now, end)
	case err != nil:
		return caller{}, err
	}
	owner := cr.id
	if rec.Client != nil {
		owner = rec.Client.ID
	}
	var match secret.Hashed
	matched, tag := false, ""
	for _, presented := range cr.secrets {
		tag = s.Tags.Tag(ten, owner, presented)
		if match, matched = s.Secrets.Match(rec.Secrets, presented, tag, now); matched {
			break
		}
	}
	if !matched || rec.Client == nil {
		audit.NoteReason(ctx, secretFailure(rec, now))
		return caller{}, errAuthFailed
	}
	if match.Tag != tag {
		// A secret from before tags, or under a replaced tag key, is
		// tagged on its first successful use, and is then checked alone.
		if err := s.Credentials.TagSecret(ctx, a.at, match.ID, tag); err != nil {
			slog.WarnContext(ctx, "secret not tagged", "secretId", match.ID, "error", err.Error())
		}
	}
	if err := s.Credentials.UncountAttempt(ctx, a.at, attempts); err != nil {
		// The client is in; only its address keeps its attempts spent.
		slog.WarnContext(ctx, "successful authentication not uncounted", "error", err.Error())
	}
	s.recordUse(ctx, ten, rec.Client.ID, store.Credential{SecretID: match.ID}, match.LastUsedAt, now)
	return authenticated(rec), nil
}

// secretFailure says why no presented secret matched, for the audit line
// only: telling an unknown client or an expired secret from a wrong one
// in the response would help whoever guesses. Whether the value presented
// was an expired secret's is not known (expired secrets are not hashed
// against); that the client has only expired ones is.
func secretFailure(rec store.CredentialRecord, now time.Time) string {
	switch {
	case rec.Client == nil:
		return "unknown client"
	case len(rec.Secrets) == 0:
		return "the client has no secret"
	case !slices.ContainsFunc(rec.Secrets, func(h secret.Hashed) bool { return !h.ExpiredAt(now) }):
		return "every secret of the client has expired"
	}
	return "wrong secret"
}

// authenticateAssertion checks a private_key_jwt client assertion with one
// storage read (the client, its keys, the attempt count) and, on success,
// one conditional write that makes its jti single-use. A signature check
// is cheap and not a guess of anything, so a failure is counted after it
// (one write), not before; an address past its threshold gets 429 first.
// Every failure is errAuthFailed after the same work, known client or not.
func (s *Service) authenticateAssertion(ctx context.Context, ten, address string, cr presented, audiences []string) (caller, error) {
	a, rec, err := s.attempt(ctx, ten, address, cr.id)
	if err != nil {
		return caller{}, err
	}
	now, end := a.now, a.end
	fail := func(why error) (caller, error) {
		slog.InfoContext(ctx, "client assertion refused", "reason", why.Error())
		audit.NoteReason(ctx, "assertion: "+why.Error())
		err := s.Credentials.CountAttempt(ctx, a.at, 1, s.Lockout, end.Add(time.Hour))
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
	s.recordUse(ctx, ten, rec.Client.ID, store.Credential{KeyKid: v.Key.Kid}, v.Key.LastUsedAt, now)
	return authenticated(rec), nil
}

// caller is an authenticated client with the revocation state read with
// it.
type caller struct {
	client.Client
	revocations int64
	// method is how it authenticated, for the metrics.
	method string
	// external is the outside identity of a federated authentication.
	external *token.External
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
