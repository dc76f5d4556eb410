package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// RevokeTokens implements store.Revocations on the client item.
func (s *Store) RevokeTokens(ctx context.Context, tenant, clientID string, at time.Time) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &s.table,
		Key:              key(clientPK(tenant, clientID), skClient),
		UpdateExpression: aws.String("SET #killed = :at"),
		// Never backwards: a later call from a slower clock keeps the cutoff.
		ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(deleting) AND (attribute_not_exists(#killed) OR #killed < :at)"),
		ExpressionAttributeNames:            map[string]string{"#killed": attrKilledAt},
		ExpressionAttributeValues:           item{":at": num(at.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		if ccf.Item == nil || getBool(ccf.Item, attrDeleting) {
			return store.ErrNotFound
		}
		return nil // revoked at this time or later already
	case err != nil:
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return nil
}
