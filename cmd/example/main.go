// Command example serves the example resource server
// (examples/protected-api) locally, through the same template-driven API
// Gateway emulation as `make run`, JWT authorizer included. It trusts the
// running local stack's default tenant: EXAMPLE_ISSUER, or the ISSUER_URL
// that `make run` wrote to .run/local.env.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/machine-iam/machine-iam/examples/protected-api/hello"
	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/local/stack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := stack.FindRoot()
	if err != nil {
		return err
	}
	issuer := os.Getenv("EXAMPLE_ISSUER")
	if issuer == "" {
		if issuer, err = runningIssuer(filepath.Join(root, ".run", "local.env")); err != nil {
			return err
		}
	}
	port := 3001
	if v := os.Getenv("EXAMPLE_PORT"); v != "" {
		if port, err = strconv.Atoi(v); err != nil || port < 1 || port > 65535 {
			return errors.New("EXAMPLE_PORT must be a port number")
		}
	}
	tmpl, err := samtemplate.Read(filepath.Join(root, "examples", "protected-api", "template.yaml"))
	if err != nil {
		return err
	}
	tmpl.Overrides = map[string]string{"IssuerUrl": issuer}
	gw, err := gateway.New(tmpl, map[string]http.Handler{"HelloFunction": hello.Handler()})
	if err != nil {
		return err
	}
	gw.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	fmt.Fprintf(os.Stderr, "example API on http://127.0.0.1:%d/hello, trusting %s (Ctrl-C stops it)\n", port, issuer)
	srv := &http.Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Handler: gw, MaxHeaderBytes: gateway.MaxHeaderBytes}
	return srv.ListenAndServe()
}

// runningIssuer reads ISSUER_URL from the environment file of a running
// `make run`.
func runningIssuer(envFile string) (string, error) {
	f, err := os.Open(envFile)
	if err != nil {
		return "", errors.New("the local stack is not running: start it with make run, or set EXAMPLE_ISSUER")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ISSUER_URL="); ok {
			return strings.Trim(v, `"'`), nil
		}
	}
	return "", errors.New(envFile + " has no ISSUER_URL")
}
