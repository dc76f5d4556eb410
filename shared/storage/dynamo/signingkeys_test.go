package dynamo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
)

// TestResolutionsCannotBeBlocked: whatever a table writer leaves under a
// key id (a readAt far ahead, one of the wrong type, none, not a map), the
// next honest resolution replaces it, so nothing planted there keeps the
// instances from sharing; an honest newer resolution is never replaced by
// an older one.
func TestResolutionsCannotBeBlocked(t *testing.T) {
	ctx := context.Background()
	plants := map[string]types.AttributeValue{
		"far ahead": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"readAt": &types.AttributeValueMemberN{Value: "9999999999999999"}}},
		"readAt a string": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"readAt": &types.AttributeValueMemberS{Value: "9999999999999999"}}},
		"no readAt": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"not a map": &types.AttributeValueMemberS{Value: "x"},
	}
	honest := func(keyID string, at time.Time, der string) kmssigner.Resolution {
		return kmssigner.Resolution{KeyID: keyID, ARN: "arn:aws:kms:eu-north-1:111122223333:key/" + keyID, PublicKey: []byte(der), At: at, MAC: []byte("mac")}
	}
	for name, plant := range plants {
		keyID := "alias/" + id.New()
		_, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table),
			Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: "TOKEN##SIGNINGKEYS"}, "SK": &types.AttributeValueMemberS{Value: "#RESOLVED"}},
			UpdateExpression:          aws.String("SET #r = :plant"),
			ExpressionAttributeNames:  map[string]string{"#r": "k:" + keyID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":plant": plant},
		})
		if err != nil {
			t.Fatal(err)
		}
		is(t, st.PutResolution(ctx, honest(keyID, now, "honest")), nil)
		rs, err := st.Resolutions(ctx)
		if got := rs[keyID]; err != nil || !got.At.Equal(now) || !bytes.Equal(got.PublicKey, []byte("honest")) || !bytes.Equal(got.MAC, []byte("mac")) {
			t.Errorf("%s: %+v %v, want the honest resolution in its place", name, got, err)
		}
	}
	keyID := "alias/" + id.New()
	is(t, st.PutResolution(ctx, honest(keyID, now.Add(time.Minute), "newer")), nil)
	is(t, st.PutResolution(ctx, honest(keyID, now, "older")), nil)
	if rs, err := st.Resolutions(ctx); err != nil || !bytes.Equal(rs[keyID].PublicKey, []byte("newer")) {
		t.Errorf("%+v %v: an older resolution replaced a newer one", rs[keyID], err)
	}
}
