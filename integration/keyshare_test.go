package integration

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"

	"github.com/machine-iam/machine-iam/local/stack"

	"github.com/machine-iam/machine-iam/shared/runtime/app"
)

// TestColdStartBurstSharesKeys starts 100 token-function instances at once
// (Deps built and warmed as a Lambda's init does) and counts the
// kms:GetPublicKey calls they make: none while a resolution shared by the
// instances that started before is fresh, and, with nothing shared (a new
// stack, or every instance idle for longer than the refresh interval), at
// most one per instance and key id, after which the next burst again
// costs none.
func TestColdStartBurstSharesKeys(t *testing.T) {
	cfg := env.svc.Deps["TokenFunction"].Config
	ids := 1 + len(cfg.PreviousSigningKeyIDs)
	// Clients of their own, with production's timeouts: the suite's short
	// ones are for its fault tests, and 100 starts at once on a small
	// machine take longer than they allow.
	awsCfg, err := app.LoadAWS(context.Background(), config.WithRegion(stack.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(stack.AccessKeyID, stack.SecretAccessKey, "")),
		config.WithAPIOptions([]func(*middleware.Stack) error{env.calls.install}))
	if err != nil {
		t.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(env.svc.DynamoDBEndpoint)
		o.DisableValidateResponseChecksum = true
	})
	kmsAPI := kms.NewFromConfig(awsCfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(env.svc.KMSEndpoint) })
	burst := func() int {
		t.Helper()
		env.calls.reset()
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := app.NewDeps(cfg, ddb, kmsAPI)
				d.Warm(context.Background())
				if _, err := d.Signer.Keys(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		return env.calls.snapshot()["KMS:GetPublicKey"]
	}
	// The stack's own functions warmed at start and shared what they read.
	if n := burst(); n != 0 {
		t.Errorf("100 starts with a fresh shared resolution: %d kms:GetPublicKey, want 0", n)
	}
	_, err = ddb.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
		TableName: aws.String(env.svc.Resources.TableName),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "TOKEN##SIGNINGKEYS"}, "SK": &types.AttributeValueMemberS{Value: "#RESOLVED"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cold := burst()
	if cold < 1 || cold > 100*ids {
		t.Errorf("100 starts with nothing shared: %d kms:GetPublicKey, want 1 to %d", cold, 100*ids)
	}
	if n := burst(); n != 0 {
		t.Errorf("the next 100 starts: %d kms:GetPublicKey, want 0", n)
	}
	t.Logf("kms:GetPublicKey for 100 concurrent starts: 0 with a fresh shared resolution, %d with none (%d key ids)", cold, ids)
}
