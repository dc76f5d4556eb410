package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
	"github.com/machine-iam/machine-iam/shared/web/audit"
)

func init() {
	commands["bootstrap"] = func(ctx context.Context, cio cmdIO, args []string) error { return operate(ctx, cio, "bootstrap", args) }
	commands["recover"] = func(ctx context.Context, cio cmdIO, args []string) error { return operate(ctx, cio, "recover", args) }
	commands["upgrade"] = upgrade
}

// operatorFlags are the flags of the commands that use AWS credentials.
func operatorFlags(cio cmdIO, command string) (fs *flag.FlagSet, tenant, table *string) {
	fs = flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(cio.stderr)
	tenant = fs.String("tenant", "", "tenant (1-63 of a-z, 0-9, -)")
	table = fs.String("table", cio.getenv("TABLE_NAME"), "DynamoDB table (default $TABLE_NAME)")
	return fs, tenant, table
}

// parseOperator parses args and checks the flags every operator command
// needs.
func parseOperator(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitCode(exitOK)
		}
		return exitCode(exitUsage)
	}
	switch {
	case fs.Lookup("tenant").Value.String() == "":
		return usagef("--tenant is required")
	case fs.Lookup("table").Value.String() == "":
		return usagef("--table or TABLE_NAME is required")
	}
	return nil
}

// upgrade brings a tenant stored by an older version to the current layout
// (docs/deploy.md, "Upgrading"); idempotent.
func upgrade(ctx context.Context, cio cmdIO, args []string) error {
	fs, name, table := operatorFlags(cio, "upgrade")
	if err := parseOperator(fs, args); err != nil {
		return err
	}
	awsCfg, err := app.LoadAWS(ctx)
	if err != nil {
		return err
	}
	n, err := dynamo.New(dynamodb.NewFromConfig(awsCfg), *table).UpgradeTenant(ctx, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(cio.stdout, "tenant %s: %d clients and groups brought to the current layout; counts in place\n", *name, n)
	return nil
}

// operate runs bootstrap or recover, which write to DynamoDB with the
// operator's AWS credentials: tenants are never created, nor owners
// restored, over HTTP. The credentials printed (or written to --out) are an
// iamctl profile.
func operate(ctx context.Context, cio cmdIO, command string, args []string) error {
	fs, name, table := operatorFlags(cio, command)
	issuer := fs.String("issuer", cio.getenv("ISSUER_URL"), "issuer base URL, e.g. https://id.example.com (default $ISSUER_URL)")
	out := fs.String("out", "-", "write the admin credentials (an iamctl profile) to this new file, mode 0600; - is standard output")
	if err := parseOperator(fs, args); err != nil {
		return err
	}
	if !strings.HasPrefix(*issuer, "https://") && !strings.HasPrefix(*issuer, "http://") {
		return usagef("--issuer or ISSUER_URL must be the service's base URL")
	}
	awsCfg, err := app.LoadAWS(ctx)
	if err != nil {
		return err
	}
	st := dynamo.New(dynamodb.NewFromConfig(awsCfg), *table)
	base := strings.TrimSuffix(*issuer, "/")
	var res operator.Result
	if command == "bootstrap" {
		res, err = operator.Bootstrap(ctx, st, secret.DefaultArgon2id, *name, base, time.Now())
	} else {
		res, err = operator.Recover(ctx, st, secret.DefaultArgon2id, *name, base, time.Now())
		if err == nil {
			// The same audit line the functions write for a change over HTTP.
			audit.Write(ctx, slog.New(slog.NewJSONHandler(cio.stderr, nil)), "",
				&audit.Record{Tenant: res.Tenant, Caller: "operator (iamctl recover)", Action: "iam.recover",
					Target: "/clients/" + res.ClientID}, http.StatusCreated)
		}
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	b = append(b, '\n')
	if *out == "-" {
		_, err = cio.stdout.Write(b)
		return err
	}
	if err := writeSecretFile(*out, b); err != nil {
		return errors.Join(errors.New("the admin client was created, but writing its credentials failed; run iamctl recover"), err)
	}
	return nil
}
