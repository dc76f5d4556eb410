// Command authorizer is the Lambda REQUEST authorizer teams deploy beside
// their own API (authorizer/template.yaml, shared/edge/authorizer): it
// verifies bearer tokens against the issuer's keys and asks the service
// for a decision per route. Secrets Manager, read once at start when a
// credential is kept there, is its only AWS call.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/machine-iam/machine-iam/shared/edge/authorizer"
	"github.com/machine-iam/machine-iam/shared/runtime/version"
)

// secretValue reads a secret from Secrets Manager; the SDK's configuration
// is loaded only when a secret is named.
func secretValue(ctx context.Context, arn string) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

func main() {
	// JSON lines, as the other functions write them; the first names the
	// release.
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log.Info("starting", "version", version.Version)
	cfg, err := authorizer.ConfigFromEnv(context.Background(), os.Getenv, secretValue)
	var az *authorizer.Authorizer
	if err == nil {
		cfg.Log = log
		az, err = authorizer.New(cfg)
	}
	if err != nil {
		log.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(az.Lambda)
}
