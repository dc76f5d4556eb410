// Command gateway runs the whole service locally, with no AWS account: it
// starts DynamoDB Local and local-kms, creates the table and signing key
// that template.yaml defines, bootstraps the default tenant and prints its
// admin credentials, then serves every function's routes from template.yaml
// on 127.0.0.1:$PORT through the API Gateway payload-2.0 path. Ctrl-C stops
// everything it started. `make run` runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/machine-iam/machine-iam/shared/app"
	"github.com/machine-iam/machine-iam/shared/bootstrap"
	"github.com/machine-iam/machine-iam/shared/gateway"
	"github.com/machine-iam/machine-iam/shared/localstack"
	"github.com/machine-iam/machine-iam/shared/samtemplate"
	"github.com/machine-iam/machine-iam/shared/secret"
	"github.com/machine-iam/machine-iam/shared/tenant"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%s must be a port number", name)
	}
	return n, nil
}

func run(ctx context.Context) error {
	started := time.Now()
	port, err := envInt("PORT", 3000)
	if err != nil {
		return err
	}
	ddbPort, err := envInt("DYNAMODB_PORT", 8000)
	if err != nil {
		return err
	}
	kmsPort, err := envInt("KMS_PORT", 8090)
	if err != nil {
		return err
	}
	root, err := localstack.FindRoot()
	if err != nil {
		return err
	}
	tmpl, err := samtemplate.Read(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	// Claim the gateway's port first: failing after starting the JVM would
	// waste its start-up.
	listener, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("port %d is in use (set PORT): %w", port, err)
	}
	defer listener.Close()

	stack, err := localstack.Start(ctx, localstack.Options{Root: root, DynamoDBPort: ddbPort, KMSPort: kmsPort})
	if err != nil {
		return err
	}
	defer stack.Stop()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	// The SDK's own variables point it at the stand-ins; iamctl reads the
	// same ones from the env file written below.
	env := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": stack.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_KMS":      stack.KMSEndpoint,
		"AWS_ACCESS_KEY_ID":         localstack.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     localstack.SecretAccessKey,
		"AWS_REGION":                localstack.Region,
		"ISSUER_URL":                base,
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	awsCfg, err := app.LoadAWS(ctx)
	if err != nil {
		return err
	}
	ddb, kmsClient := dynamodb.NewFromConfig(awsCfg), kms.NewFromConfig(awsCfg)
	res, err := localstack.Provision(ctx, tmpl, ddb, kmsClient)
	if err != nil {
		return err
	}
	env["TABLE_NAME"], env["SIGNING_KEY_ID"] = res.TableName, res.KeyAlias

	constructors := map[string]func(*app.Deps) http.Handler{
		"TokenFunction": app.Token, "ClientsFunction": app.Clients, "SecretsFunction": app.Secrets,
	}
	handlers := map[string]http.Handler{}
	var anyDeps *app.Deps
	for _, fn := range tmpl.Functions() {
		build, ok := constructors[fn]
		if !ok {
			return fmt.Errorf("template function %s has no constructor", fn)
		}
		// Each function gets the environment the template gives it, and
		// its own dependencies, as separate Lambdas would.
		fnEnv, err := tmpl.Environment(fn)
		if err != nil {
			return err
		}
		cfg, err := app.ConfigFromEnv(func(k string) string {
			if k == "ISSUER_URL" {
				return base
			}
			return fnEnv[k]
		})
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		deps := app.NewDeps(cfg, ddb, kmsClient)
		deps.Warm(ctx)
		handlers[fn] = build(deps)
		anyDeps = deps
	}
	gw, err := gateway.New(tmpl, handlers)
	if err != nil {
		return err
	}
	gw.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))

	admin, err := bootstrap.Tenant(ctx, anyDeps.Store, secret.DefaultArgon2id, tenant.Default, base, time.Now())
	if err != nil {
		return fmt.Errorf("bootstrap default tenant: %w", err)
	}
	envFile := filepath.Join(root, ".run", "local.env")
	if err := writeEnvFile(envFile, env); err != nil {
		return err
	}
	defer os.Remove(envFile)

	out, _ := json.Marshal(admin)
	fmt.Println(string(out))
	fmt.Fprintf(os.Stderr, "\nmachine-iam is serving on %s (ready in %s)\n", base, time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "  tenant default admin: client_id=%s client_secret=%s\n", admin.ClientID, admin.ClientSecret)
	fmt.Fprintf(os.Stderr, "  DynamoDB Local %s, local-kms %s. Ctrl-C stops everything.\n\n", stack.DynamoDBEndpoint, stack.KMSEndpoint)

	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(listener) }()
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "\nstopping")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// writeEnvFile records where the running stack is, for `make bootstrap`.
func writeEnvFile(path string, env map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b []byte
	for _, k := range []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KMS", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_REGION", "ISSUER_URL", "TABLE_NAME", "SIGNING_KEY_ID"} {
		b = fmt.Appendf(b, "%s=%s\n", k, env[k])
	}
	return os.WriteFile(path, b, 0o600)
}
