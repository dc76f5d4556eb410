// Package app wires the functions: it reads the configuration from the
// environment, builds the AWS clients once per process into Deps, and wraps
// each function's router in the middleware every function shares. The
// handler packages build their handlers from Deps; the Lambda mains, the
// local stack and the tests all go through them, so they run one code path.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/runtime/version"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// Config is the deployment configuration, read from the environment that
// template.yaml sets.
type Config struct {
	TableName             string        // TABLE_NAME
	SigningKeyID          string        // SIGNING_KEY_ID: key id, ARN or alias
	PreviousSigningKeyIDs []string      // PREVIOUS_SIGNING_KEY_IDS, comma-separated
	IssuerURL             string        // ISSUER_URL; empty: https://<request host>
	TokenLifetime         time.Duration // TOKEN_LIFETIME_SECONDS, default 3600
	// MaxTokenLifetime bounds what a client's accessTokenLifetime may ask
	// (MAX_TOKEN_LIFETIME_SECONDS, default 86400, at least TokenLifetime).
	MaxTokenLifetime time.Duration
	Lockout          lockout.Limits // LOCKOUT_THRESHOLD (10), LOCKOUT_CEILING (100), LOCKOUT_WINDOW_SECONDS (300)
	// RequestTimeout bounds all the dependency work of one request, so a
	// stalled dependency gives a 503 before the function's own timeout
	// (10 s in template.yaml) cuts the response off.
	RequestTimeout time.Duration // REQUEST_TIMEOUT_SECONDS, default 8
	// KeyRefresh is how often each signing key id (usually an alias) is
	// resolved again, so a rotation takes effect without recycling
	// functions (SIGNING_KEY_REFRESH_SECONDS, default 300).
	KeyRefresh time.Duration
	// TokenReusePercent, when not 0, hands out a token again while at least
	// this percentage of its lifetime remains (TOKEN_REUSE_PERCENT, 0–99).
	TokenReusePercent int
	// MaxAssertionLifetime bounds how far ahead a private_key_jwt client
	// assertion's exp may be (MAX_ASSERTION_LIFETIME_SECONDS, 60–86400,
	// default 3600); its jti is kept that long against replay.
	MaxAssertionLifetime time.Duration
	// SecretTagKey keys the tags that pick which stored secret a presented
	// one may be (SECRET_TAG_KEY, at least 32 random characters; empty: no
	// tags, every secret of a client is verified).
	SecretTagKey []byte
	// SigningKeysMACKey authenticates the signing-key resolutions the
	// functions share in the table (SIGNING_KEYS_MAC_KEY, at least 32
	// random characters; empty: nothing is shared, every new instance
	// calls kms:GetPublicKey).
	SigningKeysMACKey []byte
	// DecisionTTL is how long an API's servers may cache an answer of
	// POST /v1/decisions (DECISION_TTL_SECONDS, 0–3600, default 60): the
	// longest a revocation or kill switch can go unnoticed there.
	DecisionTTL time.Duration
	// Federation configures federated credentials.
	Federation Federation
}

// Federation is the deployment's settings for federated credentials.
type Federation struct {
	// AllowLocalIssuers admits http issuers and issuer keys fetched from
	// loopback, private and link-local addresses
	// (FEDERATION_ALLOW_LOCAL_ISSUERS=true): for local development and
	// tests only, never in a deployment reachable from outside.
	AllowLocalIssuers bool
	// MaxTokenLifetime bounds how long a presented external token may
	// still live (FEDERATION_MAX_TOKEN_LIFETIME_SECONDS, 60–86400, default
	// 3600).
	MaxTokenLifetime time.Duration
	// STSEndpoints are the STS endpoints AWS credentials are checked at
	// (FEDERATION_STS_ENDPOINTS, comma-separated https URLs; default the
	// global and regional endpoints of the aws partition).
	STSEndpoints []string
}

// ConfigFromEnv reads Config with getenv (os.Getenv in production).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	e := &envReader{getenv: getenv}
	c := Config{
		TableName:    e.required("TABLE_NAME"),
		SigningKeyID: e.required("SIGNING_KEY_ID"),
		IssuerURL:    e.issuerURL("ISSUER_URL"),
	}
	for _, k := range strings.Split(getenv("PREVIOUS_SIGNING_KEY_IDS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.PreviousSigningKeyIDs = append(c.PreviousSigningKeyIDs, k)
		}
	}
	c.TokenLifetime = e.seconds("TOKEN_LIFETIME_SECONDS", 60, 86400, token.DefaultLifetime)
	c.MaxTokenLifetime = e.seconds("MAX_TOKEN_LIFETIME_SECONDS", 60, 86400, 24*time.Hour)
	if c.MaxTokenLifetime < c.TokenLifetime {
		e.fail("MAX_TOKEN_LIFETIME_SECONDS must be at least TOKEN_LIFETIME_SECONDS")
	}
	c.RequestTimeout = e.seconds("REQUEST_TIMEOUT_SECONDS", 1, 900, DefaultRequestTimeout)
	c.TokenReusePercent = e.int("TOKEN_REUSE_PERCENT", 0, 99, 0)
	c.MaxAssertionLifetime = e.seconds("MAX_ASSERTION_LIFETIME_SECONDS", 60, 86400, clientkey.DefaultMaxAssertionLifetime)
	c.Federation = e.federation()
	c.DecisionTTL = e.seconds("DECISION_TTL_SECONDS", 0, 3600, time.Minute)
	c.KeyRefresh = e.seconds("SIGNING_KEY_REFRESH_SECONDS", 1, 86400, kmssigner.DefaultResolveEvery)
	c.Lockout = lockout.Limits{
		Threshold: e.int("LOCKOUT_THRESHOLD", 1, 10000, lockout.DefaultThreshold),
		// The ceiling bounds what one window's count item holds (an
		// attribute per address), far below DynamoDB's item size limit.
		Ceiling: e.int("LOCKOUT_CEILING", 1, 2000, lockout.DefaultCeiling),
		Window:  e.seconds("LOCKOUT_WINDOW_SECONDS", 1, 86400, lockout.DefaultWindow),
	}
	if c.Lockout.Ceiling < c.Lockout.Threshold {
		e.fail("LOCKOUT_CEILING must be at least LOCKOUT_THRESHOLD")
	}
	c.SecretTagKey = e.key("SECRET_TAG_KEY", secret.MinTagKeyLength)
	c.SigningKeysMACKey = e.key("SIGNING_KEYS_MAC_KEY", kmssigner.MinShareKeyLength)
	return c, errors.Join(e.errs...)
}

// envReader reads typed variables, collecting what is wrong with each so
// that a misconfigured function names every mistake at once.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (e *envReader) fail(format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf(format, args...))
}

func (e *envReader) required(name string) string {
	v := e.getenv(name)
	if v == "" {
		e.fail("%s is required", name)
	}
	return v
}

func (e *envReader) int(name string, lo, hi, def int) int {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		e.fail("%s must be an integer from %d to %d", name, lo, hi)
		return def
	}
	return n
}

// seconds reads a whole number of seconds from lo to hi.
func (e *envReader) seconds(name string, lo, hi int, def time.Duration) time.Duration {
	return time.Duration(e.int(name, lo, hi, int(def/time.Second))) * time.Second
}

// key reads a secret key of at least minLength characters; nil when unset.
func (e *envReader) key(name string, minLength int) []byte {
	v := e.getenv(name)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "{{resolve:") {
		// Only CloudFormation resolves dynamic references; anywhere else
		// (sam local without events/env.json) the text itself would be a
		// key everyone can read in the template.
		e.fail("%s is an unresolved dynamic reference: set the value itself", name)
	}
	if len(v) < minLength {
		e.fail("%s must be at least %d random characters", name, minLength)
	}
	return []byte(v)
}

// issuerURL reads the issuer base: a scheme and host only. A path would be
// read as a tenant, leaving the discovery document and the token endpoint
// unreachable.
func (e *envReader) issuerURL(name string) string {
	v := strings.TrimSuffix(e.getenv(name), "/")
	if v == "" {
		return ""
	}
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		e.fail("%s must be an absolute http(s) URL", name)
	}
	if u, err := url.Parse(v); err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		e.fail("%s must be a scheme and host only, without a path (https://id.example.com)", name)
	}
	if len(v) > tenant.MaxBaseURLLength {
		e.fail("%s must be at most %d characters: every token carries it", name, tenant.MaxBaseURLLength)
	}
	return v
}

func (e *envReader) federation() Federation {
	f := Federation{MaxTokenLifetime: e.seconds("FEDERATION_MAX_TOKEN_LIFETIME_SECONDS", 60, 86400, federation.DefaultMaxTokenLifetime)}
	switch e.getenv("FEDERATION_ALLOW_LOCAL_ISSUERS") {
	case "", "false":
	case "true":
		f.AllowLocalIssuers = true
	default:
		e.fail("FEDERATION_ALLOW_LOCAL_ISSUERS must be true or false")
	}
	for _, u := range strings.Split(e.getenv("FEDERATION_STS_ENDPOINTS"), ",") {
		if u = strings.TrimSuffix(strings.TrimSpace(u), "/"); u == "" {
			continue
		}
		if !strings.HasPrefix(u, "https://") && !(f.AllowLocalIssuers && strings.HasPrefix(u, "http://")) {
			e.fail("FEDERATION_STS_ENDPOINTS must be https URLs")
		}
		f.STSEndpoints = append(f.STSEndpoints, u)
	}
	return f
}

// DependencyTimeout bounds each attempt of an AWS call; the SDK retries a
// failed attempt (three attempts in all) within the request's budget.
const DependencyTimeout = 2 * time.Second

// DefaultRequestTimeout is the budget of one request's dependency work.
const DefaultRequestTimeout = 8 * time.Second

// LoadAWS loads the AWS configuration the ordinary way (environment, shared
// files, the Lambda role), with bounded HTTP timeouts. Endpoints of local
// stand-ins come from AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS.
func LoadAWS(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	httpClient := awshttp.NewBuildableClient().WithTimeout(DependencyTimeout)
	opts = append([]func(*config.LoadOptions) error{config.WithHTTPClient(httpClient)}, opts...)
	return config.LoadDefaultConfig(ctx, opts...)
}

// Signer signs tokens and publishes the keys that verify them.
type Signer interface {
	signer.Signer
	signer.KeySet
}

// Deps are the long-lived parts every handler is built from. Build them
// once per process. The handler packages construct their handlers from
// them (clientsapi.New and the like), so each function links only its own.
type Deps struct {
	Config   Config
	Store    store.Store
	Signer   Signer
	Hasher   secret.Hasher
	Verifier *secret.Verifier
	// Tags is nil when no SecretTagKey is configured.
	Tags *secret.Tagger
	// Catalogs are each tenant's APIs, scopes and actions: the
	// deployment's declared APIs and the tenant's registered ones.
	Catalogs *access.Catalogs
	// Audit receives one JSON line per management change and per token
	// request.
	Audit *slog.Logger
	Now   func() time.Time
}

// NewDeps builds Deps over the given DynamoDB and KMS clients.
func NewDeps(cfg Config, ddb dynamo.API, kmsAPI kmssigner.API) *Deps {
	hasher := secret.DefaultArgon2id
	sig := kmssigner.New(kmsAPI, cfg.SigningKeyID, cfg.PreviousSigningKeyIDs...)
	// A Config built by hand (tests, benchmarks) may leave KeyRefresh 0,
	// which would read the keys again for every token.
	if cfg.KeyRefresh > 0 {
		sig.ResolveEvery = cfg.KeyRefresh
	}
	st := dynamo.New(ddb, cfg.TableName)
	sig.Shared, sig.ShareKey = st, cfg.SigningKeysMACKey
	// A replaced key stays published while tokens it signed may be alive:
	// other instances may sign with it for up to one refresh interval after
	// this one noticed the change.
	sig.Retain = max(cfg.TokenLifetime, cfg.MaxTokenLifetime) + token.DefaultLeeway + cfg.KeyRefresh
	// ConfigFromEnv checked the key's length; none gives a nil Tagger.
	tags, _ := secret.NewTagger(cfg.SecretTagKey)
	return &Deps{
		Config:   cfg,
		Tags:     tags,
		Store:    st,
		Signer:   sig,
		Hasher:   hasher,
		Verifier: secret.NewVerifier(hasher, secret.DefaultCacheEntries),
		Catalogs: access.NewCatalogs(apis.Builtin(), st),
		Audit:    slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		Now:      time.Now,
	}
}

// FromEnvironment builds Deps for a Lambda: configuration from the
// environment, AWS clients from the default chain. It fetches the signing
// key's public key once, so the first request does not pay for it; a
// failure there is logged and retried on first use.
func FromEnvironment(ctx context.Context) (*Deps, error) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := LoadAWS(ctx, DependencyMetrics())
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if len(cfg.SigningKeysMACKey) == 0 {
		slog.Warn("SIGNING_KEYS_MAC_KEY is not set: signing-key resolutions are not shared, every new instance calls kms:GetPublicKey")
	}
	d := NewDeps(cfg, dynamodb.NewFromConfig(awsCfg), kms.NewFromConfig(awsCfg))
	d.Warm(ctx)
	return d, nil
}

// Serve is a function's main: JSON logs, a start-up line naming the
// release, Deps from the environment (exit on a configuration error), then
// the Lambda loop over the handler build makes, through the API Gateway
// payload-2.0 adapter.
func Serve(build func(*Deps) *Handler) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	// First, so that even a configuration error is logged with the code
	// that met it.
	slog.Info("starting", "version", version.Version)
	deps, err := FromEnvironment(context.Background())
	if err != nil {
		slog.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(build(deps)).ProxyWithContext)
}

// Warm fetches the public keys ahead of the first request.
func (d *Deps) Warm(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, DependencyTimeout)
	defer cancel()
	if _, err := d.Signer.Keys(ctx); err != nil {
		slog.Warn("signing key not readable yet", "error", err.Error())
	}
}

// IssuerBase is the base URL issuers are formed from: ISSUER_URL, or the
// https origin of the request (API Gateway always serves https).
func (d *Deps) IssuerBase(r *http.Request) string {
	if d.Config.IssuerURL != "" {
		return d.Config.IssuerURL
	}
	return "https://" + r.Host
}

// Guard is the management API's guard: bearer tokens of this service, and
// decisions by IAM policies.
func (d *Deps) Guard() *access.Guard {
	return &access.Guard{
		Verifier:   &token.Verifier{Keys: d.Signer, Leeway: token.DefaultLeeway, Now: d.Now},
		IssuerBase: d.IssuerBase,
		Authorizer: &access.Policies{Grants: d.Store, Catalogs: d.Catalogs, DefaultLifetime: d.Config.TokenLifetime},
	}
}

// Handler is a function's http.Handler, with the route paths it serves.
type Handler struct {
	http.Handler
	Paths []string
}

// Instrument makes rt a function's handler: it carries the gateway's request
// id into the context, bounds the request's dependency work, writes the
// audit line of every change and every token request, and turns a panic
// into a 500 problem: a caller never sees a stack trace.
func (d *Deps) Instrument(rt *httpapi.Router) *Handler {
	return &Handler{Paths: rt.Patterns(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestID := ""
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
			requestID = gw.RequestID
		}
		ctx, cancel := context.WithTimeout(r.Context(), d.Config.RequestTimeout)
		defer cancel()
		ctx, rec := audit.Start(httpapi.WithRequestID(ctx, requestID))
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				httpapi.WriteProblem(sw, r, fmt.Errorf("panic: %v", v))
			}
			if r.Method != http.MethodGet || rec.Action == "token.issue" {
				if rec.Action == "" {
					// Refused before any route named its action (unknown
					// path, wrong method): the request says what it was.
					rec.Action, rec.Target = "unrouted", audit.RequestTarget(r)
				}
				audit.Write(ctx, d.Audit, requestID, rec, sw.status)
			}
		}()
		rt.ServeHTTP(sw, r)
	})}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
