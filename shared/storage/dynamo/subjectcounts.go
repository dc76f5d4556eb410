package dynamo

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// Each subject counts its own policies (policyCount) and groups
// (groupCount) on its own item: A#CLIENT, A#GROUP, or for a user, whom
// nothing else stores, A#USER. Every write that adds a policy or a
// membership adds to the count in the same transaction, refused at the
// maximum (policy.MaxPerSubject, group.MaxPerSubject), so concurrent adds
// cannot pass it; removals take away. A count can only be too high (a group
// deletion ends memberships without touching its members' counts), never
// too low; when it refuses, or is missing (an older subject), it is counted
// again from the subject's partition and the add tried once more. Every add
// and remove also bumps countsVersion, and a recount writes its result only
// if that version is unchanged since before it counted, so a recount can
// never overwrite a change it did not see.

const (
	attrPolicyCount   = "policyCount"
	attrGroupCount    = "groupCount"
	attrCountsVersion = "countsVersion"
	skUser            = "A#USER"
)

// counted describes one of a subject's counts.
type counted struct {
	attr, prefix string
	max          int
}

var (
	policiesCounted = counted{attrPolicyCount, skPolicyPrefix, policy.MaxPerSubject}
	groupsCounted   = counted{attrGroupCount, skMembershipPrefix, group.MaxPerSubject}
)

// ownKey is the key of the item that holds a subject's counts.
func ownKey(tenant, subjectID string) item {
	sk := skUser
	switch kind, _, _ := subject.Parse(subjectID); kind {
	case subject.Client:
		sk = skClient
	case subject.Group:
		sk = skGroup
	}
	return key(subjectPK(tenant, subjectID), sk)
}

// addStep counts one more for subjectID, refused at the maximum, and for a
// client or group, unless it is alive.
func (s *Store) addStep(tenant, subjectID string, c counted) types.TransactWriteItem {
	cond := "#c < :max"
	if needsLiveSubject(subjectID) {
		cond = "attribute_exists(PK) AND attribute_not_exists(deleting) AND #c < :max"
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           &s.table,
		Key:                                 ownKey(tenant, subjectID),
		UpdateExpression:                    aws.String("ADD #c :one, countsVersion :one"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#c": c.attr},
		ExpressionAttributeValues:           item{":one": num(1), ":max": num(int64(c.max))},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// removeStep counts one less, for a client or group only while it is
// alive; it fails when there is no count (an older subject, counted again
// when it next adds), or the subject is tombstoned (its items go anyway).
func (s *Store) removeStep(tenant, subjectID string, c counted) types.TransactWriteItem {
	cond := "#c > :zero"
	if needsLiveSubject(subjectID) {
		cond = "attribute_exists(PK) AND attribute_not_exists(deleting) AND #c > :zero"
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           &s.table,
		Key:                                 ownKey(tenant, subjectID),
		UpdateExpression:                    aws.String("ADD #c :minus, countsVersion :one"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#c": c.attr},
		ExpressionAttributeValues:           item{":minus": num(-1), ":zero": num(0), ":one": num(1)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// countedAdd is a write that adds to a subject's count (c): a policy or a
// membership, refused past the limit with limitErr.
type countedAdd struct {
	tenant, subjectID string
	c                 counted
	limitErr          error
	recounts          int
}

// refused handles a write whose addStep refused (old: its item as it was):
// ErrSubjectNotFound for a client or group that is gone; else the count is
// counted again and nil returned to try the write once more, up to three
// times (a recount that lost a race to another write leaves the count as
// it was), then limitErr.
func (a *countedAdd) refused(ctx context.Context, s *Store, old item) error {
	if needsLiveSubject(a.subjectID) && (old == nil || getBool(old, attrDeleting)) {
		return store.ErrSubjectNotFound
	}
	if a.recounts == 3 {
		return a.limitErr
	}
	a.recounts++
	if err := s.recount(ctx, a.tenant, a.subjectID, a.c); err != nil {
		if errors.Is(err, store.ErrLimitExceeded) {
			return a.limitErr
		}
		return err
	}
	return nil
}

// transactUncounted runs steps and, last, uncount (a removeStep); should
// uncount alone fail (no count to take from: an older subject), it runs
// steps without it.
func (s *Store) transactUncounted(ctx context.Context, steps []types.TransactWriteItem, uncount types.TransactWriteItem) ([]types.CancellationReason, error) {
	_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(slices.Clip(steps), uncount)})
	reasons := cancellation(err)
	if err == nil || !failedCondition(reasons, len(steps)) ||
		slices.ContainsFunc(reasons[:len(steps)], func(r types.CancellationReason) bool { return aws.ToString(r.Code) == "ConditionalCheckFailed" }) {
		return reasons, err
	}
	_, err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: steps})
	return cancellation(err), err
}

// recount counts a subject's policies or memberships from its partition
// and sets the count, unless an add or remove came in meanwhile (then the
// caller tries again). It returns ErrLimitExceeded when the subject is at
// the maximum.
func (s *Store) recount(ctx context.Context, tenant, subjectID string, c counted) error {
	own, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: ownKey(tenant, subjectID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fault.Unavailable("dynamodb:GetItem", err)
	}
	n, err := s.countQuery(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: item{":pk": str(subjectPK(tenant, subjectID)), ":prefix": str(c.prefix)},
	})
	if err != nil {
		return err
	}
	cond := "attribute_not_exists(countsVersion)"
	values := item{":n": num(int64(n))}
	if v, ok := own.Item[attrCountsVersion]; ok {
		cond = "countsVersion = :v"
		values[":v"] = v
	}
	if needsLiveSubject(subjectID) {
		cond = "attribute_exists(PK) AND " + cond
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: ownKey(tenant, subjectID),
		UpdateExpression:          aws.String("SET #c = :n"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#c": c.attr},
		ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
		return fault.Unavailable("dynamodb:UpdateItem", err)
	}
	if n >= c.max {
		return store.ErrLimitExceeded
	}
	return nil
}
