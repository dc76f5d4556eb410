// Command iamctl is the operator's tool. Tenants are never created over
// HTTP; an operator creates one, with its first admin client, by
//
//	iamctl bootstrap --tenant NAME
//
// which prints {"tenant","clientId","clientSecret","issuer","tokenEndpoint"}.
// It uses the ordinary AWS configuration (profile, region, role) and reads
// TABLE_NAME and ISSUER_URL from the environment or flags; against the local
// stack, `make bootstrap TENANT=NAME` sets them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/machine-iam/machine-iam/shared/app"
	"github.com/machine-iam/machine-iam/shared/bootstrap"
	"github.com/machine-iam/machine-iam/shared/secret"
	"github.com/machine-iam/machine-iam/shared/store/dynamo"
)

const usage = `usage: iamctl bootstrap --tenant NAME [--table TABLE] [--issuer URL]

  bootstrap   create tenant NAME and its admin client; print its credentials as JSON
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "iamctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "bootstrap" {
		fmt.Fprint(stderr, usage)
		return errors.New("unknown or missing command")
	}
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("tenant", "", "tenant to create (1-63 of a-z, 0-9, -)")
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
	res, err := bootstrap.Tenant(ctx, st, secret.DefaultArgon2id, *name, strings.TrimSuffix(*issuer, "/"), time.Now())
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
