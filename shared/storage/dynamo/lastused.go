package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// A credential's last use lives in its client's token partition (the token
// function writes nowhere else), under skLastUsedPrefix and the
// credential's own sort key.

const attrLastUsedAt = "lastUsedAt"

func credentialSK(c store.Credential) string {
	switch {
	case c.KeyKid != "":
		return keySK(c.KeyKid)
	case c.FederatedID != "":
		return federatedSK(c.FederatedID)
	}
	return secretSK(c.SecretID)
}

// RecordUse implements store.Credentials with one conditional update that
// does nothing when a use within store.UseGranularity is noted already.
func (s *Store) RecordUse(ctx context.Context, tenant, clientID string, used store.Credential, at time.Time) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(tokenPK(tenant, clientID), skLastUsedPrefix+credentialSK(used)),
		UpdateExpression:          aws.String("SET #at = :at"),
		ConditionExpression:       aws.String("attribute_not_exists(#at) OR #at < :due"),
		ExpressionAttributeNames:  map[string]string{"#at": attrLastUsedAt},
		ExpressionAttributeValues: item{":at": num(at.Unix()), ":due": num(at.Add(-store.UseGranularity).Unix())},
	})
	if err != nil && !isConditionFailed(err) {
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return nil
}

// lastUsed collects the last uses among a token partition's items, by the
// credential's sort key.
func lastUsed(items []item) map[string]time.Time {
	out := map[string]time.Time{}
	for _, it := range items {
		if sk, ok := strings.CutPrefix(getS(it, attrSK), skLastUsedPrefix); ok {
			out[sk] = time.Unix(getN(it, attrLastUsedAt), 0).UTC()
		}
	}
	return out
}

// applyLastUsed sets each credential's LastUsedAt from used.
func applyLastUsed(rec *store.CredentialRecord, used map[string]time.Time) {
	for i := range rec.Secrets {
		if t, ok := used[secretSK(rec.Secrets[i].ID)]; ok {
			rec.Secrets[i].LastUsedAt = &t
		}
	}
	for i := range rec.Keys {
		if t, ok := used[keySK(rec.Keys[i].Kid)]; ok {
			rec.Keys[i].LastUsedAt = &t
		}
	}
	for i := range rec.Federated {
		if t, ok := used[federatedSK(rec.Federated[i].ID)]; ok {
			rec.Federated[i].LastUsedAt = &t
		}
	}
}

// readLastUsed reads the last uses of a client's credentials: one Query of
// its token partition, for the management API.
func (s *Store) readLastUsed(ctx context.Context, tenant, clientID string) (map[string]time.Time, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :used)"),
		ExpressionAttributeValues: item{":pk": str(tokenPK(tenant, clientID)), ":used": str(skLastUsedPrefix)},
	})
	if err != nil {
		return nil, err
	}
	return lastUsed(items), nil
}
