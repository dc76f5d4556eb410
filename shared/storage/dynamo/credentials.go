package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

func credentialRecord(items []item) store.CredentialRecord {
	var rec store.CredentialRecord
	for _, it := range items {
		switch sk := getS(it, attrSK); {
		case sk == skClient:
			if !getBool(it, attrDeleting) {
				c := clientFromItem(it)
				rec.Client = &c
			}
		case strings.HasPrefix(sk, skSecretPrefix):
			rec.Secrets = append(rec.Secrets, secretFromItem(it))
		case strings.HasPrefix(sk, skKeyPrefix):
			rec.Keys = append(rec.Keys, keyFromItem(it))
		case strings.HasPrefix(sk, skFederatedPrefix):
			rec.Federated = append(rec.Federated, federatedFromItem(it))
		}
	}
	if rec.Client == nil {
		rec.Secrets, rec.Keys, rec.Federated = nil, nil, nil
	}
	slices.SortFunc(rec.Federated, func(a, b federation.Credential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	slices.SortFunc(rec.Keys, func(a, b clientkey.Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	slices.SortFunc(rec.Secrets, func(a, b secret.Hashed) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return rec
}

// ListSecrets implements store.Secrets.
func (s *Store) ListSecrets(ctx context.Context, tenant, clientID string) ([]secret.Secret, error) {
	rec, err := s.liveCredentials(ctx, tenant, clientID)
	if err != nil {
		return nil, err
	}
	out := make([]secret.Secret, len(rec.Secrets))
	for i, h := range rec.Secrets {
		out[i] = h.Secret
	}
	return out, nil
}

// CreateSecret implements store.Secrets with addCounted.
func (s *Store) CreateSecret(ctx context.Context, tenant, clientID string, sec secret.Hashed, max int) error {
	return s.addCounted(ctx, clientPK(tenant, clientID), attrSecretCount, max, secretItem(tenant, clientID, sec))
}

// addCounted puts a client's new credential item with one transaction
// that also counts it on the client item, which must exist, not be
// deleting, and hold fewer than max: ErrNotFound, ErrLimitExceeded, and
// ErrConflict when the item exists already.
//
// Further steps (also) go in the same transaction.
func (s *Store) addCounted(ctx context.Context, pk, counter string, max int, child item, also ...types.TransactWriteItem) error {
	_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                           &s.table,
			Key:                                 key(pk, skClient),
			UpdateExpression:                    aws.String("ADD #count :one"),
			ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(deleting) AND (attribute_not_exists(#count) OR #count < :max)"),
			ExpressionAttributeNames:            map[string]string{"#count": counter},
			ExpressionAttributeValues:           item{":one": num(1), ":max": num(int64(max))},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{TableName: &s.table, Item: child, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}, also...)})
	reasons := cancellation(err)
	switch {
	case err == nil:
		return nil
	case failedCondition(reasons, 0):
		if reasons[0].Item == nil || getBool(reasons[0].Item, attrDeleting) {
			return store.ErrNotFound
		}
		return store.ErrLimitExceeded
	case failedCondition(reasons, 1):
		return store.ErrConflict
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", err)
}

// DeleteSecret implements store.Secrets: one transaction deletes the secret
// item and uncounts it on the client item.
func (s *Store) DeleteSecret(ctx context.Context, tenant, clientID, secretID string) error {
	pk := clientPK(tenant, clientID)
	_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName:           &s.table,
				Key:                 key(pk, secretSK(secretID)),
				ConditionExpression: aws.String("attribute_exists(PK)"),
			}},
			{Update: &types.Update{
				TableName:                 &s.table,
				Key:                       key(pk, skClient),
				UpdateExpression:          aws.String("SET secretCount = secretCount - :one"),
				ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(deleting)"),
				ExpressionAttributeValues: item{":one": num(1)},
			}},
		},
	})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return store.ErrNotFound
			}
		}
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", err)
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context, tenant, clientID string) ([]clientkey.Key, error) {
	rec, err := s.liveCredentials(ctx, tenant, clientID)
	return rec.Keys, err
}

// liveCredentials reads a client's A# items, all pages; ErrNotFound when
// the client does not exist or is being deleted.
func (s *Store) liveCredentials(ctx context.Context, tenant, clientID string) (store.CredentialRecord, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :credentials)"),
		ExpressionAttributeValues: item{":pk": str(clientPK(tenant, clientID)), ":credentials": str(skCredentialsPrefix)},
	})
	if err != nil {
		return store.CredentialRecord{}, err
	}
	rec := credentialRecord(items)
	if rec.Client == nil {
		return store.CredentialRecord{}, store.ErrNotFound
	}
	used, err := s.readLastUsed(ctx, tenant, clientID)
	if err != nil {
		return store.CredentialRecord{}, err
	}
	applyLastUsed(&rec, used)
	return rec, nil
}

// CreateKey implements store.Keys with addCounted; the key item is keyed
// by its kid, so a kid is unique per client.
func (s *Store) CreateKey(ctx context.Context, tenant, clientID string, k clientkey.Key, max int) error {
	return s.addCounted(ctx, clientPK(tenant, clientID), attrKeyCount, max, keyItem(tenant, clientID, k))
}

// DeleteKey implements store.Keys: the key is found by its id among the
// client's, then deleted and uncounted in one transaction.
func (s *Store) DeleteKey(ctx context.Context, tenant, clientID, keyID string) error {
	keys, err := s.ListKeys(ctx, tenant, clientID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k clientkey.Key) bool { return k.ID == keyID })
	if i < 0 {
		return store.ErrNotFound
	}
	pk := clientPK(tenant, clientID)
	_, err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: key(pk, keySK(keys[i].Kid)),
			ConditionExpression: aws.String("#id = :id"), ExpressionAttributeNames: map[string]string{"#id": attrID},
			ExpressionAttributeValues: item{":id": str(keyID)}}},
		{Update: &types.Update{TableName: &s.table, Key: key(pk, skClient),
			UpdateExpression:          aws.String("ADD keyCount :minus"),
			ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(deleting)"),
			ExpressionAttributeValues: item{":minus": num(-1)}}},
	}})
	if reasons := cancellation(err); failedCondition(reasons, 0) || failedCondition(reasons, 1) {
		return store.ErrNotFound
	}
	if err != nil {
		return fault.Unavailable("dynamodb:TransactWriteItems", err)
	}
	return nil
}
