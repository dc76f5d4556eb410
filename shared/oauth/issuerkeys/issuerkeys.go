// Package issuerkeys fetches and caches the signing keys of outside OIDC
// issuers: the discovery document at <issuer>/.well-known/openid-configuration,
// whose issuer must be the configured one exactly, then its jwks_uri. Every
// request goes over https to a public address only (checked on the address
// actually dialled, so a DNS answer that changes between check and use
// cannot reach loopback, private or link-local hosts), follows no redirect,
// and is bounded in time and size. Keys are cached per issuer in a bounded
// cache; a kid the cache does not know triggers a refetch at most once per
// RefreshEvery per issuer.
package issuerkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults.
const (
	DefaultTimeout      = 3 * time.Second
	DefaultRefreshEvery = 30 * time.Second
	// DefaultMaxAge is how long fetched keys are used before they are
	// fetched again on use; a kid they lack refetches sooner.
	DefaultMaxAge     = time.Hour
	DefaultMaxIssuers = 256
	// MaxDiscoveryBytes and MaxJWKSBytes bound the documents read; real
	// ones are a few KiB.
	MaxDiscoveryBytes = 64 << 10
	MaxJWKSBytes      = 128 << 10
	MaxKeys           = 50
)

// ErrUnavailable is wrapped by every failure to obtain an issuer's keys:
// the issuer is down, slow, refuses, or serves something unusable. It is
// never the presenting client's doing, so it is not counted against it.
var ErrUnavailable = errors.New("issuer keys unavailable")

// ErrForbiddenAddress is wrapped when a request would reach an address
// that is not public.
var ErrForbiddenAddress = errors.New("address not allowed")

// Fetcher fetches and caches issuers' keys. Its zero value is not usable:
// build it with New.
type Fetcher struct {
	client       *http.Client
	allowLocal   bool
	timeout      time.Duration
	refreshEvery time.Duration
	maxAge       time.Duration
	maxIssuers   int
	now          func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

// Options configure a Fetcher; zero values take the defaults.
type Options struct {
	// AllowLocal admits http URLs and any address, loopback and private
	// ones included: for local development and tests only.
	AllowLocal   bool
	Timeout      time.Duration
	RefreshEvery time.Duration
	MaxAge       time.Duration
	MaxIssuers   int
	Now          func() time.Time
	// Transport, when set, replaces the guarded transport (tests only; the
	// address guard is then the transport's business).
	Transport http.RoundTripper
}

// New returns a Fetcher.
func New(o Options) *Fetcher {
	f := &Fetcher{allowLocal: o.AllowLocal, timeout: o.Timeout, refreshEvery: o.RefreshEvery, maxAge: o.MaxAge,
		maxIssuers: o.MaxIssuers, now: o.Now, entries: map[string]*entry{}}
	if f.timeout == 0 {
		f.timeout = DefaultTimeout
	}
	if f.refreshEvery == 0 {
		f.refreshEvery = DefaultRefreshEvery
	}
	if f.maxAge == 0 {
		f.maxAge = DefaultMaxAge
	}
	if f.maxIssuers == 0 {
		f.maxIssuers = DefaultMaxIssuers
	}
	if f.now == nil {
		f.now = time.Now
	}
	rt := o.Transport
	if rt == nil {
		rt = GuardedTransport(o.AllowLocal, f.timeout)
	}
	f.client = &http.Client{
		Transport: rt,
		// No redirect is followed: an issuer's documents are where it says.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return f
}

// GuardedTransport is an HTTP transport that never uses a proxy from the
// environment and dials only public addresses (any, with allowLocal).
func GuardedTransport(allowLocal bool, timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: timeout}
	if !allowLocal {
		d.ControlContext = DialGuard
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// DialGuard is a net.Dialer ControlContext hook: it refuses, after name
// resolution and just before connecting, any address that is not a public
// unicast one.
func DialGuard(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// nonPublic are ranges IsPrivate and friends leave out: shared address
// space (carrier-grade NAT), IETF protocol assignments, benchmarking,
// documentation, 6to4 and NAT64 (which embed IPv4 addresses), and the
// discard and documentation ranges of IPv6.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "2002::/16", "64:ff9b::/96", "64:ff9b:1::/48",
		"100::/64", "2001:db8::/32", "2001::/32"} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// Public reports whether a is a public unicast address: not loopback,
// private, link-local, multicast, unspecified or otherwise special.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// entry is one issuer's cached keys.
type entry struct {
	mu        sync.Mutex // held while fetching, so one fetch per issuer runs at a time
	keys      []jose.JSONWebKey
	fetchedAt time.Time // of the keys
	triedAt   time.Time // of the last fetch, successful or not
	lastErr   error     // of the last fetch
	usedAt    time.Time
}

// Keys returns issuer's keys, from the cache when it holds them fresh and
// with kid (any kid when kid is ""); otherwise fetched, at most once per
// RefreshEvery. A failure wraps ErrUnavailable.
func (f *Fetcher) Keys(ctx context.Context, issuer, kid string) ([]jose.JSONWebKey, error) {
	e := f.entry(issuer)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	fresh := !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) < f.maxAge
	if fresh && (kid == "" || hasKid(e.keys, kid)) {
		return e.keys, nil
	}
	if !e.triedAt.IsZero() && now.Sub(e.triedAt) < f.refreshEvery {
		// Fetched a moment ago: an unknown kid stays unknown, and an
		// outage stays an outage, until the interval passes.
		if e.lastErr != nil && (kid == "" && e.keys == nil || kid != "" && !hasKid(e.keys, kid)) {
			return nil, e.lastErr
		}
		return e.keys, nil
	}
	e.triedAt = now
	keys, err := f.fetch(ctx, issuer)
	if err != nil {
		e.lastErr = fmt.Errorf("%w: %s: %w", ErrUnavailable, issuer, err)
		if e.keys != nil && kid != "" && hasKid(e.keys, kid) {
			// Known keys outlive an outage of their issuer.
			return e.keys, nil
		}
		return nil, e.lastErr
	}
	e.keys, e.fetchedAt, e.lastErr = keys, now, nil
	return keys, nil
}

func hasKid(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// entry returns issuer's cache entry, making room by dropping the least
// recently used one when the cache is full.
func (f *Fetcher) entry(issuer string) *entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if e, ok := f.entries[issuer]; ok {
		e.usedAt = now
		return e
	}
	if len(f.entries) >= f.maxIssuers {
		var oldest string
		for iss, e := range f.entries {
			if oldest == "" || e.usedAt.Before(f.entries[oldest].usedAt) {
				oldest = iss
			}
		}
		delete(f.entries, oldest)
	}
	e := &entry{usedAt: now}
	f.entries[issuer] = e
	return e
}

// discovery is the part of an OIDC discovery document this package reads.
type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

func (f *Fetcher) fetch(ctx context.Context, issuer string) ([]jose.JSONWebKey, error) {
	if err := f.checkURL(issuer); err != nil {
		return nil, err
	}
	var d discovery
	if err := f.getJSON(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", MaxDiscoveryBytes, &d); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("discovery names issuer %q, not %q", d.Issuer, issuer)
	}
	if err := f.checkURL(d.JWKSURI); err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := f.getJSON(ctx, d.JWKSURI, MaxJWKSBytes, &set); err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	if len(set.Keys) > MaxKeys {
		return nil, fmt.Errorf("jwks_uri: more than %d keys", MaxKeys)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		// Only public keys: a set that publishes a symmetric or private
		// key is broken, and its keys are not used.
		if k.Valid() && k.IsPublic() {
			keys = append(keys, k)
		}
	}
	if keys == nil {
		keys = []jose.JSONWebKey{}
	}
	return keys, nil
}

// checkURL allows https URLs (and http ones with AllowLocal).
func (f *Fetcher) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme != "https" && !(f.allowLocal && u.Scheme == "http") {
		return errors.New("not an https URL")
	}
	if u.User != nil {
		return errors.New("URL with user information")
	}
	return nil
}

// getJSON reads a JSON document of at most limit bytes within the
// Fetcher's timeout.
func (f *Fetcher) getJSON(ctx context.Context, u string, limit int64, into any) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("document larger than %d bytes", limit)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return errors.New("not a JSON document of the expected shape")
	}
	return nil
}
