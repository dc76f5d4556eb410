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
	port, err := envPort("PORT", 3000)
	if err != nil {
		return err
	}
	ddbPort, err := envPort("DYNAMODB_PORT", 8000)
	if err != nil {
		return err
	}
	kmsPort, err := envPort("KMS_PORT", 8090)
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

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	params := map[string]string{}
	if spec := os.Getenv("SIGNING_KEY_SPEC"); spec != "" {
		if spec != "RSA_2048" && spec != "ECC_NIST_P256" {
			return errors.New("SIGNING_KEY_SPEC must be RSA_2048 or ECC_NIST_P256")
		}
		params["SigningKeySpec"] = spec
	}
	svc, err := stack.StartService(ctx, stack.ServiceOptions{
		Options:    stack.Options{DynamoDBPort: ddbPort, KMSPort: kmsPort},
		IssuerBase: base,
		Parameters: params,
	})
	if err != nil {
		return err
	}
	defer svc.Stop()
	svc.Gateway.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))

	admin, err := operator.Bootstrap(ctx, svc.Deps["ClientsFunction"].Store, secret.DefaultArgon2id, tenant.Default, base, time.Now())
	if err != nil {
		return fmt.Errorf("bootstrap default tenant: %w", err)
	}
	root, _ := stack.FindRoot()
	envFile := filepath.Join(root, ".run", "local.env")
	if err := writeEnvFile(envFile, svc.Env); err != nil {
		return err
	}
	defer os.Remove(envFile)
	// The admin's credentials as an iamctl profile, readable by its owner
	// alone: IAMCTL_PROFILE=.run/admin.json iamctl clients list.
	profile := filepath.Join(root, ".run", "admin.json")
	if err := writeProfile(profile, admin); err != nil {
		return err
	}
	defer os.Remove(profile)

	out, _ := json.Marshal(admin)
	fmt.Println(string(out))
	fmt.Fprintf(os.Stderr, "\nmachine-iam is serving on %s (ready in %s)\n", base, time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "  tenant default admin: client_id=%s client_secret=%s\n", admin.ClientID, admin.ClientSecret)
	fmt.Fprintf(os.Stderr, "  iamctl profile: IAMCTL_PROFILE=%s go run ./cmd/iamctl clients list\n", profile)
	fmt.Fprintf(os.Stderr, "  DynamoDB Local %s, local-kms %s. Ctrl-C stops everything.\n\n", svc.DynamoDBEndpoint, svc.KMSEndpoint)

	// The API description is served beside the API, for clients to generate
	// from; API Gateway does not route it in the cloud.
	// (Not a ServeMux: it would clean and redirect paths API Gateway passes
	// through as they are.)
	spec := filepath.Join(root, "docs", "openapi.yaml")
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
