// Package authorizer enforces a tenant's IAM policies at the edge of its
// own API: for each request it finds the route in a route table, verifies
// the bearer token offline against the issuer's published keys, requires
// the route's OAuth scope, and asks the service's decision endpoint (by
// token, as the authorizer's own client) whether the caller may do the
// route's action on the route's resource. Answers are cached within the
// ttl the service gives them. It serves as an API Gateway Lambda REQUEST
// authorizer (lambda.go) and as net/http middleware (middleware.go).
//
// Anything that cannot be decided is refused: an unknown route, a path
// parameter that could climb or split the resource it fills, and a
// service that cannot be reached (fail closed).
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is what an Authorizer needs.
type Config struct {
	// Issuer is the tenant's issuer, exactly as its tokens' iss.
	Issuer string
	// Audience is this API's identifier (its registered identifier): a
	// token must hold it in aud.
	Audience string
	// BaseURL is the service's base URL, where /v1/decisions is.
	BaseURL string
	// Credentials are the authorizer's own client, in the issuer's tenant,
	// allowed iam.decision.check on this API.
	Credentials Credentials
	Routes      *Routes
	// MaxCache bounds how long an allow is cached, below the answer's
	// ttl; 0 means the ttl alone.
	MaxCache time.Duration
	// DenialCache is how long a denial is cached (at most the ttl); 0, the
	// default, asks again at once, so a policy just granted takes effect
	// on the next request.
	DenialCache time.Duration
	// CacheEntries bounds the decision cache (DefaultCacheEntries when 0;
	// negative turns caching off).
	CacheEntries int
	// HTTPClient carries timeouts (DefaultTimeout when nil).
	HTTPClient *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log, when set, receives one line per decision (never a token).
	Log *slog.Logger
}

// Defaults.
const (
	DefaultCacheEntries = 10000
	// DefaultTimeout bounds every call to the service: an authorizer that
	// waits longer than its gateway does is of no use.
	DefaultTimeout = 3 * time.Second
)

// Authorizer decides requests. It is safe for concurrent use.
type Authorizer struct {
	cfg     Config
	keys    *keySet
	decider *decider
	cache   *answers
}

// New checks cfg and returns its Authorizer. It makes no network call:
// keys and the own token are fetched on first use.
func New(cfg Config) (*Authorizer, error) {
	for _, u := range []struct{ name, value string }{{"issuer", cfg.Issuer}, {"base URL", cfg.BaseURL}, {"audience", cfg.Audience}} {
		p, err := url.Parse(u.value)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, fmt.Errorf("authorizer: the %s %q is not an absolute http(s) URL", u.name, u.value)
		}
	}
	if err := cfg.Credentials.check(); err != nil {
		return nil, err
	}
	if cfg.Routes == nil {
		return nil, errors.New("authorizer: no route table")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	own := &ownToken{endpoint: cfg.Issuer + "/connect/token", creds: cfg.Credentials, client: cfg.HTTPClient, now: cfg.Now}
	return &Authorizer{
		cfg:     cfg,
		keys:    &keySet{issuer: cfg.Issuer, client: cfg.HTTPClient, now: cfg.Now},
		decider: &decider{endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/v1/decisions", own: own, client: cfg.HTTPClient},
		cache:   &answers{max: cfg.CacheEntries, now: cfg.Now},
	}, nil
}

// Request is what a decision is made on.
type Request struct {
	Method string
	// Path is the request's path as sent, percent-encoding intact.
	Path string
	// RouteKey, when the gateway already matched a route, is its key
	// ("GET /orders/{orderId}"), which must be in the table, and Params
	// the path parameters it found; Method and Path are then not used.
	RouteKey string
	Params   map[string]string
	// Authorization is the Authorization header's value.
	Authorization string
}

// Outcome says what becomes of a request.
type Outcome int

// Outcomes. The zero Outcome refuses, so a Decision left empty never lets
// a request through.
const (
	// Forbidden: a valid token that lacks the scope or is denied, an
	// unknown route, or a path parameter refused without asking (403).
	Forbidden Outcome = iota
	// Unauthenticated: no token, or one that does not verify (401).
	Unauthenticated
	// Allowed: the route's scope is in the token and the service allowed
	// the action on the resource.
	Allowed
)

// Decision is the verdict on one request.
type Decision struct {
	Outcome Outcome
	// Reason says why, for logs (never a token).
	Reason string
	// Claims of the verified token; zero when Unauthenticated.
	Claims Claims
	// Target is the matched route, action and resource; zero when no route
	// matched.
	Target Target
	// Cached reports an answer taken from the cache.
	Cached bool
}

// Authorize decides r. An error means no decision could be had (the
// service or the issuer's keys could not be reached, or the authorizer's
// own client was refused): the request must be refused as a server error.
func (a *Authorizer) Authorize(ctx context.Context, r Request) (Decision, error) {
	var target Target
	var err error
	if r.RouteKey != "" {
		target, err = a.cfg.Routes.Fill(r.RouteKey, r.Params)
	} else {
		target, err = a.cfg.Routes.Match(r.Method, r.Path)
	}
	if err != nil {
		return Decision{Outcome: Forbidden, Reason: err.Error()}, nil
	}
	raw, ok := bearer(r.Authorization)
	if !ok {
		return Decision{Outcome: Unauthenticated, Reason: "no bearer token", Target: target}, nil
	}
	// A cached answer is for this very token (by its hash), verified when
	// the answer was stored, and ends no later than the token: it needs no
	// second signature check.
	// The route's scope is checked on every request, cached or not: two
	// routes may share an action and resource but not a scope.
	key := keyOf(raw, target.Action, target.Resource)
	if c, hit := a.cache.get(key); hit {
		d := Decision{Claims: c.claims, Target: target, Cached: true}
		if !c.claims.HasScope(target.Scope) {
			d.Reason = "the token lacks scope " + target.Scope
			return d, nil
		}
		return verdict(d, c.allowed), nil
	}
	claims, err := a.keys.verify(ctx, raw, a.cfg.Audience)
	if errors.Is(err, errToken) {
		return Decision{Outcome: Unauthenticated, Reason: err.Error(), Target: target}, nil
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	d := Decision{Outcome: Forbidden, Claims: claims, Target: target}
	if !claims.HasScope(target.Scope) {
		d.Reason = "the token lacks scope " + target.Scope
		return d, nil
	}
	ans, err := a.decider.decide(ctx, raw, target.Action, target.Resource)
	if err != nil {
		return Decision{}, err
	}
	if !ans.active {
		return Decision{Outcome: Unauthenticated, Reason: "the service says the token is not active (revoked or killed)", Target: target}, nil
	}
	a.cache.put(key, cached{allowed: ans.allowed, claims: claims, until: a.cacheUntil(ans, claims)})
	return verdict(d, ans.allowed), nil
}

func verdict(d Decision, allowed bool) Decision {
	if allowed {
		d.Outcome, d.Reason = Allowed, "allowed"
	} else {
		d.Reason = "the service denied " + d.Target.Action + " on " + d.Target.Resource
	}
	return d
}

// cacheUntil is when a cached answer stops being used: its ttl, cut to
// MaxCache for an allow and DenialCache for a denial, and never past the
// token's expiry.
func (a *Authorizer) cacheUntil(ans answer, c Claims) time.Time {
	ttl := ans.ttl
	limit := a.cfg.MaxCache
	if !ans.allowed {
		limit = a.cfg.DenialCache
		if limit == 0 {
			return time.Time{}
		}
	}
	if limit > 0 {
		ttl = min(ttl, limit)
	}
	until := a.cfg.Now().Add(ttl)
	if exp := time.Unix(c.Expiry, 0); exp.Before(until) {
		return exp
	}
	return until
}

// bearer takes the token from an Authorization header: the Bearer scheme,
// case-insensitive (RFC 6750 §2.1).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// String names an outcome in logs.
func (o Outcome) String() string {
	return [...]string{"forbidden", "unauthenticated", "allowed"}[o]
}

func (a *Authorizer) log(ctx context.Context, route string, d Decision, err error) {
	if a.cfg.Log == nil {
		return
	}
	if err != nil {
		a.cfg.Log.ErrorContext(ctx, "no decision: refused", "route", route, "error", err.Error())
		return
	}
	a.cfg.Log.InfoContext(ctx, "decision", "route", route, "outcome", d.Outcome.String(), "reason", d.Reason,
		"sub", d.Claims.Subject, "client_id", d.Claims.ClientID, "action", d.Target.Action, "resource", d.Target.Resource, "cached", d.Cached)
}
