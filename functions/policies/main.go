// Command policies is the policies Lambda function. Build it with `make build`; run it
// locally through `make run`.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/machine-iam/machine-iam/shared/app"
	"github.com/machine-iam/machine-iam/shared/policiesapi"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	deps, err := app.FromEnvironment(context.Background())
	if err != nil {
		slog.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(policiesapi.New(deps)).ProxyWithContext)
}
