package dynamo

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
)

// Each subject's grants item (SK A!GRANTS, in its partition) holds what a
// decision needs of it in one item: its policies, one string set per action
// (attribute a:<action>, elements "<scope> <createdAt>"), and the ids of
// its groups (memberOf). A policy or membership item and the grants item
// change in the same transaction, by set ADD and DELETE, which commute, so
// concurrent writes need no read. Each such write also bumps grantsVersion
// and requires the item to be complete: an item that is not (a subject of
// an older version, a user's first write) is built from the partition
// first (buildGrants), and the build writes only if grantsVersion did not
// move while it read. A group's tombstone sets deleting on its grants item
// too, so a decision learns from it alone that the group grants nothing.
//
// Size: an action name is at most 200 bytes, a scope 512, a createdAt 7
// to 17, so one set element is at most 530 bytes and 100 policies at most
// 53 KB with their action names, well inside DynamoDB's 400 KB item. Typical
// policies ("banking.ais.read" on "/companies/42") take about 20 bytes an
// element, so 100 of them and 10 memberships fit one 4 KB read unit.

const (
	skGrants           = "A!GRANTS" // sorts just before every A# item
	attrGrantsVersion  = "grantsVersion"
	attrGrantsComplete = "complete"
	attrMemberOf       = "memberOf"
	grantsActionPrefix = "a:"
)

func grantsKey(tenant, subjectID string) item { return key(subjectPK(tenant, subjectID), skGrants) }

// grantsElement is a policy's element in its action's set. createdAt is in
// base 36 seconds, with nanoseconds after a dot when there are any.
func grantsElement(p policy.Policy) string {
	t := p.CreatedAt.UTC()
	e := p.Scope + " " + strconv.FormatInt(t.Unix(), 36)
	if ns := t.Nanosecond(); ns != 0 {
		e += "." + strconv.Itoa(ns)
	}
	return e
}

// grantsPolicies reads the policies of subjectID from its grants item,
// ordered as the policy items sort (action, then scope).
func grantsPolicies(subjectID string, it item) []policy.Policy {
	var out []policy.Policy
	for name, v := range it {
		act, ok := strings.CutPrefix(name, grantsActionPrefix)
		set, isSet := v.(*types.AttributeValueMemberSS)
		if !ok || !isSet {
			continue
		}
		for _, e := range set.Value {
			sc, at, _ := strings.Cut(e, " ")
			out = append(out, policy.Policy{Subject: subjectID, Action: act, Scope: sc, CreatedAt: grantsTime(at)})
		}
	}
	slices.SortFunc(out, func(a, b policy.Policy) int {
		return strings.Compare(a.Action+"#"+a.Scope, b.Action+"#"+b.Scope)
	})
	return out
}

func grantsTime(v string) time.Time {
	sec, ns, _ := strings.Cut(v, ".")
	s, _ := strconv.ParseInt(sec, 36, 64)
	n, _ := strconv.Atoi(ns)
	return time.Unix(s, int64(n)).UTC()
}

// grantsMemberOf returns the group ids of a grants item, sorted as the
// membership items are.
func grantsMemberOf(it item) []string {
	set, _ := it[attrMemberOf].(*types.AttributeValueMemberSS)
	if set == nil {
		return nil
	}
	ids := slices.Clone(set.Value)
	slices.Sort(ids)
	return ids
}

// grantsStep changes one set of a subject's grants item in a transaction:
// op is ADD or DELETE. It fails, and with it the transaction, when the item
// is not complete (the write then builds it, buildGrants, and tries again).
func (s *Store) grantsStep(tenant, subjectID, op, set, element string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 &s.table,
		Key:                       grantsKey(tenant, subjectID),
		UpdateExpression:          aws.String(grantsUpdate(op)),
		ConditionExpression:       aws.String("attribute_exists(complete)"),
		ExpressionAttributeNames:  map[string]string{"#set": set},
		ExpressionAttributeValues: item{":e": &types.AttributeValueMemberSS{Value: []string{element}}, ":one": num(1)},
	}}
}

// grantsUpdate changes #set by :e and bumps the version (one ADD clause
// may name both).
func grantsUpdate(op string) string {
	if op == "ADD" {
		return "ADD #set :e, grantsVersion :one"
	}
	return op + " #set :e ADD grantsVersion :one"
}

func (s *Store) grantsPolicyStep(tenant, op string, p policy.Policy) types.TransactWriteItem {
	return s.grantsStep(tenant, p.Subject, op, grantsActionPrefix+p.Action, grantsElement(p))
}

// grantsRebuilds bounds how often one write builds its subject's grants
// item before giving up: each build is lost only to another write of the
// same subject.
const grantsRebuilds = 3

// newGrantsItem is the grants item of a subject created now: complete and
// empty.
func newGrantsItem(tenant, subjectID string) item {
	it := grantsKey(tenant, subjectID)
	it[attrGrantsComplete], it[attrGrantsVersion] = boolean(true), num(0)
	return it
}

// errGrantsChanged: a build of a grants item lost to a write of the same
// subject, which bumped its version while the build read.
var errGrantsChanged = errors.New("grants item changed while it was built")

// buildGrants writes a subject's grants item from its partition: its
// policy and membership items, and a tombstone. It reads the item's
// version first and writes only if it is unchanged, so a write that
// committed meanwhile (which bumps it) is never lost: errGrantsChanged,
// and the caller tries its own write again. Revoked tokens an older
// release kept in a client's partition are copied to its token partition,
// where decisions look for them now.
func (s *Store) buildGrants(ctx context.Context, tenant, subjectID string) error {
	pk := subjectPK(tenant, subjectID)
	old, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: grantsKey(tenant, subjectID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fault.Unavailable("dynamodb:GetItem", err)
	}
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :a AND :r"),
		ExpressionAttributeValues: item{":pk": str(pk), ":a": str(skDecisionStart), ":r": str("R$")},
	})
	if err != nil {
		return err
	}
	it := newGrantsItem(tenant, subjectID)
	it[attrGrantsVersion] = num(getN(old.Item, attrGrantsVersion) + 1)
	if getBool(old.Item, attrDeleting) {
		it[attrDeleting] = boolean(true)
	}
	own := getS(ownKey(tenant, subjectID), attrSK)
	sets := map[string][]string{}
	for _, x := range items {
		sk := getS(x, attrSK)
		switch {
		case sk == own && getBool(x, attrDeleting):
			it[attrDeleting] = boolean(true)
		case strings.HasPrefix(sk, skMembershipPrefix):
			sets[attrMemberOf] = append(sets[attrMemberOf], strings.TrimPrefix(sk, skMembershipPrefix))
		case strings.HasPrefix(sk, skPolicyPrefix):
			p := policyFromItem(x)
			sets[grantsActionPrefix+p.Action] = append(sets[grantsActionPrefix+p.Action], grantsElement(p))
		case strings.HasPrefix(sk, skRevokedPrefix):
			if err := s.moveRevoked(ctx, tenant, subjectID, x); err != nil {
				return err
			}
		}
	}
	for name, v := range sets {
		it[name] = &types.AttributeValueMemberSS{Value: v}
	}
	cond, values := "attribute_not_exists(PK)", item(nil)
	if old.Item != nil {
		cond, values = "attribute_not_exists(grantsVersion)", nil
		if v, ok := old.Item[attrGrantsVersion]; ok {
			cond, values = "grantsVersion = :v", item{":v": v}
		}
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it,
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: values})
	switch {
	case isConditionFailed(err):
		return errGrantsChanged
	case err != nil:
		return fault.Unavailable("dynamodb:PutItem", err)
	}
	return nil
}

// rebuildGrants builds a grants item a write found incomplete: nil when
// built, or when another write changed it meanwhile (the caller's next
// attempt tells).
func (s *Store) rebuildGrants(ctx context.Context, tenant, subjectID string) error {
	if err := s.buildGrants(ctx, tenant, subjectID); err != nil && !errors.Is(err, errGrantsChanged) {
		return err
	}
	return nil
}

// moveRevoked copies a revoked token an older release kept in a client's
// partition to the client's token partition, unless its TTL has passed.
func (s *Store) moveRevoked(ctx context.Context, tenant, subjectID string, it item) error {
	kind, clientID, err := subject.Parse(subjectID)
	ttl, expires := it[attrTTL]
	if err != nil || kind != subject.Client || expires && getN(it, attrTTL) <= time.Now().Unix() {
		return nil
	}
	moved := item{attrPK: str(tokenPK(tenant, clientID)), attrSK: it[attrSK]}
	if expires {
		moved[attrTTL] = ttl
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: moved})
	if err != nil {
		return fault.Unavailable("dynamodb:PutItem", err)
	}
	return nil
}

// RebuildGrants builds a subject's grants item again from its partition:
// for iamctl upgrade, which makes every subject's item and repairs one that
// a write by an older version left behind during a deployment.
func (s *Store) RebuildGrants(ctx context.Context, tenant, subjectID string) error {
	for range grantsRebuilds {
		if err := s.buildGrants(ctx, tenant, subjectID); !errors.Is(err, errGrantsChanged) {
			return err
		}
	}
	return fault.Unavailable("dynamodb:PutItem", errGrantsChanged)
}
