// Package stsidentity checks who an AWS caller is the way HashiCorp Vault's
// AWS IAM authentication does: the caller signs an
// sts:GetCallerIdentity request (SigV4) without sending it, and presents
// the signed headers; this package sends the request to an STS endpoint of
// the deployment's allow-list and reads the identity STS answers with. STS
// verifies the signature, so no AWS credential of the caller is ever seen
// here. The request's method, URL path and body are fixed by this package;
// only the headers the caller signed are taken from it, the audience header
// among them, so a request signed for another service (or for another
// tenant) is never accepted; and its X-Amz-Date must be recent.
package stsidentity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/issuerkeys"
)

// AssertionType is the client_assertion_type of a signed GetCallerIdentity.
const AssertionType = "urn:machine-iam:params:client-assertion-type:aws-sigv4"

// AudienceHeader is the header, signed, that names the tenant issuer the
// signature is meant for.
const AudienceHeader = "X-Machine-Iam-Audience"

// Body is the one request body sent to STS.
const Body = "Action=GetCallerIdentity&Version=2011-06-15"

// Limits.
const (
	// MaxSignatureAge is how far X-Amz-Date may be from now, either way.
	MaxSignatureAge   = 5 * time.Minute
	MaxAssertionBytes = 8 << 10
	MaxResponseBytes  = 64 << 10
	DefaultTimeout    = 5 * time.Second
)

// DefaultEndpoints are the STS endpoints allowed unless the deployment
// names its own: the global one and every regional one of the aws
// partition ("*" stands for a region name).
var DefaultEndpoints = []string{"https://sts.amazonaws.com", "https://sts.*.amazonaws.com"}

// ErrInvalid is wrapped when the request is not an acceptable signed
// GetCallerIdentity, or STS refuses it: the caller's fault, counted.
var ErrInvalid = errors.New("invalid signed GetCallerIdentity")

// ErrUnavailable is wrapped when STS could not be asked or answered with a
// failure of its own: never the caller's fault, never counted.
var ErrUnavailable = errors.New("STS unavailable")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Checker checks signed GetCallerIdentity requests.
type Checker struct {
	endpoints []string
	client    *http.Client
	timeout   time.Duration
	now       func() time.Time
}

// Options configure a Checker.
type Options struct {
	// Endpoints is the allow-list (DefaultEndpoints when empty).
	Endpoints []string
	// AllowLocal admits http endpoints and any address (tests only).
	AllowLocal bool
	Timeout    time.Duration
	Now        func() time.Time
}

// New returns a Checker.
func New(o Options) *Checker {
	c := &Checker{endpoints: o.Endpoints, timeout: o.Timeout, now: o.Now}
	if len(c.endpoints) == 0 {
		c.endpoints = DefaultEndpoints
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.client = &http.Client{Transport: issuerkeys.GuardedTransport(o.AllowLocal, c.timeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
}

// Signed is the decoded client_assertion: a signed request, as the AWS SDK
// prepared it.
type Signed struct {
	Method  string                     `json:"method"`
	URL     string                     `json:"url"`
	Headers map[string]json.RawMessage `json:"headers"`
	Body    string                     `json:"body"`
}

// Result is what STS said, and where it was asked.
type Result struct {
	Endpoint string
	Caller   federation.Caller
}

var (
	amzDateLayout = "20060102T150405Z"
	// Compiled on first use: bounded repetitions make large programs, and
	// only this credential type's requests need them.
	authRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/sts/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$`)
	})
	regionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9-]{1,30}$`) })
)

// Check decodes assertion (base64url of Signed JSON), checks it is a
// recent GetCallerIdentity signed for audience, sends it to its STS
// endpoint and returns the caller STS names.
func (c *Checker) Check(ctx context.Context, assertion, audience string) (Result, error) {
	req, endpoint, err := c.build(ctx, assertion, audience)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	switch {
	case err != nil:
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return Result{}, fmt.Errorf("%w: status %d", ErrUnavailable, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return Result{}, invalid("STS refused the request: status %d %s", resp.StatusCode, errorCode(body))
	case len(body) > MaxResponseBytes:
		return Result{}, fmt.Errorf("%w: response too large", ErrUnavailable)
	}
	var out struct {
		Result struct {
			Arn     string `xml:"Arn"`
			UserID  string `xml:"UserId"`
			Account string `xml:"Account"`
		} `xml:"GetCallerIdentityResult"`
	}
	if xml.Unmarshal(body, &out) != nil || out.Result.Arn == "" {
		return Result{}, fmt.Errorf("%w: not a GetCallerIdentity response", ErrUnavailable)
	}
	caller, ok := federation.ParseCaller(out.Result.Arn, out.Result.UserID)
	if !ok {
		return Result{}, invalid("caller %s is neither a role nor a user", out.Result.Arn)
	}
	return Result{Endpoint: endpoint, Caller: caller}, nil
}

// errorCode reads an STS error response's code, for logs.
func errorCode(body []byte) string {
	var e struct {
		Code string `xml:"Error>Code"`
	}
	if xml.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Code
}

// decodeHeaders reads the assertion's headers, each a string or a list of
// them.
func decodeHeaders(raw map[string]json.RawMessage) (http.Header, error) {
	headers := http.Header{}
	for name, v := range raw {
		var one string
		var many []string
		switch {
		case json.Unmarshal(v, &one) == nil:
			headers.Add(name, one)
		case json.Unmarshal(v, &many) == nil:
			for _, m := range many {
				headers.Add(name, m)
			}
		default:
			return nil, invalid("header %q is neither a string nor a list of them", name)
		}
	}
	return headers, nil
}

// build turns the assertion into the request to send.
func (c *Checker) build(ctx context.Context, assertion, audience string) (*http.Request, string, error) {
	s, err := decodeAssertion(assertion)
	if err != nil {
		return nil, "", err
	}
	endpoint, ok := c.endpoint(s.URL)
	if !ok {
		return nil, "", invalid("url is not an allowed STS endpoint")
	}
	headers, err := decodeHeaders(s.Headers)
	if err != nil {
		return nil, "", err
	}
	signed, err := c.checkSigned(headers, endpoint, audience)
	if err != nil {
		return nil, "", err
	}
	req, err := outgoing(ctx, endpoint, headers, signed)
	return req, endpoint, err
}

// decodeAssertion reads the assertion (base64url of Signed JSON), a POST
// of Body when it names a method and a body.
func decodeAssertion(assertion string) (Signed, error) {
	var s Signed
	if len(assertion) > MaxAssertionBytes {
		return s, invalid("assertion too large")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(assertion, "="))
	if err != nil {
		return s, invalid("assertion is not base64url")
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, invalid(`assertion is not {"method","url","headers","body"}`)
	}
	switch {
	case s.Method != "" && s.Method != http.MethodPost:
		return s, invalid("method must be POST")
	case s.Body != "" && s.Body != Body:
		return s, invalid("body must be %s", Body)
	}
	return s, nil
}

// checkSigned checks headers hold a SigV4 signature for sts, made at most
// MaxSignatureAge from now, over the host, the date and the audience
// header, which must be audience; it returns the signed header names.
func (c *Checker) checkSigned(headers http.Header, endpoint, audience string) ([]string, error) {
	m := authRE().FindStringSubmatch(headers.Get("Authorization"))
	if m == nil || len(headers.Values("Authorization")) != 1 {
		return nil, invalid("no SigV4 Authorization header for sts")
	}
	signed := strings.Split(m[4], ";")
	for _, must := range []string{"host", "x-amz-date", strings.ToLower(AudienceHeader)} {
		if !slices.Contains(signed, must) {
			return nil, invalid("header %s is not signed", must)
		}
	}
	if !regionRE().MatchString(m[3]) {
		return nil, invalid("bad credential scope")
	}
	if got := headers.Values(AudienceHeader); len(got) != 1 || got[0] != audience {
		return nil, invalid("%s is not this tenant's issuer", AudienceHeader)
	}
	if h := headers.Get("Host"); h != "" && h != strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://") {
		return nil, invalid("host header differs from the endpoint")
	}
	at, err := time.Parse(amzDateLayout, headers.Get("X-Amz-Date"))
	if err != nil {
		return nil, invalid("X-Amz-Date is missing or malformed")
	}
	if now := c.now(); at.Before(now.Add(-MaxSignatureAge)) || at.After(now.Add(MaxSignatureAge)) {
		return nil, invalid("signed more than %s from now", MaxSignatureAge)
	}
	return signed, nil
}

// outgoing is the request sent to endpoint: the fixed body, with only the
// headers the caller signed, and its signature.
func outgoing(ctx context.Context, endpoint string, headers http.Header, signed []string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(Body))
	if err != nil {
		return nil, invalid("bad endpoint")
	}
	for _, name := range signed {
		// Host is the endpoint's; Content-Length is the fixed body's (a
		// caller that signed another body gets STS's refusal).
		if name == "host" || name == "content-length" {
			continue
		}
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		vs := headers.Values(canonical)
		if len(vs) == 0 {
			return nil, invalid("signed header %s is missing", name)
		}
		// A value the HTTP client would refuse to send is the caller's
		// mistake, not an outage: refused here, so it is counted.
		for _, v := range vs {
			if !headerValue(v) {
				return nil, invalid("signed header %s has a value HTTP cannot carry", name)
			}
		}
		req.Header[canonical] = vs
	}
	req.Header.Set("Authorization", headers.Get("Authorization"))
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	req.Host = req.URL.Host
	return req, nil
}

// headerValue reports whether v may be sent as an HTTP header value (RFC
// 9110 field-value: no control characters but tab).
func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// endpoint returns the allowed endpoint (scheme and host) raw names, with
// no path but "/", query, fragment or user information.
func (c *Checker) endpoint(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", false
	}
	base := u.Scheme + "://" + u.Host
	for _, allowed := range c.endpoints {
		if allowed == base {
			return base, true
		}
		if prefix, suffix, ok := strings.Cut(allowed, "*"); ok && strings.HasPrefix(base, prefix) && strings.HasSuffix(base, suffix) &&
			len(base) > len(prefix)+len(suffix) && regionRE().MatchString(base[len(prefix):len(base)-len(suffix)]) {
			return base, true
		}
	}
	return "", false
}
