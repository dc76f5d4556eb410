package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// The token function's items: attempt counts, used client assertions,
// revoked tokens and the revocation count, all in token partitions
// (tokenPK). Nothing here writes anywhere else, and nothing here asks
// DynamoDB to return an item with a failed condition: the token function's
// IAM policy narrows the attributes and keys it touches, and AWS does not
// document how ReturnValuesOnConditionCheckFailure fares under such
// conditions, so a failed condition is read back when its cause matters.

// Attributes of the revocation count.
const (
	attrRevocations = "revocations"
	attrSpanCount   = "spanCount"
	attrSpanEnd     = "spanEnd"
)

// GetCredentials implements store.Credentials with two Queries at once: the
// client's A# items, and its token partition from the current window's
// count to the revocation count.
func (s *Store) GetCredentials(ctx context.Context, tenant, lockoutKey, address string, window time.Time) (store.CredentialRecord, error) {
	current := attemptsSK(window)
	var state *dynamodb.QueryOutput
	var stateErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		state, stateErr = s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:              &s.table,
			KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :window AND :revocations"),
			ExpressionAttributeValues: item{
				":pk": str(tokenPK(tenant, lockoutKey)), ":window": str(current), ":revocations": str(skRevocations),
			},
			ConsistentRead: aws.Bool(true),
		})
	}()
	creds, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :credentials)"),
		ExpressionAttributeValues: item{":pk": str(clientPK(tenant, lockoutKey)), ":credentials": str(skCredentialsPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	<-done
	if err = errors.Join(err, stateErr); err != nil {
		return store.CredentialRecord{}, fault.Unavailable("dynamodb:Query", err)
	}
	// A client with 20 secrets and 10 keys, and one window's count (at most
	// Ceiling addresses) with the revocation count, stay far below the 1 MB
	// page limit, so one page of each is all.
	rec := credentialRecord(creds.Items)
	applyLastUsed(&rec, lastUsed(state.Items))
	for _, it := range state.Items {
		switch getS(it, attrSK) {
		case current:
			rec.Attempts = lockout.Counts{FromAddress: int(getN(it, addressAttr(address))), Total: int(getN(it, attrTotal))}
		case skRevocations:
			rec.Revocations = getN(it, attrRevocations)
		case skLearnedTags:
			for i, sec := range rec.Secrets {
				if sec.Tag == "" {
					rec.Secrets[i].Tag = getS(it, learnedTagAttr(sec.ID))
				}
			}
		}
	}
	return rec, nil
}

// learnedTagAttr names the attribute that holds a secret's learned tag.
func learnedTagAttr(secretID string) string { return "t:" + secretID }

// learnedTagsLife is how long a learned tag is kept after it was last
// learned: a client's deleted secrets leave nothing behind for long, and a
// secret that loses its tag is only verified as before tags until its next
// use tags it again.
const learnedTagsLife = 400 * 24 * time.Hour

// TagSecret implements store.Credentials with one update of the key's
// token partition: the secret's own item is the management API's, which
// the token function does not write.
func (s *Store) TagSecret(ctx context.Context, at store.Attempts, secretID, tag string) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(tokenPK(at.Tenant, at.Key), skLearnedTags),
		UpdateExpression:          aws.String("SET #tag = :tag, #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#tag": learnedTagAttr(secretID), "#ttl": attrTTL},
		ExpressionAttributeValues: item{":tag": str(tag), ":ttl": num(at.Window.Add(learnedTagsLife).Unix())},
	})
	if err != nil {
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return nil
}

// addressAttr names the attribute that counts one address's attempts.
func addressAttr(address string) string { return "a:" + address }

// CountAttempt implements store.Credentials with one conditional update,
// and a second one, for the address alone, when only the ceiling refused.
func (s *Store) CountAttempt(ctx context.Context, at store.Attempts, n int, p lockout.Limits, expires time.Time) error {
	k, address := key(tokenPK(at.Tenant, at.Key), attemptsSK(at.Window)), at.Address
	names := map[string]string{"#total": attrTotal, "#address": addressAttr(address), "#ttl": attrTTL}
	addressRoom := "(attribute_not_exists(#address) OR #address <= :addressMax)"
	values := item{":n": num(int64(n)), ":ttl": num(expires.Unix()), ":addressMax": num(int64(p.Threshold - n))}
	both := copyItem(values)
	both[":totalMax"] = num(int64(p.Ceiling - n))
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: k,
		UpdateExpression:          aws.String("ADD #total :n, #address :n SET #ttl = :ttl"),
		ConditionExpression:       aws.String(addressRoom + " AND (attribute_not_exists(#total) OR #total <= :totalMax)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: both,
	})
	switch {
	case err == nil:
		return nil
	case !isConditionFailed(err):
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	// Which limit refused is read back.
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: k, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#address"), ExpressionAttributeNames: map[string]string{"#address": addressAttr(address)},
	})
	switch {
	case err != nil:
		return fault.Unavailable("dynamodb:GetItem", err)
	case getN(out.Item, addressAttr(address)) > int64(p.Threshold-n):
		return store.ErrLimitExceeded
	}
	// Only the ceiling refused: the address still spends its attempts.
	delete(names, "#total")
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: k,
		UpdateExpression:          aws.String("ADD #address :n SET #ttl = :ttl"),
		ConditionExpression:       aws.String(addressRoom),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return store.ErrLimitExceeded
}

func copyItem(it item) item {
	out := make(item, len(it)+1)
	for k, v := range it {
		out[k] = v
	}
	return out
}

// UncountAttempt implements store.Credentials; a count that is gone (its
// window expired) is left alone.
func (s *Store) UncountAttempt(ctx context.Context, at store.Attempts, n int) error {
	address := at.Address
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(tokenPK(at.Tenant, at.Key), attemptsSK(at.Window)),
		UpdateExpression:          aws.String("ADD #total :minus, #address :minus"),
		ConditionExpression:       aws.String("#address >= :n AND #total >= :n"),
		ExpressionAttributeNames:  map[string]string{"#total": attrTotal, "#address": addressAttr(address)},
		ExpressionAttributeValues: item{":minus": num(int64(-n)), ":n": num(int64(n))},
	})
	if err != nil && !isConditionFailed(err) {
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return nil
}

// legacyAssertionReach: releases that kept used assertions under
// legacyAssertionPK accepted an exp at most 5 minutes (plus a minute of
// leeway) ahead of their clock, so an assertion valid for longer than this
// from now was never used there.
const legacyAssertionReach = 10 * time.Minute

// UseAssertion implements store.Assertions with one conditional put in the
// client's token partition; the item expires with the assertion. An
// assertion short-lived enough to have been used under an older release is
// also looked for where that release kept it.
func (s *Store) UseAssertion(ctx context.Context, tenant, clientID, jti string, until, now time.Time) error {
	err := s.putNew(ctx, item{attrPK: str(tokenPK(tenant, clientID)), attrSK: str(skUsedAssertionPrefix + digest(jti)),
		attrTTL: num(until.Add(time.Minute).Unix())})
	if err != nil || !until.Before(now.Add(legacyAssertionReach)) {
		return err
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(legacyAssertionPK(tenant, clientID), digest(jti)), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#pk"), ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	switch {
	case err != nil:
		return fault.Unavailable("dynamodb:GetItem", err)
	case out.Item != nil:
		return store.ErrConflict
	}
	return nil
}

// RevokeToken implements store.Revocations: the revocation is counted,
// then the token's jti is put in the client's token partition, kept well
// past the last moment a verifier's leeway accepts the token, whatever the
// clocks.
func (s *Store) RevokeToken(ctx context.Context, tenant, clientID, jti string, until time.Time, limit store.RevocationLimit) error {
	if err := s.countRevocation(ctx, tenant, clientID, limit); err != nil {
		return err
	}
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table,
		Item: item{attrPK: str(tokenPK(tenant, clientID)), attrSK: str(skRevokedPrefix + jti),
			attrTTL: num(until.Add(10 * time.Minute).Unix())},
	})
	if err != nil {
		return fault.Unavailable("dynamodb:PutItem", err)
	}
	return nil
}

// countRevocation counts one revocation of a client's: in a new span when
// it has none or its last one ended, else in the current span while that
// has room. The total (revocations) only grows; the item outlives every
// token revoked in its span (ttl: its end plus one more span).
func (s *Store) countRevocation(ctx context.Context, tenant, clientID string, l store.RevocationLimit) error {
	k := key(tokenPK(tenant, clientID), skRevocations)
	now, end := num(l.Now.Unix()), l.Now.Add(l.Span)
	for range 3 {
		_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: k,
			UpdateExpression:    aws.String("SET #count = :one, #end = :end, #ttl = :ttl ADD #revocations :one"),
			ConditionExpression: aws.String("attribute_not_exists(#end) OR #end <= :now"),
			ExpressionAttributeNames: map[string]string{
				"#count": attrSpanCount, "#end": attrSpanEnd, "#ttl": attrTTL, "#revocations": attrRevocations},
			ExpressionAttributeValues: item{":one": num(1), ":end": num(end.Unix()), ":ttl": num(end.Add(l.Span).Unix()), ":now": now},
		})
		if err == nil || !isConditionFailed(err) {
			return unavailableUnless(err, "dynamodb:UpdateItem")
		}
		_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: k,
			UpdateExpression:          aws.String("ADD #count :one, #revocations :one"),
			ConditionExpression:       aws.String("#end > :now AND #count < :max"),
			ExpressionAttributeNames:  map[string]string{"#count": attrSpanCount, "#end": attrSpanEnd, "#revocations": attrRevocations},
			ExpressionAttributeValues: item{":one": num(1), ":now": now, ":max": num(int64(l.Max))},
		})
		if err == nil || !isConditionFailed(err) {
			return unavailableUnless(err, "dynamodb:UpdateItem")
		}
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fault.Unavailable("dynamodb:GetItem", err)
		}
		if spanEnd := getN(out.Item, attrSpanEnd); spanEnd > l.Now.Unix() {
			return &store.LimitError{Until: time.Unix(spanEnd, 0)}
		}
		// The span ended between the two updates: start a new one.
	}
	return fault.Unavailable("dynamodb:UpdateItem", errors.New("the revocation count kept changing"))
}

// unavailableUnless returns nil for a nil err, else err as a dependency
// failure of op.
func unavailableUnless(err error, op string) error {
	if err == nil {
		return nil
	}
	return fault.Unavailable(op, err)
}

// TokenRevoked implements store.Revocations with one strongly consistent
// GetItem.
func (s *Store) TokenRevoked(ctx context.Context, tenant, clientID, jti string) (bool, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(tokenPK(tenant, clientID), skRevokedPrefix+jti), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#pk"), ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if err != nil {
		return false, fault.Unavailable("dynamodb:GetItem", err)
	}
	return out.Item != nil, nil
}

// Unlock implements store.Lockouts: it reads the key's attempt windows
// (whatever their length, which the token function's configuration sets)
// and deletes them, or takes one address's count out of each.
func (s *Store) Unlock(ctx context.Context, tenant, lockoutKey, address string) error {
	out, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: item{":pk": str(tokenPK(tenant, lockoutKey)), ":sk": str(skAttemptsPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return fault.Unavailable("dynamodb:Query", err)
	}
	for _, it := range out.Items {
		k := key(getS(it, attrPK), getS(it, attrSK))
		if address == "" {
			if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: k}); err != nil {
				return fault.Unavailable("dynamodb:DeleteItem", err)
			}
			continue
		}
		n := getN(it, addressAttr(address))
		if n == 0 {
			continue
		}
		// Conditional on the count read: attempts counted meanwhile stay.
		_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: k,
			UpdateExpression:          aws.String("REMOVE #address ADD #total :minus"),
			ConditionExpression:       aws.String("#address = :n"),
			ExpressionAttributeNames:  map[string]string{"#total": attrTotal, "#address": addressAttr(address)},
			ExpressionAttributeValues: item{":minus": num(-n), ":n": num(n)},
		})
		if err != nil && !isConditionFailed(err) {
			return fault.Unavailable("dynamodb:UpdateItem", err)
		}
	}
	return nil
}
