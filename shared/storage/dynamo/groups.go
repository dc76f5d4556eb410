package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// CreateGroup implements store.Groups.
func (s *Store) CreateGroup(ctx context.Context, g group.Group) error {
	return s.createListed(ctx, g.Tenant, subject.ID(subject.Group, g.ID), groupItem(g), attrGroups)
}

// GetGroup implements store.Groups.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (group.Group, error) {
	it, err := s.getLive(ctx, groupPK(tenant, id), skGroup)
	if err != nil {
		return group.Group{}, err
	}
	return groupFromItem(it), nil
}

// ListGroups implements store.Groups (eventually consistent, like clients).
func (s *Store) ListGroups(ctx context.Context, tenant string, q store.PageQuery) (store.Page[group.Group], error) {
	return listPage(ctx, s, groupsGSI1PK(tenant), q, func(k string) item { return key(groupPK(tenant, idOfNameKey(k)), skGroup) }, groupFromItem)
}

// DeleteGroup implements store.Groups: tombstone (from then on the group
// grants nothing and takes no members or policies), remove its members on
// both sides and its policies, then the group item.
func (s *Store) DeleteGroup(ctx context.Context, tenant, id string) error {
	pk := groupPK(tenant, id)
	if err := s.markGroupDeleting(ctx, tenant, id); err != nil {
		return err
	}
	return s.finishDelete(ctx, tenant, subject.ID(subject.Group, id), pk, skGroup)
}

// AddMember implements store.Groups with one transaction: count the member
// on the group item (alive, under max), put both sides of the membership,
// and for a client check that it is alive.
func (s *Store) AddMember(ctx context.Context, tenant, groupID, subjectID string, max int) error {
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                           &s.table,
			Key:                                 key(groupPK(tenant, groupID), skGroup),
			UpdateExpression:                    aws.String("SET memberCount = memberCount + :one"),
			ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(deleting) AND memberCount < :max"),
			ExpressionAttributeValues:           item{":one": num(1), ":max": num(int64(max))},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{
			TableName:           &s.table,
			Item:                item{attrPK: str(groupPK(tenant, groupID)), attrSK: str(memberSK(subjectID))},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}},
		{Put: &types.Put{
			TableName: &s.table,
			Item:      item{attrPK: str(subjectPK(tenant, subjectID)), attrSK: str(membershipSK(groupID))},
		}},
	}
	// The member's own count of groups, refused at group.MaxPerSubject
	// (and for a client unless it is alive).
	items = append(items, s.addStep(tenant, subjectID, groupsCounted), s.grantsStep(tenant, subjectID, "ADD", attrMemberOf, groupID))
	add := countedAdd{tenant: tenant, subjectID: subjectID, c: groupsCounted, limitErr: store.ErrSubjectLimitExceeded}
	for builds := 0; ; {
		_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		reasons := cancellation(err)
		switch {
		case failedCondition(reasons, 1):
			return nil // a member already
		case failedCondition(reasons, 0):
			if old := reasons[0].Item; old == nil || getBool(old, attrDeleting) {
				return store.ErrNotFound
			}
			return store.ErrLimitExceeded
		case failedCondition(reasons, 3):
			if err := add.refused(ctx, s, reasons[3].Item); err != nil {
				return err
			}
			continue
		case failedCondition(reasons, 4) && builds < grantsRebuilds:
			builds++
			if err := s.rebuildGrants(ctx, tenant, subjectID); err != nil {
				return err
			}
			continue
		}
		return fault.Unavailable("dynamodb:TransactWriteItems", err)
	}
}

// RemoveMember implements store.Groups: one transaction removes both sides,
// takes the group out of the member's grants item and uncounts the member.
// When it cannot (not a member, or the group is gone) any half of the
// membership left behind is deleted plainly.
func (s *Store) RemoveMember(ctx context.Context, tenant, groupID, subjectID string) error {
	groupSide := key(groupPK(tenant, groupID), memberSK(subjectID))
	subjectSide := key(subjectPK(tenant, subjectID), membershipSK(groupID))
	for range grantsRebuilds + 1 {
		reasons, err := s.transactUncounted(ctx, []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &s.table, Key: groupSide, ConditionExpression: aws.String("attribute_exists(PK)")}},
			{Delete: &types.Delete{TableName: &s.table, Key: subjectSide}},
			{Update: &types.Update{
				TableName:                 &s.table,
				Key:                       key(groupPK(tenant, groupID), skGroup),
				UpdateExpression:          aws.String("SET memberCount = memberCount - :one"),
				ConditionExpression:       aws.String("attribute_exists(PK)"),
				ExpressionAttributeValues: item{":one": num(1)},
			}},
			s.grantsStep(tenant, subjectID, "DELETE", attrMemberOf, groupID),
		}, s.removeStep(tenant, subjectID, groupsCounted))
		switch {
		case err == nil:
			return nil
		case failedCondition(reasons, 0) || failedCondition(reasons, 2):
			return s.endMemberships(ctx, tenant, groupID, []string{subjectID}, true)
		case failedCondition(reasons, 3):
			if err := s.rebuildGrants(ctx, tenant, subjectID); err != nil {
				return err
			}
			continue
		}
		return fault.Unavailable("dynamodb:TransactWriteItems", err)
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", errGrantsChanged)
}

// endMemberships deletes the member side of memberships of a group that is
// gone or being deleted, taking the group out of each member's grants item
// in the same transaction (25 members to one), and with groupSide the
// group's side too.
func (s *Store) endMemberships(ctx context.Context, tenant, groupID string, members []string, groupSide bool) error {
	for chunk := range slices.Chunk(members, 25) {
		var steps []types.TransactWriteItem
		for _, m := range chunk {
			steps = append(steps,
				types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: key(subjectPK(tenant, m), membershipSK(groupID))}},
				// Unconditional: an item made here is incomplete, and built
				// before it is used.
				types.TransactWriteItem{Update: &types.Update{
					TableName: &s.table, Key: grantsKey(tenant, m),
					UpdateExpression:          aws.String("DELETE memberOf :g ADD grantsVersion :one"),
					ExpressionAttributeValues: item{":g": &types.AttributeValueMemberSS{Value: []string{groupID}}, ":one": num(1)},
				}})
			if groupSide {
				steps = append(steps, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: key(groupPK(tenant, groupID), memberSK(m))}})
			}
		}
		if _, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: steps}); err != nil {
			return fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
	}
	return nil
}

// Members implements store.Groups.
func (s *Store) Members(ctx context.Context, tenant, groupID string) ([]string, error) {
	return s.sortKeySuffixes(ctx, groupPK(tenant, groupID), skMemberPrefix)
}

// Memberships implements store.Groups.
func (s *Store) Memberships(ctx context.Context, tenant, subjectID string) ([]string, error) {
	return s.sortKeySuffixes(ctx, subjectPK(tenant, subjectID), skMembershipPrefix)
}

// sortKeySuffixes returns what follows prefix in the sort keys of pk that
// start with it.
func (s *Store) sortKeySuffixes(ctx context.Context, pk, prefix string) ([]string, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: item{":pk": str(pk), ":prefix": str(prefix)},
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = strings.TrimPrefix(getS(it, attrSK), prefix)
	}
	return out, nil
}

// DisplayNames implements store.Subjects with BatchGetItem, 100 keys a call.
func (s *Store) DisplayNames(ctx context.Context, tenant string, subjectIDs []string) (map[string]string, error) {
	names := map[string]string{}
	var keys []item
	for _, sid := range subjectIDs {
		switch kind, _, err := subject.Parse(sid); {
		case err != nil:
		case kind == subject.Client:
			keys = append(keys, key(subjectPK(tenant, sid), skClient))
		case kind == subject.Group:
			keys = append(keys, key(subjectPK(tenant, sid), skGroup))
		}
	}
	for chunk := range slices.Chunk(keys, 100) {
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending[s.table].Keys) > 0; attempt++ {
			if attempt == 8 {
				return nil, fault.Unavailable("dynamodb:BatchGetItem", errors.New("keys left unprocessed"))
			}
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fault.Unavailable("dynamodb:BatchGetItem", err)
			}
			for _, it := range out.Responses[s.table] {
				if getBool(it, attrDeleting) {
					continue
				}
				sid := strings.TrimPrefix(getS(it, attrPK), "T#"+tenant+"#S#")
				if n := getS(it, attrName); n != "" {
					names[sid] = n
				} else {
					names[sid] = getS(it, attrDisplayName)
				}
			}
			pending = out.UnprocessedKeys
		}
	}
	return names, nil
}

// markGroupDeleting tombstones a group, takes it out of the listing index
// and uncounts it, in one transaction; a group tombstoned before is left as
// it is (a repeated delete finishes the cascade). ErrNotFound when there is
// no group.
func (s *Store) markGroupDeleting(ctx context.Context, tenant, groupID string) error {
	reasons, err := s.transactCounted(ctx, tenant, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                           &s.table,
			Key:                                 key(groupPK(tenant, groupID), skGroup),
			UpdateExpression:                    aws.String("SET deleting = :true REMOVE GSI1PK, GSI1SK"),
			ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(deleting)"),
			ExpressionAttributeValues:           item{":true": boolean(true)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		s.countStep(tenant, attrGroups, -1),
		// Decisions read the group's grants item alone.
		{Update: &types.Update{
			TableName: &s.table, Key: grantsKey(tenant, subject.ID(subject.Group, groupID)),
			UpdateExpression:          aws.String("SET deleting = :true ADD grantsVersion :one"),
			ExpressionAttributeValues: item{":true": boolean(true), ":one": num(1)},
		}},
	}, 1)
	if done, result := tombstoned(reasons, err); done {
		return result
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", err)
}
