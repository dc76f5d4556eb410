// Package integration drives the real handlers of every function over HTTP,
// through the local gateway's API Gateway payload-2.0 path, against
// DynamoDB Local and local-kms, which TestMain starts and provisions from
// template.yaml.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/local/ststest"
	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
)

var env *harness

type harness struct {
	svc *stack.Service
	// proxies sit between the functions and the stand-ins, by service.
	proxies map[string]*faultProxy
	iam     *iamRecorder
	audit   *lineBuffer
	base    string
	calls   *callCounter
	clock   *clock
	hashes  *countingHasher
	admin   operator.Result
	http    *http.Client
	// sts stands in for AWS STS (GetCallerIdentity), at stsURL, the one
	// endpoint of the deployment's allow-list.
	sts    *ststest.Server
	stsURL string
}

// testHasher is argon2id with a small cost so the suite stays fast; the
// production parameters are exercised by the secret package's tests.
var testHasher = secret.Argon2id{Time: 1, MemoryKiB: 1024, Threads: 1}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	// The functions' metric lines would bury a failure's output; the tests
	// that check them capture them.
	defer metric.SetOutput(io.Discard, false)()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h := &harness{base: "http://" + ln.Addr().String(), calls: &callCounter{}, clock: &clock{}, iam: &iamRecorder{}, audit: &lineBuffer{}, proxies: map[string]*faultProxy{},
		hashes: &countingHasher{Hasher: testHasher}, http: &http.Client{Timeout: 30 * time.Second}}
	h.sts = ststest.New(stsRoles...)
	stsServer := httptest.NewServer(h.sts)
	defer stsServer.Close()
	h.stsURL = stsServer.URL
	var proxyErr error
	svc, err := stack.StartService(ctx, stack.ServiceOptions{
		IssuerBase: h.base,
		AWS: []func(*config.LoadOptions) error{
			config.WithAPIOptions([]func(*middleware.Stack) error{h.calls.install, h.iam.install}),
			// Short attempts and backoff keep the fault tests quick; the
			// structure (timeouts, three attempts, a request budget) is
			// production's.
			config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(400 * time.Millisecond)),
			config.WithRetryer(func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 100 * time.Millisecond })
			}),
		},
		Route: func(service, endpoint string) string {
			p, err := newFaultProxy(endpoint)
			if err != nil {
				proxyErr = err
				return endpoint
			}
			h.proxies[service] = p
			return p.URL()
		},
		Configure: func(_ string, d *app.Deps) {
			d.Now = h.clock.Now
			d.Config.RequestTimeout = 3 * time.Second
			d.Audit = slog.New(slog.NewJSONHandler(h.audit, nil))
			d.Hasher = h.hashes
			d.Verifier = secret.NewVerifier(h.hashes, secret.DefaultCacheEntries)
			d.Config.Federation.STSEndpoints = []string{h.stsURL}
		},
	})
	if err == nil {
		err = proxyErr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: cannot start the local stack:", err)
		return 1
	}
	defer svc.Stop()
	h.svc = svc
	root, _ := filepath.Abs("..")
	spec, err := newContract(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	server := httptest.NewUnstartedServer(spec.wrap(svc.Gateway))
	server.Config.MaxHeaderBytes = gateway.MaxHeaderBytes
	server.Listener.Close()
	server.Listener = ln
	server.Start()
	defer server.Close()
	op := operator.Operator{Store: svc.Store(), Hasher: testHasher, IssuerBase: h.base, Now: time.Now()}
	if h.admin, err = op.Bootstrap(ctx, tenant.Default); err != nil {
		fmt.Fprintln(os.Stderr, "integration: bootstrap:", err)
		return 1
	}
	// The functions' other log lines (dependency failures) go to the same
	// buffer, so the no-secrets check reads them too.
	slog.SetDefault(slog.New(slog.NewJSONHandler(h.audit, nil)))
	env = h
	code := m.Run()
	complete := flag.Lookup("test.run").Value.String() == ""
	if problems := spec.report(complete && code == 0); len(problems) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: the service and docs/openapi.yaml disagree:\n  "+strings.Join(problems, "\n  "))
		code = 1
	}
	if code == 0 {
		if problems := checkLeastPrivilege(h.iam, svc.Template); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "FAIL: the functions' permissions do not match what they call:\n  "+strings.Join(problems, "\n  "))
			code = 1
		}
	}
	return code
}

// lineBuffer collects the functions' audit lines.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns every line written so far, decoded.
func (b *lineBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// clock is the functions' time; tests move it forward to expire things.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *clock) Reset()                  { c.offset.Store(0) }

// countingHasher counts argon2 verifications.
type countingHasher struct {
	secret.Hasher
	verifies atomic.Int64
}

func (c *countingHasher) Verify(phc, value string) (bool, error) {
	c.verifies.Add(1)
	return c.Hasher.Verify(phc, value)
}

// callCounter counts the HTTP requests the SDK sends, per service and
// operation; it sits in the finalize step, so each retry counts too.
type callCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *callCounter) install(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("CountCalls",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[string]int{}
			}
			c.counts[awsmiddleware.GetServiceID(ctx)+":"+awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (c *callCounter) reset() {
	c.mu.Lock()
	c.counts = map[string]int{}
	c.mu.Unlock()
}

func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// send performs a request against the gateway. body may be nil, a string
// (sent as is) or a value (sent as JSON).
func send(t *testing.T, method, path, bearer string, body any, headers ...string) response {
	t.Helper()
	return sendVia(t, env.http, method, path, bearer, body, headers...)
}

// fromAddress returns an HTTP client whose connections come from ip, a
// loopback address other than 127.0.0.1, as a second caller would.
func fromAddress(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
}

// sendVia is send over hc.
func sendVia(t *testing.T, hc *http.Client, method, path, bearer string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentType = strings.NewReader(b), "application/json"
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, env.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// tokenFor runs a client_secret_post token request at the tenant's endpoint
// and fails the test unless it succeeds.
func tokenFor(t *testing.T, ten, clientID, clientSecret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := send(t, http.MethodPost, tokenPath(ten), "", form)
	if r.Status != http.StatusOK {
		t.Fatalf("token request for %s: %s", clientID, r)
	}
	return r.json(t)["access_token"].(string)
}

func tokenPath(ten string) string {
	if ten == tenant.Default {
		return "/connect/token"
	}
	return "/" + ten + "/connect/token"
}

func adminToken(t *testing.T) string {
	t.Helper()
	return tokenFor(t, tenant.Default, env.admin.ClientID, env.admin.ClientSecret, "")
}

// clientBody is a valid create body; tweak fields per test.
func clientBody(name string, scopes ...string) map[string]any {
	if scopes == nil {
		scopes = []string{"api"}
	}
	return map[string]any{
		"name": name, "description": "integration test client", "allowedGrantTypes": []string{"client_credentials"},
		"allowedScopes": scopes, "redirectUris": []string{},
	}
}

// newClient creates a client with one secret and returns its id and the
// secret's value.
func newClient(t *testing.T, admin, name string, scopes ...string) (id, value string) {
	t.Helper()
	r := send(t, http.MethodPost, "/v1/clients", admin, clientBody(name, scopes...))
	if r.Status != http.StatusCreated {
		t.Fatalf("create client: %s", r)
	}
	id = r.json(t)["clientId"].(string)
	value = "s3cret-" + name
	if len(value) > 32 {
		value = value[:32]
	}
	s := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": value, "description": "first"})
	if s.Status != http.StatusCreated {
		t.Fatalf("create secret: %s", s)
	}
	return id, value
}
