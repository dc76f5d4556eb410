package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
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

	// A resolution planted by a table writer without the MAC key (here
	// its public key swapped) is never published: instances ask KMS and
	// share what it says again, so the next burst costs none.
	planted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&planted.PublicKey)
	_, err = ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(env.svc.Resources.TableName),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "TOKEN##SIGNINGKEYS"}, "SK": &types.AttributeValueMemberS{Value: "#RESOLVED"},
		},
		UpdateExpression:          aws.String("SET #r.der = :der"),
		ExpressionAttributeNames:  map[string]string{"#r": "k:" + cfg.SigningKeyID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":der": &types.AttributeValueMemberB{Value: der}},
	})
	if err != nil {
		t.Fatal(err)
	}
	env.calls.reset()
	keys, err := app.NewDeps(cfg, ddb, kmsAPI).Signer.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if pub, ok := k.Public.(*ecdsa.PublicKey); ok && pub.Equal(&planted.PublicKey) {
			t.Fatalf("the planted key %s was published", k.ID)
		}
	}
	if n := env.calls.snapshot()["KMS:GetPublicKey"]; n < 1 {
		t.Errorf("a planted resolution: %d kms:GetPublicKey, want the key read from KMS", n)
	}
	if n := burst(); n != 0 {
		t.Errorf("100 starts after the planted resolution was replaced: %d kms:GetPublicKey, want 0", n)
	}
}
