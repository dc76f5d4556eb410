// Command example serves the example resource server
// (examples/protected-api) locally, through the same template-driven API
// Gateway emulation as `make run`: GET /hello behind the JWT authorizer,
// GET /orders/{orderId} behind the machine-iam Lambda authorizer. It trusts
// the running local stack's default tenant and readies it first: the API
// https://api.example.test registered when absent, and the authorizer's
// own client with iam.decision.check on it. The tenant's admin is
// EXAMPLE_ADMIN (an iamctl profile), or the .run/admin.json that `make run`
// wrote; EXAMPLE_ISSUER overrides the issuer trusted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/protectedapi"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	root, err := stack.FindRoot()
	if err != nil {
		return err
	}
	port := 3001
	if v := os.Getenv("EXAMPLE_PORT"); v != "" {
		if port, err = strconv.Atoi(v); err != nil || port < 1 || port > 65535 {
			return errors.New("EXAMPLE_PORT must be a port number")
		}
	}
	profile := os.Getenv("EXAMPLE_ADMIN")
	if profile == "" {
		profile = filepath.Join(root, ".run", "admin.json")
	}
	admin, err := readProfile(profile)
	if err != nil {
		return err
	}
	issuer := os.Getenv("EXAMPLE_ISSUER")
	if issuer == "" {
		issuer = tenant.Issuer(admin.BaseURL, admin.Tenant)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ready, err := protectedapi.Setup(ctx, admin, nil)
	if err != nil {
		// /hello still works; /orders fails closed until the tenant can be
		// readied.
		log.Error("the tenant could not be readied for GET /orders/{orderId}: its authorizer refuses every request", "error", err.Error())
	}
	gw, err := protectedapi.Gateway(ctx, root, issuer, admin.BaseURL, ready, log)
	if err != nil {
		return err
	}
	gw.Log = log
	fmt.Fprintf(os.Stderr, "example API on http://127.0.0.1:%d, trusting %s (Ctrl-C stops it)\n", port, issuer)
	fmt.Fprintf(os.Stderr, "  GET /hello             JWT authorizer: a token for %s with scope api\n", protectedapi.Identifier)
	fmt.Fprintf(os.Stderr, "  GET /orders/{orderId}  Lambda authorizer: scope orders.read, and orders.order.read on /orders/{orderId}\n")
	if ready.APIID != "" {
		fmt.Fprintf(os.Stderr, "  API %s is %s; the authorizer is client %s, allowed iam.decision.check on /apis/%s\n",
			protectedapi.Identifier, ready.APIID, ready.ClientID, ready.APIID)
	}
	srv := &http.Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Handler: gw, MaxHeaderBytes: gateway.MaxHeaderBytes}
	return srv.ListenAndServe()
}

// readProfile reads the admin's credentials from an iamctl profile.
func readProfile(path string) (apiclient.Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return apiclient.Credentials{}, errors.New("no admin credentials at " + path + ": start the local stack with make run, or set EXAMPLE_ADMIN to an iamctl profile")
	}
	var c apiclient.Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return apiclient.Credentials{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, c.Check()
}
