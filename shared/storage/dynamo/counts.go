package dynamo

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// A tenant's listing counts (item T#<t> / COUNTS) hold how many live
// clients and groups it has. Creating one adds one, and tombstoning it takes
// one away, in the same transaction, so the totals of listings are exact
// without reading the listings. The steps require the count to exist: a
// tenant from before the counts were kept gets them made first (see
// ensureCounts) rather than starting from zero.

func (s *Store) countsKey(tenant string) item { return key(tenantPK(tenant), skCounts) }

// countStep is the transaction step that adds delta to the count attr.
func (s *Store) countStep(tenant, attr string, delta int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           &s.table,
		Key:                                 s.countsKey(tenant),
		UpdateExpression:                    aws.String("ADD #n :d"),
		ConditionExpression:                 aws.String("attribute_exists(#n)"),
		ExpressionAttributeNames:            map[string]string{"#n": attr},
		ExpressionAttributeValues:           item{":d": num(delta)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// transactCounted runs steps, whose step i is a count step; when the count
// is missing it makes the counts and runs them again.
func (s *Store) transactCounted(ctx context.Context, tenant string, steps []types.TransactWriteItem, i int) ([]types.CancellationReason, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: steps})
		reasons := cancellation(err)
		// The step's only condition is that the count exists.
		if err == nil || attempt > 0 || !failedCondition(reasons, i) {
			return reasons, err
		}
		if err := s.ensureCounts(ctx, tenant); err != nil {
			return nil, err
		}
	}
}

// CountClients implements store.Clients.
func (s *Store) CountClients(ctx context.Context, tenant string) (int, error) {
	return s.count(ctx, tenant, attrClients)
}

// CountGroups implements store.Groups.
func (s *Store) CountGroups(ctx context.Context, tenant string) (int, error) {
	return s.count(ctx, tenant, attrGroups)
}

func (s *Store) count(ctx context.Context, tenant, attr string) (int, error) {
	for attempt := 0; ; attempt++ {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: s.countsKey(tenant), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, fault.Unavailable("dynamodb:GetItem", err)
		}
		if _, ok := out.Item[attr]; ok || attempt > 0 {
			// Never below zero, should an older version's deletes have
			// outrun its creates during a rolling update.
			return max(0, int(getN(out.Item, attr))), nil
		}
		if err := s.ensureCounts(ctx, tenant); err != nil {
			return 0, err
		}
	}
}

// ensureCounts makes a tenant's missing counts, once: for a new tenant, or
// one from before the counts were kept. It counts the index (Select COUNT:
// DynamoDB reads the items but returns only numbers). The index read is
// eventually consistent, but no create or tombstone can commit while the
// counts are missing, so only a write made a moment before by an older
// version could be missed; counts that exist are never overwritten.
func (s *Store) ensureCounts(ctx context.Context, tenant string) error {
	counts := map[string]int64{}
	for attr, gsi1pk := range map[string]string{attrClients: clientsGSI1PK(tenant), attrGroups: groupsGSI1PK(tenant)} {
		n, err := s.countQuery(ctx, &dynamodb.QueryInput{
			IndexName:                 aws.String(indexGSI1),
			KeyConditionExpression:    aws.String("GSI1PK = :pk"),
			FilterExpression:          aws.String("attribute_not_exists(deleting)"),
			ExpressionAttributeValues: item{":pk": str(gsi1pk)},
		})
		if err != nil {
			return err
		}
		counts[attr] = int64(n)
	}
	return s.putCounts(ctx, tenant, counts)
}

// putCounts writes a tenant's counts unless they exist.
func (s *Store) putCounts(ctx context.Context, tenant string, counts map[string]int64) error {
	it := s.countsKey(tenant)
	for attr, n := range counts {
		it[attr] = num(n)
	}
	if err := s.putNew(ctx, it); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// countQuery runs in (a Query, on the table and strongly consistent unless
// it names an index) with Select COUNT, page by page, and sums the matches.
func (s *Store) countQuery(ctx context.Context, in *dynamodb.QueryInput) (int, error) {
	in.TableName, in.Select = &s.table, types.SelectCount
	if in.IndexName == nil {
		in.ConsistentRead = aws.Bool(true)
	}
	n := 0
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return 0, fault.Unavailable("dynamodb:Query", err)
		}
		n += int(out.Count)
		if out.LastEvaluatedKey == nil {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// UpgradeTenant brings a tenant written by an older version to the current
// layout: its clients and groups listed in name order and searchable, its
// tombstoned ones out of the index, its counts made, and every subject's
// grants item built from its partition (which also repairs one that an
// older function's write left behind during a deployment). It is
// idempotent, and meant for an operator (iamctl upgrade) right after a
// deployment: a large tenant takes longer than a request may.
func (s *Store) UpgradeTenant(ctx context.Context, tenant string) (upgraded int, err error) {
	counts := map[string]int64{}
	subjects := map[string]bool{}
	for attr, gsi1pk := range map[string]string{attrClients: clientsGSI1PK(tenant), attrGroups: groupsGSI1PK(tenant)} {
		items, err := s.query(ctx, &dynamodb.QueryInput{
			IndexName:                 aws.String(indexGSI1),
			KeyConditionExpression:    aws.String("GSI1PK = :pk"),
			ExpressionAttributeValues: item{":pk": str(gsi1pk)},
		})
		if err != nil {
			return upgraded, err
		}
		for _, it := range items {
			changed, err := s.upgradeListed(ctx, it)
			if err != nil {
				return upgraded, err
			}
			if changed {
				upgraded++
			}
			if !getBool(it, attrDeleting) {
				counts[attr]++
				subjects[strings.TrimPrefix(getS(it, attrPK), subjectPK(tenant, ""))] = true
			}
		}
	}
	if err := s.putCounts(ctx, tenant, counts); err != nil {
		return upgraded, err
	}
	users, err := s.usersOf(ctx, tenant, subjects)
	if err != nil {
		return upgraded, err
	}
	for _, u := range users {
		subjects[u] = true
	}
	return upgraded, s.rebuildAllGrants(ctx, tenant, subjects)
}

// usersOf finds the users of a tenant, whom nothing lists: those with a
// policy, and the members of its groups.
func (s *Store) usersOf(ctx context.Context, tenant string, subjects map[string]bool) ([]string, error) {
	prefix := subject.ID(subject.User, "")
	items, err := s.query(ctx, &dynamodb.QueryInput{
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk AND begins_with(GSI1SK, :users)"),
		ExpressionAttributeValues: item{":pk": str(policiesGSI1PK(tenant)), ":users": str(prefix)},
	})
	if err != nil {
		return nil, err
	}
	var users []string
	for _, it := range items {
		users = append(users, getS(it, attrSubject))
	}
	for sid := range subjects {
		kind, gid, _ := subject.Parse(sid)
		if kind != subject.Group {
			continue
		}
		members, err := s.Members(ctx, tenant, gid)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if strings.HasPrefix(m, prefix) {
				users = append(users, m)
			}
		}
	}
	return users, nil
}

// rebuildAllGrants builds the grants items of subjects, a few at a time.
func (s *Store) rebuildAllGrants(ctx context.Context, tenant string, subjects map[string]bool) error {
	work := make(chan string)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sid := range work {
				if err := s.RebuildGrants(ctx, tenant, sid); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for sid := range subjects {
		select {
		case work <- sid:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return errors.Join(err, <-errs)
}

// upgradeListed brings a listed client or group item written by an older
// version to the current layout, unless it changed meanwhile (a rename
// writes the current layout itself).
func (s *Store) upgradeListed(ctx context.Context, it item) (bool, error) {
	kind, nameAttr := subject.Client, attrName
	if getS(it, attrSK) == skGroup {
		kind, nameAttr = subject.Group, attrDisplayName
	}
	name := getS(it, nameAttr)
	sortKey := nameKey(name, subjectIDOf(it, kind))
	in := &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(getS(it, attrPK), getS(it, attrSK))}
	switch {
	case getBool(it, attrDeleting):
		in.UpdateExpression = aws.String("REMOVE GSI1PK, GSI1SK")
		in.ConditionExpression = aws.String("attribute_exists(PK)")
	case getS(it, attrGSI1SK) == sortKey && getS(it, attrNameLower) == strings.ToLower(name):
		return false, nil
	default:
		in.UpdateExpression = aws.String("SET GSI1SK = :k, nameLower = :l")
		in.ConditionExpression = aws.String("attribute_exists(PK) AND #name = :name AND attribute_not_exists(deleting)")
		in.ExpressionAttributeNames = map[string]string{"#name": nameAttr}
		in.ExpressionAttributeValues = item{":k": str(sortKey), ":l": str(strings.ToLower(name)), ":name": str(name)}
	}
	if _, err := s.api.UpdateItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return false, nil
		}
		return false, fault.Unavailable("dynamodb:UpdateItem", err)
	}
	return true, nil
}
