package integration

import (
	"context"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestUpgradeBuildsGrantsItems: a caller and a group stored by an older
// release (no grants items) are decided from their partitions, correctly;
// iamctl upgrade builds their grants items, and the decision is then one
// Query and one BatchGetItem.
func TestUpgradeBuildsGrantsItems(t *testing.T) {
	admin, res := newTenantAdmin(t, "grants-upgrade")
	who := newTenantCaller(t, res.Tenant, admin, "older-caller", "services.iam", "api")
	gid := newGroup(t, admin, "older-group")
	grant(t, admin, "group-"+gid, "iam.policy.read", "/")
	if r := send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{who.subject}}); r.Status != 204 {
		t.Fatal(r)
	}
	for _, sid := range []string{who.subject, "group-" + gid} {
		_, err := env.svc.DynamoDB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
			TableName: aws.String(env.svc.Resources.TableName),
			Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: "T#" + res.Tenant + "#S#" + sid}, "SK": &types.AttributeValueMemberS{Value: "A!GRANTS"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tok := who.token(t)
	decide := func(want map[string]int) {
		t.Helper()
		env.calls.reset()
		if r := send(t, http.MethodGet, "/v1/actions", tok, nil); r.Status != 200 {
			t.Fatal(r)
		}
		if got := env.calls.snapshot(); !maps.Equal(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
	}
	// The Query that finds no grants item, then as an older release reads:
	// a Query per partition. GET /v1/actions reads the tenant's APIs too
	// (one Query), before and after.
	decide(map[string]int{"DynamoDB:Query": 4, "DynamoDB:GetItem": 1})
	cmd := exec.Command(iamctlBinary(t), "upgrade", "--tenant", res.Tenant)
	cmd.Env = append(os.Environ(), "TABLE_NAME="+env.svc.Resources.TableName)
	for k, v := range env.svc.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iamctl upgrade: %v\n%s", err, out)
	}
	decide(map[string]int{"DynamoDB:Query": 2, "DynamoDB:BatchGetItem": 1, "DynamoDB:GetItem": 1})
}
