package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// A tenant's owner count (item T#<t> / OWNERS) is the number of live
// clients holding owner on / by a policy of their own. Every write that
// changes that number changes the count in the same transaction: putting
// such a policy adds one; deleting it, or tombstoning its client, takes one
// away only while the count stays above zero. Concurrent deletions of the
// last two owners therefore cannot both succeed.

// isRootOwner reports whether k is a policy the owner count counts.
func isRootOwner(k policy.Triple) bool {
	kind, _, err := subject.Parse(k.Subject)
	return err == nil && kind == subject.Client && k.Action == action.Owner && k.Scope == resource.Root
}

func (s *Store) ownersKey(tenant string) item { return key(tenantPK(tenant), skOwners) }

// addOwner is the transaction step that counts a new root owner. It needs
// the count to exist, so that a tenant created before the count was kept
// gets it recounted first (see ensureOwnerCount) rather than starting at 1.
func (s *Store) addOwner(tenant string) types.TransactWriteItem {
	return s.ownerCountStep(tenant, "ADD #count :one", "attribute_exists(#count)")
}

// removeOwner is the transaction step that uncounts a root owner, refused
// when it is the last one.
func (s *Store) removeOwner(tenant string) types.TransactWriteItem {
	return s.ownerCountStep(tenant, "SET #count = #count - :one", "#count > :one")
}

func (s *Store) ownerCountStep(tenant, update, condition string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           &s.table,
		Key:                                 s.ownersKey(tenant),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(condition),
		ExpressionAttributeNames:            map[string]string{"#count": attrCount},
		ExpressionAttributeValues:           item{":one": num(1)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// ownerCountFailed tells, for a transaction cancelled by its owner-count
// step at i, whether the count is missing (recount and retry) or the step
// was refused.
func ownerCountFailed(reasons []types.CancellationReason, i int) (failed, missing bool) {
	if !failedCondition(reasons, i) {
		return false, false
	}
	return true, reasons[i].Item == nil || reasons[i].Item[attrCount] == nil
}

// ensureOwnerCount creates a missing owner count from the tenant's
// policies: the clients with their own owner policy on / that are alive.
// It runs once per tenant at most (a new tenant's first owner policy, or a
// tenant created before the count existed). A policy index read is
// eventually consistent, so it may miss a policy put a moment ago; a count
// too low only refuses more, never less.
func (s *Store) ensureOwnerCount(ctx context.Context, tenant string) error {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk AND begins_with(GSI1SK, :clients)"),
		ExpressionAttributeValues: item{":pk": str(policiesGSI1PK(tenant)), ":clients": str(subject.ID(subject.Client, ""))},
	})
	if err != nil {
		return err
	}
	var owners []string
	for _, p := range policiesOf(items) {
		if isRootOwner(p.Triple()) {
			owners = append(owners, p.Subject)
		}
	}
	live, err := s.DisplayNames(ctx, tenant, owners)
	if err != nil {
		return err
	}
	counted := item{attrCount: num(int64(len(live)))}
	for k, v := range s.ownersKey(tenant) {
		counted[k] = v
	}
	if err := s.putNew(ctx, counted); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// markClientDeleting tombstones a client. When the client holds owner on /
// by its own policy, the same transaction uncounts it, refused for the last
// owner (ErrLastOwner). A client already tombstoned is left as it is, so a
// repeated delete finishes the cascade without counting twice.
func (s *Store) markClientDeleting(ctx context.Context, tenant, clientID string) error {
	pk := clientPK(tenant, clientID)
	ownerPolicy := key(pk, policySK(action.Owner, resource.Root))
	// The tombstone takes the client out of the listing index and its
	// count at once.
	tombstone := types.TransactWriteItem{Update: &types.Update{
		TableName:                           &s.table,
		Key:                                 key(pk, skClient),
		UpdateExpression:                    aws.String("SET deleting = :true REMOVE GSI1PK, GSI1SK"),
		ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(deleting)"),
		ExpressionAttributeValues:           item{":true": boolean(true)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
	uncount := s.countStep(tenant, attrClients, -1)
	for range 4 {
		// First as a client without the owner policy; the check makes the
		// transaction fail should the policy exist.
		reasons, err := s.transactCounted(ctx, tenant, []types.TransactWriteItem{
			tombstone,
			{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: ownerPolicy, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
			uncount,
		}, 2)
		if done, result := tombstoned(reasons, err); done {
			return result
		}
		if !failedCondition(reasons, 1) {
			return fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
		// It holds the policy: tombstone and uncount together.
		reasons, err = s.transactCounted(ctx, tenant, []types.TransactWriteItem{
			tombstone,
			{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: ownerPolicy, ConditionExpression: aws.String("attribute_exists(PK)")}},
			s.removeOwner(tenant),
			uncount,
		}, 3)
		if done, result := tombstoned(reasons, err); done {
			return result
		}
		failed, missing := ownerCountFailed(reasons, 2)
		switch {
		case failedCondition(reasons, 1):
			continue // no longer an owner: tombstone it as any client
		case failed && !missing:
			return store.ErrLastOwner
		case failed:
			if err := s.ensureOwnerCount(ctx, tenant); err != nil {
				return err
			}
		default:
			return fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
		// The count was just made: again.
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", errors.New("owner policy kept changing"))
}

// deleteRootOwnerPolicy deletes a client's owner policy on / and uncounts
// it, refused for the last owner. A client already tombstoned was uncounted
// then, so its policy goes plainly.
func (s *Store) deleteRootOwnerPolicy(ctx context.Context, tenant string, k policy.Triple) error {
	for range 4 + grantsRebuilds {
		stored, err := s.policyToDelete(ctx, tenant, k)
		if err != nil {
			return err
		}
		// The client must be alive (a tombstoned one was uncounted then);
		// its policy count goes down in the same step.
		_, err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			s.deletePolicyStep(stored),
			s.removeStep(tenant, k.Subject, policiesCounted),
			s.removeOwner(tenant),
			s.grantsPolicyStep(tenant, "DELETE", policyFromItem(stored)),
		}})
		reasons := cancellation(err)
		failed, missing := ownerCountFailed(reasons, 2)
		switch {
		case err == nil:
			return nil
		case failedCondition(reasons, 0):
			continue // gone, or put again: read it again
		case failedCondition(reasons, 1):
			if old := reasons[1].Item; old != nil && !getBool(old, attrDeleting) {
				// No policy count (an older client): count, then again.
				if err := s.recount(ctx, tenant, k.Subject, policiesCounted); err != nil && !errors.Is(err, store.ErrLimitExceeded) {
					return err
				}
				continue
			}
			return s.deletePolicyItem(ctx, tenant, k)
		case failed && !missing:
			return store.ErrLastOwner
		case failed:
			if err := s.ensureOwnerCount(ctx, tenant); err != nil {
				return err
			}
			continue
		case failedCondition(reasons, 3):
			if err := s.rebuildGrants(ctx, tenant, k.Subject); err != nil {
				return err
			}
			continue
		}
		return fault.Unavailable("dynamodb:TransactWriteItems", err)
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", errors.New("owner count could not be made"))
}
