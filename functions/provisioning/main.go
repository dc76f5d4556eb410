// Command provisioning is the CloudFormation custom-resource function behind
// Custom::MachineIamClient (shared/customresource). It calls the service's
// HTTP API as the provisioner client of each tenant, whose credentials the
// Secrets Manager secret PROVISIONER_SECRET_ARN holds; it has no access to
// the table or the signing key.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/machine-iam/machine-iam/shared/customresource"
)

// secretValues reads secrets from Secrets Manager.
type secretValues struct{ sm *secretsmanager.Client }

func (s secretValues) SecretValue(ctx context.Context, arn string) (string, error) {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	secrets := secretValues{secretsmanager.NewFromConfig(cfg)}
	hc := &http.Client{Timeout: 20 * time.Second}
	base, provisioner := os.Getenv("IAM_BASE_URL"), os.Getenv("PROVISIONER_SECRET_ARN")
	h := &customresource.Handler{
		Connect: customresource.Provisioners(secrets, provisioner, base, hc),
		Secrets: secrets, ProvisionerSecretArn: provisioner, BaseURL: base, HTTP: hc,
	}
	lambda.Start(h.Handle)
}
