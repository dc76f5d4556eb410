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

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func envPort(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s must be a port number", name)
	}
	return n, nil
}

func run(ctx context.Context) error {
	started := time.Now()
	cfg, err := readConfig()
	if err != nil {
		return err
	}
	// Claim the gateway's port first: failing after starting the JVM would
	// waste its start-up.
	listener, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(cfg.port))
	if err != nil {
		return fmt.Errorf("port %d is in use (set PORT): %w", cfg.port, err)
	}
	defer listener.Close()

	base := "http://127.0.0.1:" + strconv.Itoa(cfg.port)
	// The functions' metrics, one short line each, among the logs (in AWS
	// they are EMF JSON that CloudWatch reads).
	defer metric.SetOutput(os.Stderr, true)()
	svc, err := stack.StartService(ctx, stack.ServiceOptions{
		Options:    stack.Options{DynamoDBPort: cfg.dynamoDBPort, KMSPort: cfg.kmsPort},
		IssuerBase: base,
		Parameters: cfg.parameters,
	})
	if err != nil {
		return err
	}
	defer svc.Stop()
	svc.Gateway.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))

	admin, err := operator.Operator{Store: svc.Store(), Hasher: secret.DefaultArgon2id, IssuerBase: base, Now: time.Now()}.Bootstrap(ctx, tenant.Default)
	if err != nil {
		return fmt.Errorf("bootstrap default tenant: %w", err)
	}
	root, _ := stack.FindRoot()
	cleanup, err := publish(root, svc, admin)
	defer cleanup()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\nmachine-iam is serving on %s (ready in %s)\n", base, time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "  tenant default admin: client_id=%s client_secret=%s\n", admin.ClientID, admin.ClientSecret)
	fmt.Fprintf(os.Stderr, "  iamctl profile: IAMCTL_PROFILE=.run/admin.json bin/iamctl clients list (make iamctl builds it)\n")
	fmt.Fprintf(os.Stderr, "  DynamoDB Local %s, local-kms %s, both in memory: nothing is kept after Ctrl-C, which stops everything.\n\n",
		svc.DynamoDBEndpoint, svc.KMSEndpoint)
	return serve(ctx, listener, svc, filepath.Join(root, "docs", "openapi.yaml"))
}

// config is what make run passes in the environment.
type config struct {
	port, dynamoDBPort, kmsPort int
	// parameters override template.yaml's defaults.
	parameters map[string]string
}

func readConfig() (config, error) {
	var c config
	var err error
	if c.port, err = envPort("PORT", 3000); err != nil {
		return c, err
	}
	if c.dynamoDBPort, err = envPort("DYNAMODB_PORT", 8000); err != nil {
		return c, err
	}
	if c.kmsPort, err = envPort("KMS_PORT", 8090); err != nil {
		return c, err
	}
	c.parameters = map[string]string{}
	if spec := os.Getenv("SIGNING_KEY_SPEC"); spec != "" {
		if spec != "RSA_2048" && spec != "ECC_NIST_P256" {
			return c, errors.New("SIGNING_KEY_SPEC must be RSA_2048 or ECC_NIST_P256")
		}
		c.parameters["SigningKeySpec"] = spec
	}
	return c, nil
}

// publish writes what other commands read while the stack runs (the
// stand-ins' endpoints for make bootstrap, the admin's iamctl profile) and
// prints the admin's credentials as one JSON line; cleanup removes the files.
func publish(root string, svc *stack.Service, admin operator.Result) (cleanup func(), err error) {
	envFile := filepath.Join(root, ".run", "local.env")
	profile := filepath.Join(root, ".run", "admin.json")
	cleanup = func() { os.Remove(envFile); os.Remove(profile) }
	if err := writeEnvFile(envFile, svc.Env); err != nil {
		return cleanup, err
	}
	// The admin's credentials as an iamctl profile, readable by its owner
	// alone: IAMCTL_PROFILE=.run/admin.json iamctl clients list.
	if err := writeProfile(profile, admin); err != nil {
		return cleanup, err
	}
	out, _ := json.Marshal(admin)
	fmt.Println(string(out))
	return cleanup, nil
}

// serve answers on listener until ctx ends: every route through the API
// Gateway emulation, and the API description beside it, for clients to
// generate from (API Gateway does not route it in the cloud). Not a
// ServeMux: it would clean and redirect paths API Gateway passes through
// as they are.
func serve(ctx context.Context, listener net.Listener, svc *stack.Service, spec string) error {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/openapi.yaml" {
			w.Header().Set("Content-Type", "application/yaml")
			http.ServeFile(w, r, spec)
			return
		}
		svc.Gateway.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: gateway.MaxHeaderBytes}
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

// writeProfile writes the admin's credentials for iamctl, replacing those of
// an earlier run.
func writeProfile(path string, admin operator.Result) error {
	b, err := json.MarshalIndent(admin, "", "  ")
	if err != nil {
		return err
	}
	_ = os.Remove(path)
	return os.WriteFile(path, append(b, '\n'), 0o600)
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
