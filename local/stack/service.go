package stack

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/shared/endpoints/clientsapi"
	"github.com/machine-iam/machine-iam/shared/endpoints/policiesapi"
	"github.com/machine-iam/machine-iam/shared/endpoints/secretsapi"
	"github.com/machine-iam/machine-iam/shared/endpoints/tokenapi"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// Functions maps the logical id of each function in template.yaml to the
// constructor of its handler, as the function's main calls it.
var Functions = map[string]func(*app.Deps) *app.Handler{
	"TokenFunction":    tokenapi.New,
	"ClientsFunction":  clientsapi.New,
	"SecretsFunction":  secretsapi.New,
	"PoliciesFunction": policiesapi.New,
}

// ServiceOptions configures StartService.
type ServiceOptions struct {
	Options
	// IssuerBase is the URL the gateway will be reached at.
	IssuerBase string
	// AWS are extra SDK load options (the tests add call counters).
	AWS []func(*config.LoadOptions) error
	// Configure, when set, may adjust each function's Deps before its
	// handler is built (the tests set clocks and hashers).
	Configure func(function string, d *app.Deps)
	// Route, when set, returns the endpoint the SDK should use for a
	// stand-in's endpoint (the tests put fault-injecting proxies between).
	Route func(service, endpoint string) string
	// Parameters override the template's parameter defaults.
	Parameters map[string]string
}

// Service is the whole service running locally: the stand-ins, the
// provisioned resources and the gateway serving every function.
type Service struct {
	*Stack
	Template  *samtemplate.Template
	Resources Resources
	DynamoDB  *dynamodb.Client
	KMS       *kms.Client
	// Env is what a process needs to reach the stack (AWS_ENDPOINT_URL_*,
	// credentials, TABLE_NAME, SIGNING_KEY_ID, ISSUER_URL).
	Env map[string]string
	// Deps of each function, by logical id.
	Deps    map[string]*app.Deps
	Gateway *gateway.Gateway
	// secrets are the values the template's Secrets Manager references
	// resolved to, by reference.
	secretsMu sync.Mutex
	secrets   map[string]string
}

// ResolveSecret is the value of a Secrets Manager dynamic reference
// ({{resolve:secretsmanager:…}}) in this stack. Secrets Manager has no
// stand-in: each reference resolves to a random value of the stack, the
// same for every function, as CloudFormation resolves it at deploy time.
func (svc *Service) ResolveSecret(ref string) string {
	svc.secretsMu.Lock()
	defer svc.secretsMu.Unlock()
	if _, ok := svc.secrets[ref]; !ok {
		svc.secrets[ref] = rand.Text() + rand.Text()
	}
	return svc.secrets[ref]
}

// Store is the store every function shares (one table): what operator
// commands and tests read and write directly.
func (svc *Service) Store() store.Store { return svc.Deps[svc.Template.APIFunctions()[0]].Store }

// StartService starts the stand-ins, provisions the template's table and
// key, and builds every function's handler behind the gateway, each from the
// environment the template gives it, as separate Lambdas would be.
func StartService(ctx context.Context, opts ServiceOptions) (*Service, error) {
	root := opts.Root
	if root == "" {
		var err error
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
		opts.Root = root
	}
	tmpl, err := samtemplate.Read(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	tmpl.Overrides = opts.Parameters
	stack, err := Start(ctx, opts.Options)
	if err != nil {
		return nil, err
	}
	svc := &Service{Stack: stack, Template: tmpl, Deps: map[string]*app.Deps{}, secrets: map[string]string{}}
	if err := svc.build(ctx, opts); err != nil {
		stack.Stop()
		return nil, err
	}
	return svc, nil
}

func (svc *Service) build(ctx context.Context, opts ServiceOptions) error {
	route := opts.Route
	if route == nil {
		route = func(_, endpoint string) string { return endpoint }
	}
	// The SDK's own variables point it at the stand-ins.
	svc.Env = map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": route("dynamodb", svc.DynamoDBEndpoint),
		"AWS_ENDPOINT_URL_KMS":      route("kms", svc.KMSEndpoint),
		"AWS_ACCESS_KEY_ID":         AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     SecretAccessKey,
		"AWS_REGION":                Region,
		"ISSUER_URL":                opts.IssuerBase,
	}
	// The same settings reach this process's clients as options, not
	// through the process's environment, which belongs to the caller.
	local := []func(*config.LoadOptions) error{config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		app.DependencyMetrics()}
	awsCfg, err := app.LoadAWS(ctx, append(local, opts.AWS...)...)
	if err != nil {
		return err
	}
	svc.DynamoDB = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(svc.Env["AWS_ENDPOINT_URL_DYNAMODB"])
		// DynamoDB Local sends no x-amz-crc32 header on error responses,
		// and the SDK then logs a spurious checksum warning for every
		// failed condition (aws/aws-sdk-go-v2#3545). Real DynamoDB sends
		// it, so only the local clients skip the check.
		o.DisableValidateResponseChecksum = true
	})
	svc.KMS = kms.NewFromConfig(awsCfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(svc.Env["AWS_ENDPOINT_URL_KMS"]) })
	// The table and key are made by clients of their own, with the SDK's
	// ordinary timeouts: a caller's short ones (the fault tests') are for
	// the functions, and a JVM still warming up on a busy machine may take
	// longer than they allow to create a table.
	provCfg, err := app.LoadAWS(ctx, local...)
	if err != nil {
		return err
	}
	provCfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(30 * time.Second)
	provDDB := dynamodb.NewFromConfig(provCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(svc.DynamoDBEndpoint)
		o.DisableValidateResponseChecksum = true
	})
	provKMS := kms.NewFromConfig(provCfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(svc.KMSEndpoint) })
	if svc.Resources, err = Provision(ctx, svc.Template, provDDB, provKMS); err != nil {
		return err
	}
	svc.Env["TABLE_NAME"], svc.Env["SIGNING_KEY_ID"] = svc.Resources.TableName, svc.Resources.KeyAlias
	return svc.buildFunctions(ctx, opts)
}

// buildFunctions builds every function's handler from the environment the
// template gives it, as separate Lambdas would be, behind the gateway.
func (svc *Service) buildFunctions(ctx context.Context, opts ServiceOptions) error {
	handlers := map[string]http.Handler{}
	for _, fn := range svc.Template.APIFunctions() {
		build, ok := Functions[fn]
		if !ok {
			return fmt.Errorf("template function %s has no constructor", fn)
		}
		fnEnv, err := svc.Template.Environment(fn)
		if err != nil {
			return err
		}
		cfg, err := app.ConfigFromEnv(func(k string) string {
			switch k {
			case "ISSUER_URL":
				return opts.IssuerBase
			case "FEDERATION_ALLOW_LOCAL_ISSUERS":
				// The local stack's issuers are http on loopback: its own
				// tenants, and test issuers beside it.
				return "true"
			}
			if v := fnEnv[k]; strings.HasPrefix(v, "{{resolve:secretsmanager:") {
				return svc.ResolveSecret(v)
			}
			return fnEnv[k]
		})
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		deps := app.NewDeps(cfg, svc.DynamoDB, svc.KMS)
		if opts.Configure != nil {
			opts.Configure(fn, deps)
		}
		deps.Warm(gateway.WithFunction(ctx, fn))
		svc.Deps[fn] = deps
		handlers[fn] = build(deps)
	}
	var err error
	svc.Gateway, err = gateway.New(svc.Template, handlers)
	return err
}
