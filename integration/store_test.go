package integration

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/oauth/token"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

func partitionSize(t *testing.T, pk string) int {
	t.Helper()
	out, err := env.svc.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(env.svc.Resources.TableName),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}

// TestInterruptedClientDeleteIsSafeAndResumable leaves a delete half done
// (the client marked deleting, its secrets still stored), as a crash would,
// and checks nothing grants access and a repeated DELETE finishes the job.
func TestInterruptedClientDeleteIsSafeAndResumable(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "half-deleted")
	pk := "T#default#S#client-" + id
	if n := partitionSize(t, pk); n != 3 {
		t.Fatalf("partition holds %d items, want the client, its grants item and its secret", n)
	}
	_, err := env.svc.DynamoDB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(env.svc.Resources.TableName),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: "A#CLIENT"},
		},
		UpdateExpression:          aws.String("SET deleting = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {value}}
	if r := send(t, http.MethodPost, "/connect/token", "", form); r.Status != 401 {
		t.Fatalf("a client being deleted must not get tokens: %s", r)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1/clients/" + id},
		{http.MethodPut, "/v1/clients/" + id},
		{http.MethodGet, "/v1/clients/" + id + "/secrets"},
		{http.MethodPost, "/v1/clients/" + id + "/secrets"},
	} {
		body := any(clientBody("x"))
		if c.method == http.MethodPost {
			body = map[string]any{"value": "another-secret", "description": "late"}
		}
		if r := send(t, c.method, c.path, admin, body); r.Status != 404 {
			t.Errorf("%s %s on a client being deleted: %s", c.method, c.path, r)
		}
	}
	list := send(t, http.MethodGet, "/v1/clients?searchText=half-deleted", admin, nil).json(t)
	if n := list["metadata"].(map[string]any)["totalCount"]; n != 0.0 {
		t.Errorf("a client being deleted is listed: %v", list)
	}
	if r := send(t, http.MethodDelete, "/v1/clients/"+id, admin, nil); r.Status != 204 {
		t.Fatalf("a repeated DELETE finishes the cascade: %s", r)
	}
	if n := partitionSize(t, pk); n != 0 {
		t.Fatalf("%d items left after delete", n)
	}
	if r := send(t, http.MethodDelete, "/v1/clients/"+id, admin, nil); r.Status != 404 {
		t.Fatalf("nothing left to delete: %s", r)
	}
}

// TestKMSKeySpecs signs through local-kms with both key specs the service
// supports and verifies with the published keys.
func TestKMSKeySpecs(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		spec kmstypes.KeySpec
		alg  string
	}{{kmstypes.KeySpecEccNistP256, signer.ES256}, {kmstypes.KeySpecRsa2048, signer.RS256}} {
		t.Run(string(c.spec), func(t *testing.T) {
			key, err := env.svc.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: c.spec, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
			if err != nil {
				t.Fatal(err)
			}
			s := kmssigner.New(env.svc.KMS, *key.KeyMetadata.KeyId)
			m := &token.Minter{Signer: s, Lifetime: time.Minute, Now: time.Now}
			raw, _, err := m.Mint(ctx, token.Grant{Issuer: env.base, Tenant: "default", Subject: "client-x", ClientID: "x", Scopes: []string{"api"}})
			if err != nil {
				t.Fatal(err)
			}
			k, _ := s.Key(ctx)
			if k.Algorithm != c.alg {
				t.Fatalf("alg %s, want %s", k.Algorithm, c.alg)
			}
			v := &token.Verifier{Keys: s, Leeway: token.DefaultLeeway, Now: time.Now}
			if _, err := v.Verify(ctx, raw, env.base); err != nil {
				t.Fatal(err)
			}
			// The deployment's own key does not accept it.
			if _, err := (&token.Verifier{Keys: env.svc.Deps["ClientsFunction"].Signer, Leeway: token.DefaultLeeway, Now: time.Now}).Verify(ctx, raw, env.base); err == nil {
				t.Fatal("a token signed by another KMS key must not verify")
			}
		})
	}
}
