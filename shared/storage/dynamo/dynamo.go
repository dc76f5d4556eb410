package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// API is the part of the DynamoDB client the store calls.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store is the DynamoDB store.
type Store struct {
	api   API
	table string
}

var (
	_ store.Tenants     = (*Store)(nil)
	_ store.Clients     = (*Store)(nil)
	_ store.Secrets     = (*Store)(nil)
	_ store.Credentials = (*Store)(nil)
)

// New returns a Store on table.
func New(api API, table string) *Store { return &Store{api: api, table: table} }

func key(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// putNew stores an item whose key must not exist yet; ErrConflict if it does.
func (s *Store) putNew(ctx context.Context, it item) error {
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	switch {
	case isConditionFailed(err):
		return store.ErrConflict
	case err != nil:
		return fault.Unavailable("dynamodb:PutItem", err)
	}
	return nil
}

// getLive reads a subject's own item, strongly consistent; ErrNotFound when
// it is missing or being deleted.
func (s *Store) getLive(ctx context.Context, pk, sk string) (item, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fault.Unavailable("dynamodb:GetItem", err)
	}
	if out.Item == nil || getBool(out.Item, attrDeleting) {
		return nil, store.ErrNotFound
	}
	return out.Item, nil
}

// CreateTenant implements store.Tenants.
func (s *Store) CreateTenant(ctx context.Context, name string) error {
	return s.putNew(ctx, key(tenantPK(name), skTenant))
}

// TenantExists implements store.Tenants.
func (s *Store) TenantExists(ctx context.Context, name string) (bool, error) {
	_, err := s.getLive(ctx, tenantPK(name), skTenant)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// CreateClient implements store.Clients.
func (s *Store) CreateClient(ctx context.Context, c client.Client) error {
	return s.createListed(ctx, c.Tenant, clientItem(c), attrClients)
}

// createListed puts a new client or group item and counts it, in one
// transaction; ErrConflict when the id is taken.
func (s *Store) createListed(ctx context.Context, tenant string, it item, countAttr string) error {
	reasons, err := s.transactCounted(ctx, tenant, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		s.countStep(tenant, countAttr, 1),
	}, 1)
	switch {
	case err == nil:
		return nil
	case failedCondition(reasons, 0):
		return store.ErrConflict
	case errors.Is(err, fault.ErrUnavailable):
		return err
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", err)
}

// GetClient implements store.Clients.
func (s *Store) GetClient(ctx context.Context, tenant, id string) (client.Client, error) {
	it, err := s.getLive(ctx, clientPK(tenant, id), skClient)
	if err != nil {
		return client.Client{}, err
	}
	return clientFromItem(it), nil
}

// ReplaceClient implements store.Clients. With cond.NotRootOwner the
// update and a check that the client has no owner policy on / are one
// transaction, read back afterwards (transactions return no item).
func (s *Store) ReplaceClient(ctx context.Context, c client.Client, cond store.ReplaceCondition) (client.Client, error) {
	update := s.replaceUpdate(c, cond.Version)
	if !cond.NotRootOwner {
		out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: update.TableName, Key: update.Key, UpdateExpression: update.UpdateExpression,
			ConditionExpression: update.ConditionExpression, ExpressionAttributeNames: update.ExpressionAttributeNames,
			ExpressionAttributeValues: update.ExpressionAttributeValues, ReturnValues: types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return client.Client{}, replaceRefusal(ccf.Item)
		}
		if err != nil {
			return client.Client{}, fault.Unavailable("dynamodb:UpdateItem", err)
		}
		return clientFromItem(out.Attributes), nil
	}
	update.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: update},
		{ConditionCheck: &types.ConditionCheck{TableName: &s.table,
			Key:                 key(clientPK(c.Tenant, c.ID), policySK(action.Owner, resource.Root)),
			ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	reasons := cancellation(err)
	switch {
	case err == nil:
		return s.GetClient(ctx, c.Tenant, c.ID)
	case failedCondition(reasons, 0):
		return client.Client{}, replaceRefusal(reasons[0].Item)
	case failedCondition(reasons, 1):
		return client.Client{}, store.ErrLastOwner
	}
	return client.Client{}, fault.Unavailable("dynamodb:TransactWriteItems", err)
}

// replaceUpdate sets the fields a caller sets (client.Spec), over version
// when it is not 0.
func (s *Store) replaceUpdate(c client.Client, version int64) *types.Update {
	cond := "attribute_exists(PK) AND attribute_not_exists(deleting)"
	values := item{
		":name": str(c.Name), ":description": str(c.Description),
		":grantTypes": list(c.GrantTypes), ":scopes": list(c.Scopes), ":redirectUris": list(c.RedirectURIs),
		":audiences": list(c.Audiences), ":tokenLifetime": num(int64(c.TokenLifetime / time.Second)), ":tokenClaims": strMap(c.TokenClaims),
		":updatedAt": timestamp(c.UpdatedAt), ":one": num(1),
		":nameKey": str(nameKey(c.Name, c.ID)), ":nameLower": str(strings.ToLower(c.Name)),
	}
	if version != 0 {
		cond += " AND version = :expected"
		values[":expected"] = num(version)
	}
	return &types.Update{
		TableName: &s.table,
		Key:       key(clientPK(c.Tenant, c.ID), skClient),
		UpdateExpression: aws.String("SET #name = :name, description = :description, grantTypes = :grantTypes, " +
			"scopes = :scopes, redirectUris = :redirectUris, audiences = :audiences, tokenLifetime = :tokenLifetime, " +
			"tokenClaims = :tokenClaims, updatedAt = :updatedAt, version = version + :one, GSI1SK = :nameKey, nameLower = :nameLower"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#name": attrName},
		ExpressionAttributeValues: values,
	}
}

// replaceRefusal tells why a replace's condition failed, from the item as
// it was: gone (or being deleted), or at another version.
func replaceRefusal(old item) error {
	if old == nil || getBool(old, attrDeleting) {
		return store.ErrNotFound
	}
	return store.ErrVersionMismatch
}

// DeleteClient implements store.Clients. The sequence: mark the client item
// as deleting (from here on the client does not exist for any reader, gets
// no token, passes no authorization, and nothing can be added to it), end
// its group memberships, delete every other item of its partition, delete
// the client item last. A crash anywhere leaves a state the next call
// finishes.
func (s *Store) DeleteClient(ctx context.Context, tenant, id string) error {
	pk := clientPK(tenant, id)
	if err := s.markClientDeleting(ctx, tenant, id); err != nil {
		return err
	}
	return s.finishDelete(ctx, tenant, subject.ID(subject.Client, id), pk, skClient)
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
	}, 1)
	if done, result := tombstoned(reasons, err); done {
		return result
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", err)
}

// tombstoned reads the outcome of a transaction whose first step sets a
// tombstone: done when it succeeded, found the subject gone (ErrNotFound)
// or tombstoned before (nil: the caller finishes the cascade), or could not
// reach DynamoDB.
func tombstoned(reasons []types.CancellationReason, err error) (done bool, result error) {
	switch {
	case err == nil:
		return true, nil
	case failedCondition(reasons, 0):
		if reasons[0].Item == nil {
			return true, store.ErrNotFound
		}
		return true, nil
	case errors.Is(err, fault.ErrUnavailable):
		return true, err
	}
	return false, nil
}

// finishDelete removes everything of a tombstoned subject: its memberships
// on both sides, the members of a group on both sides, every other item of
// its partition, and finally its own item.
func (s *Store) finishDelete(ctx context.Context, tenant, subjectID, pk, ownSK string) error {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: item{":pk": str(pk)},
	})
	if err != nil {
		return err
	}
	var doomed []item
	for _, it := range items {
		sk := getS(it, attrSK)
		switch {
		case sk == ownSK:
		case strings.HasPrefix(sk, skMembershipPrefix):
			if err := s.RemoveMember(ctx, tenant, strings.TrimPrefix(sk, skMembershipPrefix), subjectID); err != nil {
				return err
			}
		case strings.HasPrefix(sk, skMemberPrefix):
			member := strings.TrimPrefix(sk, skMemberPrefix)
			groupID := strings.TrimPrefix(subjectID, subject.ID(subject.Group, ""))
			doomed = append(doomed, key(subjectPK(tenant, member), membershipSK(groupID)), key(pk, sk))
		default:
			doomed = append(doomed, key(pk, sk))
		}
	}
	if err := s.deleteAll(ctx, doomed); err != nil {
		return err
	}
	if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: key(pk, ownSK)}); err != nil {
		return fault.Unavailable("dynamodb:DeleteItem", err)
	}
	return nil
}

// deleteAll deletes keys in batches of 25, retrying what DynamoDB leaves
// unprocessed.
func (s *Store) deleteAll(ctx context.Context, keys []item) error {
	for chunk := range slices.Chunk(keys, 25) {
		reqs := make([]types.WriteRequest, len(chunk))
		for i, k := range chunk {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
		}
		pending := map[string][]types.WriteRequest{s.table: reqs}
		for attempt := 0; len(pending[s.table]) > 0; attempt++ {
			if attempt == 8 {
				return fault.Unavailable("dynamodb:BatchWriteItem", errors.New("items left unprocessed"))
			}
			out, err := s.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fault.Unavailable("dynamodb:BatchWriteItem", err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// ImportClients writes new clients of one tenant, 99 to a transaction with
// the count: a bulk load (from another identity provider, or the scale
// benchmark). The ids must be new; ErrConflict when one is not (nothing of
// its transaction is written).
func (s *Store) ImportClients(ctx context.Context, clients []client.Client) error {
	for chunk := range slices.Chunk(clients, 99) {
		tenant := chunk[0].Tenant
		steps := make([]types.TransactWriteItem, 0, len(chunk)+1)
		for _, c := range chunk {
			if c.Tenant != tenant {
				return errors.New("ImportClients: clients of several tenants")
			}
			steps = append(steps, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: clientItem(c),
				ConditionExpression: aws.String("attribute_not_exists(PK)")}})
		}
		steps = append(steps, s.countStep(tenant, attrClients, int64(len(chunk))))
		reasons, err := s.transactCounted(ctx, tenant, steps, len(chunk))
		switch {
		case err == nil:
		case slices.ContainsFunc(reasons[:min(len(reasons), len(chunk))], func(r types.CancellationReason) bool {
			return aws.ToString(r.Code) == "ConditionalCheckFailed"
		}):
			return store.ErrConflict
		case errors.Is(err, fault.ErrUnavailable):
			return err
		default:
			return fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
	}
	return nil
}

// query runs in (on the table, strongly consistent unless it names an
// index) and returns the items of every page.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput) ([]item, error) {
	in.TableName = &s.table
	if in.IndexName == nil {
		in.ConsistentRead = aws.Bool(true)
	}
	var items []item
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, fault.Unavailable("dynamodb:Query", err)
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ListClients implements store.Clients. Listings read GSI1, which is
// eventually consistent: a client created a moment ago may be missing.
func (s *Store) ListClients(ctx context.Context, tenant string, q store.PageQuery) (store.Page[client.Client], error) {
	return listPage(ctx, s, clientsGSI1PK(tenant), q, func(k string) item { return key(clientPK(tenant, idOfNameKey(k)), skClient) }, clientFromItem)
}

// listPage reads one page of a tenant's GSI1 listing in name order: from a
// position, backward to one, from the end, or skipping items from the start.
// itemKey gives the table key of the item at a position. A search filters
// on the lowercase name and reads at most q.ScanLimit items.
func listPage[T any](ctx context.Context, s *Store, gsi1pk string, q store.PageQuery, itemKey func(string) item, from func(item) T) (store.Page[T], error) {
	backward := q.Before != "" || q.Last
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: item{":pk": str(gsi1pk)},
		ScanIndexForward:          aws.Bool(!backward),
	}
	if pos := q.After + q.Before; pos != "" {
		if !id.Valid(idOfNameKey(pos)) {
			return store.Page[T]{}, store.ErrBadPosition
		}
		start := itemKey(pos)
		start[attrGSI1PK], start[attrGSI1SK] = str(gsi1pk), str(pos)
		in.ExclusiveStartKey = start
	}
	// Tombstoned items leave the index in the tombstone's write; this
	// also hides those of an interrupted older delete.
	in.FilterExpression = aws.String("attribute_not_exists(deleting)")
	search := q.Search != ""
	if search {
		in.FilterExpression = aws.String("attribute_not_exists(deleting) AND contains(nameLower, :search)")
		in.ExpressionAttributeValues[":search"] = str(strings.ToLower(q.Search))
	}
	page := store.Page[T]{Items: []T{}}
	skip, scanned := q.Skip, 0
	for {
		// DynamoDB returns at most 1 MB a call whatever the limit.
		if search && q.ScanLimit > 0 {
			in.Limit = aws.Int32(int32(q.ScanLimit - scanned))
		} else {
			// One more than the page, to know whether the listing goes on.
			in.Limit = aws.Int32(int32(min(skip+q.Limit+1, 1<<20)))
		}
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return page, fault.Unavailable("dynamodb:Query", err)
		}
		scanned += int(out.ScannedCount)
		for _, it := range out.Items {
			skipped := skip > 0
			switch {
			case skipped:
				skip--
				page.Skipped++
				page.Last = getS(it, attrGSI1SK)
			case len(page.Items) == q.Limit:
				page.More = true
			default:
				page.Items = append(page.Items, from(it))
				page.Last = getS(it, attrGSI1SK)
				if len(page.Items) == 1 {
					page.First = page.Last
				}
			}
			if !skipped {
				page.Matched++
			}
			if page.More && !search {
				break
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		if page.More && !search {
			break
		}
		if search && q.ScanLimit > 0 && scanned >= q.ScanLimit {
			// The budget is spent. When the page is not full, the next
			// page goes on from the last item read, match or not.
			if !page.More {
				page.More = true
				page.Last = getS(out.LastEvaluatedKey, attrGSI1SK)
			}
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}

	if backward {
		slices.Reverse(page.Items)
		page.First, page.Last = page.Last, page.First
	}
	return page, nil
}

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
		}
	}
	if rec.Client == nil {
		rec.Secrets, rec.Keys = nil, nil
	}
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
func (s *Store) addCounted(ctx context.Context, pk, counter string, max int, child item) error {
	_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
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
	}})
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
