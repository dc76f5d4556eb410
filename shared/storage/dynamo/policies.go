package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

var (
	_ store.Policies = (*Store)(nil)
	_ store.Groups   = (*Store)(nil)
	_ store.Subjects = (*Store)(nil)
)

func needsLiveSubject(subjectID string) bool {
	kind, _, err := subject.Parse(subjectID)
	return err == nil && kind != subject.User
}

// PutPolicy implements store.Policies. The put, the subject's policy count
// (refused at policy.MaxPerSubject, and for a client or group unless it is
// alive) and its grants item are one transaction, so a policy can never be
// left on a subject that is being deleted, nor one too many be added by
// racing puts, nor a decision miss it.
func (s *Store) PutPolicy(ctx context.Context, tenant string, p policy.Policy) (policy.Policy, bool, error) {
	put := &types.Put{TableName: &s.table, Item: policyItem(tenant, p), ConditionExpression: aws.String("attribute_not_exists(PK)")}
	add, ownersMade, builds := countedAdd{tenant: tenant, subjectID: p.Subject, c: policiesCounted, limitErr: store.ErrLimitExceeded}, false, 0
	for {
		steps := []types.TransactWriteItem{s.addStep(tenant, p.Subject, policiesCounted), {Put: put}, s.grantsPolicyStep(tenant, "ADD", p)}
		if isRootOwner(p.Triple()) {
			steps = append(steps, s.addOwner(tenant))
		}
		_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: steps})
		reasons := cancellation(err)
		_, ownersMissing := ownerCountFailed(reasons, 3)
		switch {
		case err == nil:
			return p, true, nil
		case failedCondition(reasons, 1):
			return s.storedPolicy(ctx, tenant, p.Triple())
		case failedCondition(reasons, 0):
			if err := add.refused(ctx, s, reasons[0].Item); err != nil {
				return policy.Policy{}, false, err
			}
		case failedCondition(reasons, 2) && builds < grantsRebuilds:
			builds++
			if err := s.rebuildGrants(ctx, tenant, p.Subject); err != nil {
				return policy.Policy{}, false, err
			}
		case ownersMissing && !ownersMade:
			if err := s.ensureOwnerCount(ctx, tenant); err != nil {
				return policy.Policy{}, false, err
			}
			ownersMade = true
		default:
			return policy.Policy{}, false, fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
	}
}

// storedPolicy reads the policy that made a create idempotent.
func (s *Store) storedPolicy(ctx context.Context, tenant string, k policy.Triple) (policy.Policy, bool, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table,
		Key: key(subjectPK(tenant, k.Subject), policySK(k.Action, k.Scope)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return policy.Policy{}, false, fault.Unavailable("dynamodb:GetItem", err)
	}
	if out.Item == nil {
		// Deleted between the two calls; a retry settles it.
		return policy.Policy{}, false, fault.Unavailable("dynamodb:GetItem", errors.New("policy deleted concurrently"))
	}
	return policyFromItem(out.Item), false, nil
}

// DeletePolicy implements store.Policies.
func (s *Store) DeletePolicy(ctx context.Context, tenant string, k policy.Triple) error {
	if isRootOwner(k) {
		return s.deleteRootOwnerPolicy(ctx, tenant, k)
	}
	return s.deletePolicyItem(ctx, tenant, k)
}

// deletePolicyItem deletes a policy item that no owner count depends on,
// and counts it off its subject and its grants item.
func (s *Store) deletePolicyItem(ctx context.Context, tenant string, k policy.Triple) error {
	for range grantsRebuilds + 1 {
		stored, err := s.policyToDelete(ctx, tenant, k)
		if err != nil {
			return err
		}
		p := policyFromItem(stored)
		steps := []types.TransactWriteItem{s.deletePolicyStep(stored), s.grantsPolicyStep(tenant, "DELETE", p)}
		reasons, err := s.transactUncounted(ctx, steps, s.removeStep(tenant, k.Subject, policiesCounted))
		switch {
		case err == nil:
			return nil
		case failedCondition(reasons, 0):
			// Gone, or deleted and put again: read it again.
		case failedCondition(reasons, 1):
			if err := s.rebuildGrants(ctx, tenant, k.Subject); err != nil {
				return err
			}
		default:
			return fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", errGrantsChanged)
}

// policyToDelete reads the policy a deletion takes out of its subject's
// grants item, which holds it with its creation time; ErrNotFound.
func (s *Store) policyToDelete(ctx context.Context, tenant string, k policy.Triple) (item, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table,
		Key: key(subjectPK(tenant, k.Subject), policySK(k.Action, k.Scope)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fault.Unavailable("dynamodb:GetItem", err)
	}
	if out.Item == nil {
		return nil, store.ErrNotFound
	}
	return out.Item, nil
}

// deletePolicyStep deletes p's item as it was read: a policy deleted and
// put again meanwhile has another creation time, hence another element in
// the grants item, and fails the step.
func (s *Store) deletePolicyStep(stored item) types.TransactWriteItem {
	cond, values := "attribute_exists(PK) AND attribute_not_exists(createdAt)", item(nil)
	if c, ok := stored[attrCreatedAt]; ok {
		cond, values = "createdAt = :c", item{":c": c}
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: &s.table, Key: key(getS(stored, attrPK), getS(stored, attrSK)),
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
	}}
}

// SubjectPolicies implements store.Policies.
func (s *Store) SubjectPolicies(ctx context.Context, tenant, subjectID string) ([]policy.Policy, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: item{":pk": str(subjectPK(tenant, subjectID)), ":p": str(skPolicyPrefix)},
	})
	if err != nil {
		return nil, err
	}
	return policiesOf(items), nil
}

func policiesOf(items []item) []policy.Policy {
	out := make([]policy.Policy, 0, len(items))
	for _, it := range items {
		if strings.HasPrefix(getS(it, attrSK), skPolicyPrefix) {
			out = append(out, policyFromItem(it))
		}
	}
	return out
}

// ListPolicies implements store.Policies: GSI1 read a page at a time from
// the position after names.
func (s *Store) ListPolicies(ctx context.Context, tenant string, after *policy.Triple, limit, scanLimit int, keep func(policy.Policy) bool) ([]policy.Policy, *policy.Triple, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: item{":pk": str(policiesGSI1PK(tenant))},
	}
	if after != nil {
		in.ExclusiveStartKey = item{
			attrGSI1PK: str(policiesGSI1PK(tenant)), attrGSI1SK: str(policyGSI1SK(after.Subject, after.Action, after.Scope)),
			attrPK: str(subjectPK(tenant, after.Subject)), attrSK: str(policySK(after.Action, after.Scope)),
		}
	}
	var found []policy.Policy
	scanned := 0
	for {
		// Reading past a full page loses nothing: the next position is its
		// last policy.
		in.Limit = aws.Int32(int32(scanLimit - scanned))
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, nil, fault.Unavailable("dynamodb:Query", err)
		}
		scanned += int(out.ScannedCount)
		var last *policy.Triple
		for _, it := range out.Items {
			p := policyFromItem(it)
			k := p.Triple()
			last = &k
			if keep(p) {
				if len(found) == limit {
					k := found[limit-1].Triple()
					return found, &k, nil
				}
				found = append(found, p)
			}
		}
		if out.LastEvaluatedKey == nil {
			return found, nil, nil
		}
		if len(found) == limit {
			k := found[limit-1].Triple()
			return found, &k, nil
		}
		if scanned >= scanLimit {
			return found, last, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// decisionItems reads the part of a subject's partition decisions use: its
// own item, memberships and policies (A# to X; attempt counts sort before).
func (s *Store) decisionItems(ctx context.Context, tenant, subjectID string) ([]item, error) {
	return s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :start AND :end"),
		ExpressionAttributeValues: item{":pk": str(subjectPK(tenant, subjectID)), ":start": str(skDecisionStart), ":end": str(skDecisionEnd)},
	})
}

// alive reports whether items hold the own item ownSK without a tombstone.
func alive(items []item, ownSK string) bool {
	for _, it := range items {
		if getS(it, attrSK) == ownSK {
			return !getBool(it, attrDeleting)
		}
	}
	return false
}

// maxParallelGroupReads bounds the group Queries of one decision in flight.
const maxParallelGroupReads = 8

// Grants implements store.Policies: one Query of the subject's grants item
// and own item, which sort next to each other, then one BatchGetItem of its
// groups' grants items, all strongly consistent. A subject or group whose
// grants item is not complete yet (written by an older version) is read as
// before, from its partition.
func (s *Store) Grants(ctx context.Context, tenant, subjectID string) (policy.Grants, error) {
	kind, _, err := subject.Parse(subjectID)
	if err != nil {
		return policy.Grants{}, store.ErrSubjectNotFound
	}
	ownSK := getS(ownKey(tenant, subjectID), attrSK)
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :grants AND :own"),
		ExpressionAttributeValues: item{":pk": str(subjectPK(tenant, subjectID)), ":grants": str(skGrants), ":own": str(ownSK)},
	})
	if err != nil {
		return policy.Grants{}, err
	}
	var grants, own item
	for _, it := range items {
		switch getS(it, attrSK) {
		case skGrants:
			grants = it
		case ownSK:
			own = it
		}
	}
	if !getBool(grants, attrGrantsComplete) {
		return s.partitionGrants(ctx, tenant, subjectID)
	}
	if kind != subject.User && (own == nil || getBool(own, attrDeleting) || getBool(grants, attrDeleting)) {
		return policy.Grants{}, store.ErrSubjectNotFound
	}
	g := policy.Grants{Direct: grantsPolicies(subjectID, grants)}
	if kind == subject.Client {
		c := clientFromItem(own)
		g.TokenRights = c.TokenRights()
		g.Revocation.KilledAt = c.TokensRevokedAt
	}
	g.Groups, err = s.groupsGrants(ctx, tenant, grantsMemberOf(grants))
	return g, err
}

// groupsGrants reads the policies of live groups among ids (sorted) from
// their grants items, with BatchGetItem (100 keys a call).
func (s *Store) groupsGrants(ctx context.Context, tenant string, ids []string) ([]policy.GroupGrants, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found := map[string]item{}
	for chunk := range slices.Chunk(ids, 100) {
		keys := make([]item, len(chunk))
		for i, gid := range chunk {
			keys[i] = grantsKey(tenant, subject.ID(subject.Group, gid))
		}
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending[s.table].Keys) > 0; attempt++ {
			if attempt == 8 {
				return nil, fault.Unavailable("dynamodb:BatchGetItem", errors.New("keys left unprocessed"))
			}
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fault.Unavailable("dynamodb:BatchGetItem", err)
			}
			for _, it := range out.Responses[s.table] {
				found[getS(it, attrPK)] = it
			}
			pending = out.UnprocessedKeys
		}
	}
	var out []policy.GroupGrants
	for _, gid := range ids {
		sid := subject.ID(subject.Group, gid)
		it := found[subjectPK(tenant, sid)]
		if !getBool(it, attrGrantsComplete) {
			// An older group: its partition, as before.
			gItems, err := s.decisionItems(ctx, tenant, sid)
			if err != nil {
				return nil, err
			}
			if alive(gItems, skGroup) {
				out = append(out, policy.GroupGrants{GroupID: gid, Policies: policiesOf(gItems)})
			}
			continue
		}
		// A group being deleted grants nothing, even before its
		// memberships are gone.
		if !getBool(it, attrDeleting) {
			out = append(out, policy.GroupGrants{GroupID: gid, Policies: grantsPolicies(sid, it)})
		}
	}
	return out, nil
}

// partitionGrants reads what Grants returns from partitions: one Query for
// the subject, then one per group, run concurrently. It is how a subject
// whose grants item is not complete is read.
func (s *Store) partitionGrants(ctx context.Context, tenant, subjectID string) (policy.Grants, error) {
	kind, _, err := subject.Parse(subjectID)
	if err != nil {
		return policy.Grants{}, store.ErrSubjectNotFound
	}
	items, err := s.decisionItems(ctx, tenant, subjectID)
	if err != nil {
		return policy.Grants{}, err
	}
	switch kind {
	case subject.Client:
		if !alive(items, skClient) {
			return policy.Grants{}, store.ErrSubjectNotFound
		}
	case subject.Group:
		if !alive(items, skGroup) {
			return policy.Grants{}, store.ErrSubjectNotFound
		}
	}
	g := policy.Grants{Direct: policiesOf(items)}
	var groupIDs []string
	for _, it := range items {
		switch sk := getS(it, attrSK); {
		case strings.HasPrefix(sk, skMembershipPrefix):
			groupIDs = append(groupIDs, strings.TrimPrefix(sk, skMembershipPrefix))
		case sk == skClient:
			c := clientFromItem(it)
			g.TokenRights = c.TokenRights()
			g.Revocation.KilledAt = c.TokensRevokedAt
		case strings.HasPrefix(sk, skRevokedPrefix):
			// Revoked by an older release, which kept them here; they
			// expire by TTL within the longest token life plus 10 minutes
			// of the upgrade. Revocations now live in the token partition
			// (TokenRevoked).
			g.Revocation.JTIs = append(g.Revocation.JTIs, strings.TrimPrefix(sk, skRevokedPrefix))
		}
	}
	results := make([]policy.GroupGrants, len(groupIDs))
	live := make([]bool, len(groupIDs))
	errs := make([]error, len(groupIDs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelGroupReads)
	for i, gid := range groupIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			gItems, err := s.decisionItems(ctx, tenant, subject.ID(subject.Group, gid))
			if err != nil {
				errs[i] = err
				return
			}
			// A group being deleted grants nothing, even before its
			// memberships are gone.
			live[i] = alive(gItems, skGroup)
			results[i] = policy.GroupGrants{GroupID: gid, Policies: policiesOf(gItems)}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return policy.Grants{}, err
	}
	for i := range results {
		if live[i] {
			g.Groups = append(g.Groups, results[i])
		}
	}
	return g, nil
}
