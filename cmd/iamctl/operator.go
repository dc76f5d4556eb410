package main

import (
	"context"
	"encoding/json"
	"errors"
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

// operatorFlags are the flags of the commands that use AWS credentials.
type operatorFlags struct {
	tenant, table *string
}

func addOperatorFlags(f *flags) operatorFlags {
	return operatorFlags{
		tenant: f.String("tenant", "", "tenant (1-63 of a-z, 0-9, -)"),
		table:  f.String("table", f.cio.getenv("TABLE_NAME"), "DynamoDB table (default $TABLE_NAME)"),
	}
}

// check reports the flag every operator command needs and lacks.
func (o operatorFlags) check() error {
	switch {
	case *o.tenant == "":
		return usagef("--tenant is required")
	case *o.table == "":
		return usagef("--table or TABLE_NAME is required")
	}
	return nil
}

// store is the table, read and written with the operator's AWS
// credentials. DynamoDB Local (an endpoint given by
// AWS_ENDPOINT_URL_DYNAMODB) sends no checksum on its error responses, and
// the SDK would warn of each: its responses are not checked, so an
// operator's run says nothing it need not; DynamoDB's are.
func (o operatorFlags) store(ctx context.Context, cio cmdIO) (*dynamo.Store, error) {
	awsCfg, err := app.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	local := cio.getenv("AWS_ENDPOINT_URL_DYNAMODB") != ""
	return dynamo.New(dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = local }), *o.table), nil
}

// upgrade brings a tenant stored by an older version to the current layout
// (docs/deploy.md, "Upgrading"); idempotent.
func upgrade(f *flags) runner {
	o := addOperatorFlags(f)
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		st, err := o.store(ctx, cio)
		if err != nil {
			return err
		}
		n, err := st.UpgradeTenant(ctx, *o.tenant)
		if err != nil {
			return err
		}
		fmt.Fprintf(cio.stdout, "tenant %s: %d clients and groups brought to the current layout; counts and grants items in place\n", *o.tenant, n)
		return nil
	}
}

func bootstrap(f *flags) runner     { return operate(f, "bootstrap") }
func recoverTenant(f *flags) runner { return operate(f, "recover") }

// operate runs bootstrap or recover, which write to DynamoDB with the
// operator's AWS credentials: tenants are never created, nor owners
// restored, over HTTP. The credentials printed (or written to --out) are an
// iamctl profile.
func operate(f *flags, command string) runner {
	o := addOperatorFlags(f)
	issuer := f.String("issuer", f.cio.getenv("ISSUER_URL"), "issuer base URL, e.g. https://id.example.com (default $ISSUER_URL)")
	out := f.String("out", "-", "write the admin credentials (an iamctl profile) to this new file, mode 0600; - is standard output")
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		if !strings.HasPrefix(*issuer, "https://") && !strings.HasPrefix(*issuer, "http://") {
			return usagef("--issuer or ISSUER_URL must be the service's base URL")
		}
		st, err := o.store(ctx, cio)
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(*issuer, "/")
		var res operator.Result
		if command == "bootstrap" {
			res, err = operator.Operator{Store: st, Hasher: secret.DefaultArgon2id, IssuerBase: base, Now: time.Now()}.Bootstrap(ctx, *o.tenant)
		} else {
			res, err = operator.Operator{Store: st, Hasher: secret.DefaultArgon2id, IssuerBase: base, Now: time.Now()}.Recover(ctx, *o.tenant)
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
}
