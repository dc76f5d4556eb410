// Command iamctl is the operator's tool, for what the HTTP API deliberately
// does not offer. Tenants are never created over HTTP; an operator creates
// one, with its first admin client, by
//
//	iamctl bootstrap --tenant NAME
//
// and gives a tenant that lost every usable owner a fresh one by
//
//	iamctl recover --tenant NAME
//
// Both print {"tenant","clientId","clientSecret","issuer","tokenEndpoint"} on
// stdout; recover also writes an audit line on stderr. They use the ordinary
// AWS configuration (profile, region, role) and read TABLE_NAME and
// ISSUER_URL from the environment or flags; against the local stack,
// `make bootstrap TENANT=NAME` and `make recover TENANT=NAME` set them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/app"
	"github.com/machine-iam/machine-iam/shared/audit"
	"github.com/machine-iam/machine-iam/shared/secret"
	"github.com/machine-iam/machine-iam/shared/store/dynamo"
)

const usage = `usage: iamctl bootstrap|recover --tenant NAME [--table TABLE] [--issuer URL]

  bootstrap   create tenant NAME and its admin client; print its credentials as JSON
  recover     give existing tenant NAME a new client holding owner on /; print its
              credentials as JSON and an audit line on stderr
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "iamctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "bootstrap" && args[0] != "recover" {
		fmt.Fprint(stderr, usage)
		return errors.New("unknown or missing command")
	}
	command := args[0]
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("tenant", "", "tenant (1-63 of a-z, 0-9, -)")
	table := fs.String("table", os.Getenv("TABLE_NAME"), "DynamoDB table (default $TABLE_NAME)")
	issuer := fs.String("issuer", os.Getenv("ISSUER_URL"), "issuer base URL, e.g. https://id.example.com (default $ISSUER_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case *name == "":
		return errors.New("--tenant is required")
	case *table == "":
		return errors.New("--table or TABLE_NAME is required")
	case !strings.HasPrefix(*issuer, "https://") && !strings.HasPrefix(*issuer, "http://"):
		return errors.New("--issuer or ISSUER_URL must be the service's base URL")
	}
	awsCfg, err := app.LoadAWS(ctx)
	if err != nil {
		return err
	}
	st := dynamo.New(dynamodb.NewFromConfig(awsCfg), *table)
	base := strings.TrimSuffix(*issuer, "/")
	if command == "bootstrap" {
		res, err := operator.Bootstrap(ctx, st, secret.DefaultArgon2id, *name, base, time.Now())
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	}
	res, err := operator.Recover(ctx, st, secret.DefaultArgon2id, *name, base, time.Now())
	if err != nil {
		return err
	}
	// The same audit line the functions write for a change over HTTP.
	audit.Write(ctx, slog.New(slog.NewJSONHandler(stderr, nil)), "",
		&audit.Record{Tenant: res.Tenant, Caller: "operator (iamctl recover)", Action: "iam.recover",
			Target: "/clients/" + res.ClientID}, http.StatusCreated)
	return json.NewEncoder(stdout).Encode(res)
}
