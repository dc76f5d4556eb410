package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
)

// The functions' shared resolutions of the signing key ids live in one
// item of a token partition: every function may write it (the token
// function writes under TOKEN# only), and no tenant's partition is
// "TOKEN##…", as a tenant name is never empty.
const (
	signingKeysPK = tokenPrefix + "#SIGNINGKEYS"
	signingKeysSK = "#RESOLVED"
	// One attribute per configured key id: a map of the key's ARN, its
	// public key (DER), when KMS was read, and the MAC of those under a key
	// kept out of the table (kmssigner.Signer.ShareKey).
	resolutionPrefix = "k:"
	// resolutionHorizon is how far ahead of a writer's clock another
	// instance's read of KMS may plausibly be.
	resolutionHorizon = time.Hour
)

// Resolutions implements kmssigner.Shared with one eventually consistent
// GetItem: a resolution a moment old is as good as a fresh one, since
// each carries its own age.
func (s *Store) Resolutions(ctx context.Context) (map[string]kmssigner.Resolution, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(signingKeysPK, signingKeysSK)})
	if err != nil {
		return nil, fault.Unavailable("dynamodb:GetItem", err)
	}
	rs := map[string]kmssigner.Resolution{}
	for name, v := range out.Item {
		id, ok := strings.CutPrefix(name, resolutionPrefix)
		m, isMap := v.(*types.AttributeValueMemberM)
		if !ok || !isMap {
			continue
		}
		der, _ := m.Value["der"].(*types.AttributeValueMemberB)
		if der == nil {
			continue
		}
		r := kmssigner.Resolution{KeyID: id, ARN: getS(m.Value, "arn"), PublicKey: der.Value,
			At: time.UnixMilli(getN(m.Value, "readAt"))}
		if mac, ok := m.Value["mac"].(*types.AttributeValueMemberB); ok {
			r.MAC = mac.Value
		}
		rs[id] = r
	}
	return rs, nil
}

// PutResolution implements kmssigner.Shared: one UpdateItem sets the id's
// attribute, unless a newer resolution is there already. What is not a
// plausible resolution (no readAt, one not a number, or one more than
// resolutionHorizon ahead) is overwritten, so that nothing written there
// can keep instances from sharing.
func (s *Store) PutResolution(ctx context.Context, r kmssigner.Resolution) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      key(signingKeysPK, signingKeysSK),
		UpdateExpression:         aws.String("SET #r = :r"),
		ConditionExpression:      aws.String("attribute_not_exists(#r) OR NOT (#r.readAt BETWEEN :at AND :horizon)"),
		ExpressionAttributeNames: map[string]string{"#r": resolutionPrefix + r.KeyID},
		ExpressionAttributeValues: item{
			":r": &types.AttributeValueMemberM{Value: item{
				"arn": str(r.ARN), "der": &types.AttributeValueMemberB{Value: r.PublicKey}, "readAt": num(r.At.UnixMilli()),
				"mac": &types.AttributeValueMemberB{Value: r.MAC},
			}},
			":at":      num(r.At.UnixMilli()),
			":horizon": num(r.At.Add(resolutionHorizon).UnixMilli()),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return nil
}
