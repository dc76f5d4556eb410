// Command provisioning is the CloudFormation custom-resource function behind
// Custom::MachineIamClient (shared/provisioning/customresource). It calls the service's
// HTTP API as the provisioner client of each tenant, whose credentials the
// Secrets Manager secret PROVISIONER_SECRET_ARN holds; it has no access to
// the table or the signing key. Secrets Manager and CloudFormation (which
// confirms each event) are its only AWS calls.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/machine-iam/machine-iam/shared/provisioning/customresource"
	"github.com/machine-iam/machine-iam/shared/runtime/version"
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

// stacks asks CloudFormation about the resource an event names.
type stacks struct{ cf *cloudformation.Client }

func (s stacks) StackResource(ctx context.Context, stackID, logicalID string) (customresource.StackResource, error) {
	out, err := s.cf.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(stackID), LogicalResourceId: aws.String(logicalID)})
	if err != nil {
		return customresource.StackResource{}, err
	}
	d := out.StackResourceDetail
	return customresource.StackResource{Type: aws.ToString(d.ResourceType), Status: string(d.ResourceStatus),
		PhysicalID: aws.ToString(d.PhysicalResourceId)}, nil
}

func main() {
	// JSON lines, as the other functions write them; the first names the
	// release.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	slog.Info("starting", "version", version.Version)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		slog.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	secrets := secretValues{secretsmanager.NewFromConfig(cfg)}
	hc := &http.Client{Timeout: 20 * time.Second}
	base, provisioner := os.Getenv("IAM_BASE_URL"), os.Getenv("PROVISIONER_SECRET_ARN")
	h := &customresource.Handler{
		Connect: customresource.Provisioners(secrets, provisioner, base, hc),
		Secrets: secrets, ProvisionerSecretArn: provisioner, BaseURL: base, HTTP: hc,
		Stacks: stacks{cloudformation.NewFromConfig(cfg)},
	}
	lambda.Start(h.Handle)
}
