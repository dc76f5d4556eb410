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
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// CreateClient implements store.Clients.
func (s *Store) CreateClient(ctx context.Context, c client.Client) error {
	return s.createListed(ctx, c.Tenant, c.SubjectID(), clientItem(c), attrClients)
}

// createListed puts a new client or group item with its empty grants item
// and counts it, in one transaction; ErrConflict when the id is taken.
func (s *Store) createListed(ctx context.Context, tenant, subjectID string, it item, countAttr string) error {
	reasons, err := s.transactCounted(ctx, tenant, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		s.countStep(tenant, countAttr, 1),
		{Put: &types.Put{TableName: &s.table, Item: newGrantsItem(tenant, subjectID)}},
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

// RenameClient implements store.Clients with one update of the neutral
// attributes (and the name index), conditional on the rights-bearing ones
// being stored exactly as c has them (as replaceUpdate writes them), on no
// version: concurrent renames neither conflict nor retry, and one carrying
// rights that changed meanwhile is refused, not applied over them.
func (s *Store) RenameClient(ctx context.Context, c client.Client) (client.Client, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table,
		Key:       key(clientPK(c.Tenant, c.ID), skClient),
		UpdateExpression: aws.String("SET #name = :name, description = :description, updatedAt = :updatedAt, " +
			"version = version + :one, GSI1SK = :nameKey, nameLower = :nameLower"),
		ConditionExpression: aws.String("attribute_exists(PK) AND attribute_not_exists(deleting) AND grantTypes = :grantTypes AND " +
			"scopes = :scopes AND redirectUris = :redirectUris AND audiences = :audiences AND tokenLifetime = :tokenLifetime AND " +
			"tokenClaims = :tokenClaims"),
		ExpressionAttributeNames: map[string]string{"#name": attrName},
		ExpressionAttributeValues: item{":name": str(c.Name), ":description": str(c.Description), ":updatedAt": timestamp(c.UpdatedAt),
			":one": num(1), ":nameKey": str(nameKey(c.Name, c.ID)), ":nameLower": str(strings.ToLower(c.Name)),
			":grantTypes": list(c.GrantTypes), ":scopes": list(c.Scopes), ":redirectUris": list(c.RedirectURIs),
			":audiences": list(c.Audiences), ":tokenLifetime": num(int64(c.TokenLifetime / time.Second)), ":tokenClaims": strMap(c.TokenClaims)},
		ReturnValues:                        types.ReturnValueAllNew,
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
// its partition but the records of other tenants' credentials trusting it,
// and finally its own item.
func (s *Store) finishDelete(ctx context.Context, tenant, subjectID, pk, ownSK string) error {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: item{":pk": str(pk)},
	})
	if err != nil {
		return err
	}
	var doomed []item
	var members []string
	for _, it := range items {
		sk := getS(it, attrSK)
		switch {
		case sk == ownSK, sk == skGrants:
		case strings.HasPrefix(sk, skTrustedByPrefix):
			// Kept: they belong to credentials of other tenants, which
			// still trust this client id. A client later created with
			// the same chosen id is held to them (access.Policies).
		case strings.HasPrefix(sk, skMembershipPrefix):
			if err := s.RemoveMember(ctx, tenant, strings.TrimPrefix(sk, skMembershipPrefix), subjectID); err != nil {
				return err
			}
		case strings.HasPrefix(sk, skMemberPrefix):
			members = append(members, strings.TrimPrefix(sk, skMemberPrefix))
			doomed = append(doomed, key(pk, sk))
		case strings.HasPrefix(sk, skFederatedPrefix):
			// A credential trusting another tenant's client goes with the
			// record it left there.
			clientID := strings.TrimPrefix(subjectID, subject.ID(subject.Client, ""))
			if k, ok := trustedByKey(tenant, clientID, federatedFromItem(it)); ok {
				doomed = append(doomed, k)
			}
			doomed = append(doomed, key(pk, sk))
		default:
			doomed = append(doomed, key(pk, sk))
		}
	}
	// The members' sides first: a crash before the group's sides are gone
	// leaves them for the next call to find.
	if err := s.endMemberships(ctx, tenant, strings.TrimPrefix(subjectID, subject.ID(subject.Group, "")), members, false); err != nil {
		return err
	}
	if err := s.deleteAll(ctx, doomed); err != nil {
		return err
	}
	// The grants item before the subject's own: a write of the cascade may
	// have built it after the partition was read.
	for _, sk := range []string{skGrants, ownSK} {
		if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: key(pk, sk)}); err != nil {
			return fault.Unavailable("dynamodb:DeleteItem", err)
		}
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
	in, err := s.listQuery(gsi1pk, q, itemKey)
	if err != nil {
		return store.Page[T]{}, err
	}
	search := q.Search != ""
	r := &pageReader[T]{q: q, from: from, search: search, skip: q.Skip, page: store.Page[T]{Items: []T{}}}
	for {
		// DynamoDB returns at most 1 MB a call whatever the limit.
		if search && q.ScanLimit > 0 {
			in.Limit = aws.Int32(int32(q.ScanLimit - r.scanned))
		} else {
			// One more than the page, to know whether the listing goes on.
			in.Limit = aws.Int32(int32(min(r.skip+q.Limit+1, 1<<20)))
		}
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return r.page, fault.Unavailable("dynamodb:Query", err)
		}
		r.scanned += int(out.ScannedCount)
		r.read(out.Items)
		if out.LastEvaluatedKey == nil || r.page.More && !search {
			break
		}
		if search && q.ScanLimit > 0 && r.scanned >= q.ScanLimit {
			// The budget is spent. When the page is not full, the next
			// page goes on from the last item read, match or not.
			if !r.page.More {
				r.page.More = true
				r.page.Last = getS(out.LastEvaluatedKey, attrGSI1SK)
			}
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if backward {
		slices.Reverse(r.page.Items)
		r.page.First, r.page.Last = r.page.Last, r.page.First
	}
	return r.page, nil
}

// listQuery is the first Query of a listing page.
func (s *Store) listQuery(gsi1pk string, q store.PageQuery, itemKey func(string) item) (*dynamodb.QueryInput, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: item{":pk": str(gsi1pk)},
		ScanIndexForward:          aws.Bool(q.Before == "" && !q.Last),
	}
	if pos := q.After + q.Before; pos != "" {
		// Client ids may be chosen (subject.ValidClientID); group ids are
		// generated, which that accepts too.
		if !subject.ValidClientID(idOfNameKey(pos)) {
			return nil, store.ErrBadPosition
		}
		start := itemKey(pos)
		start[attrGSI1PK], start[attrGSI1SK] = str(gsi1pk), str(pos)
		in.ExclusiveStartKey = start
	}
	// Tombstoned items leave the index in the tombstone's write; this
	// also hides those of an interrupted older delete.
	in.FilterExpression = aws.String("attribute_not_exists(deleting)")
	if q.Search != "" {
		in.FilterExpression = aws.String("attribute_not_exists(deleting) AND contains(nameLower, :search)")
		in.ExpressionAttributeValues[":search"] = str(strings.ToLower(q.Search))
	}
	return in, nil
}

// pageReader fills a page from the items Queries return.
type pageReader[T any] struct {
	q             store.PageQuery
	from          func(item) T
	search        bool
	skip, scanned int
	page          store.Page[T]
}

// read takes items in order: skipped ones first, then the page's, then
// one more to know whether the listing goes on (a search counts every
// match it reads).
func (r *pageReader[T]) read(items []item) {
	for _, it := range items {
		skipped := r.skip > 0
		switch {
		case skipped:
			r.skip--
			r.page.Skipped++
			r.page.Last = getS(it, attrGSI1SK)
		case len(r.page.Items) == r.q.Limit:
			r.page.More = true
		default:
			r.page.Items = append(r.page.Items, r.from(it))
			r.page.Last = getS(it, attrGSI1SK)
			if len(r.page.Items) == 1 {
				r.page.First = r.page.Last
			}
		}
		if !skipped {
			r.page.Matched++
		}
		if r.page.More && !r.search {
			return
		}
	}
}
