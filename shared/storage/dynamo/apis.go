package dynamo

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

var _ store.APIs = (*Store)(nil)

// apiSpec is an API's spec as stored, in one JSON attribute: it is read and
// written whole.
type apiSpec struct {
	Identifier   string `json:"identifier"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Discoverable bool   `json:"discoverable,omitempty"`
	Scopes       []struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
	} `json:"scopes,omitempty"`
	Actions []struct {
		Name        string `json:"name"`
		Parent      string `json:"parent,omitempty"`
		Description string `json:"description,omitempty"`
	} `json:"actions,omitempty"`
}

const attrSpec = "spec"

func apiItem(a apis.API) item {
	var sp apiSpec
	sp.Identifier, sp.Name, sp.Description, sp.Discoverable = a.Identifier, a.Name, a.Description, a.Discoverable
	for _, s := range a.Scopes {
		sp.Scopes = append(sp.Scopes, struct {
			Name        string `json:"name"`
			Description string `json:"description,omitempty"`
		}(s))
	}
	for _, x := range a.Actions {
		sp.Actions = append(sp.Actions, struct {
			Name        string `json:"name"`
			Parent      string `json:"parent,omitempty"`
			Description string `json:"description,omitempty"`
		}(x))
	}
	doc, _ := json.Marshal(sp) // plain strings and bools: cannot fail
	it := key(apisPK(a.Tenant), apiSK(a.ID))
	it[attrSpec] = str(string(doc))
	it["apiId"] = str(a.ID)
	it[attrVersion] = num(a.Version)
	it[attrCreatedAt] = timestamp(a.CreatedAt)
	it[attrUpdatedAt] = timestamp(a.UpdatedAt)
	it[attrProvenance] = provenanceValue(a.Provenance)
	return it
}

func apiFromItem(tenant string, it item) apis.API {
	var sp apiSpec
	_ = json.Unmarshal([]byte(getS(it, attrSpec)), &sp) // written by apiItem
	a := apis.API{Tenant: tenant, ID: getS(it, "apiId"), Version: getN(it, attrVersion),
		CreatedAt: getTime(it, attrCreatedAt), UpdatedAt: getTime(it, attrUpdatedAt), Provenance: provenanceOf(it),
		Spec: apis.Spec{Identifier: sp.Identifier, Name: sp.Name, Description: sp.Description, Discoverable: sp.Discoverable}}
	for _, s := range sp.Scopes {
		a.Scopes = append(a.Scopes, apis.Scope(s))
	}
	for _, x := range sp.Actions {
		a.Actions = append(a.Actions, apis.Action(x))
	}
	return a
}

// reservations are the writes that reserve an API's identifier (when
// withIdentifier) and names for it: each succeeds when the name is free or
// the API's already. names[i] says what writes[i] reserves, for a conflict.
func (s *Store) reservations(a apis.API, withIdentifier bool) (writes []types.TransactWriteItem, names []string) {
	reserve := func(sk, what string, fresh bool) {
		cond := "attribute_not_exists(PK) OR apiId = :id"
		if fresh {
			cond = "attribute_not_exists(PK)"
		}
		it := key(apisPK(a.Tenant), sk)
		it["apiId"] = str(a.ID)
		writes = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it,
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: conditionValues(cond, a.ID)}})
		names = append(names, what)
	}
	if withIdentifier {
		reserve(apiIdentifierSK(a.Identifier), "identifier "+a.Identifier, true)
	}
	for _, sc := range a.Scopes {
		reserve(apiScopeSK(sc.Name), "scope "+sc.Name, false)
	}
	for _, x := range a.Actions {
		reserve(apiActionSK(x.Name), "action "+x.Name, false)
	}
	return writes, names
}

func conditionValues(cond, id string) item {
	if !strings.Contains(cond, ":id") {
		return nil
	}
	return item{":id": str(id)}
}

// writeAPI runs the API's own write (first) and its reservations in one
// transaction, and turns a refused reservation into a *NameConflict.
func (s *Store) writeAPI(ctx context.Context, own types.TransactWriteItem, a apis.API, withIdentifier bool, ownFailed error, counted ...types.TransactWriteItem) error {
	writes, names := s.reservations(a, withIdentifier)
	items := append(append([]types.TransactWriteItem{own}, writes...), counted...)
	_, err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	reasons := cancellation(err)
	if failedCondition(reasons, 0) {
		return ownFailed
	}
	if len(counted) > 0 && failedCondition(reasons, len(items)-1) {
		return store.ErrLimitExceeded
	}
	var taken []string
	for i, n := range names {
		if failedCondition(reasons, i+1) {
			taken = append(taken, n)
		}
	}
	if len(taken) > 0 {
		return &store.NameConflict{Names: taken}
	}
	return fault.Unavailable("dynamodb:TransactWriteItems", err)
}

// CreateAPI implements store.APIs. The tenant's count of APIs goes up in
// the same transaction, refused at apis.MaxPerTenant, so concurrent
// creates cannot pass the limit.
func (s *Store) CreateAPI(ctx context.Context, a apis.API) error {
	own := types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: apiItem(a), ConditionExpression: aws.String("attribute_not_exists(PK)")}}
	count := types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: key(apisPK(a.Tenant), skAPICount),
		UpdateExpression:          aws.String("ADD apiCount :one"),
		ConditionExpression:       aws.String("attribute_not_exists(apiCount) OR apiCount < :max"),
		ExpressionAttributeValues: item{":one": num(1), ":max": num(apis.MaxPerTenant)}}}
	return s.writeAPI(ctx, own, a, true, store.ErrConflict, count)
}

// GetAPI implements store.APIs.
func (s *Store) GetAPI(ctx context.Context, tenant, id string) (apis.API, error) {
	it, err := s.getLive(ctx, apisPK(tenant), apiSK(id))
	if err != nil {
		return apis.API{}, err
	}
	return apiFromItem(tenant, it), nil
}

// ReplaceAPI implements store.APIs. The identifier is not written: it was
// reserved at creation and never changes.
func (s *Store) ReplaceAPI(ctx context.Context, a apis.API, version int64) (apis.API, error) {
	cur, err := s.GetAPI(ctx, a.Tenant, a.ID)
	if err != nil {
		return apis.API{}, err
	}
	if cur.Version != version {
		return apis.API{}, store.ErrVersionMismatch
	}
	a.Identifier, a.CreatedAt, a.Provenance, a.Version = cur.Identifier, cur.CreatedAt, cur.Provenance, version+1
	own := types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: apiItem(a),
		ConditionExpression:       aws.String("attribute_exists(PK) AND version = :v"),
		ExpressionAttributeValues: item{":v": num(version)}}}
	if err := s.writeAPI(ctx, own, a, false, store.ErrVersionMismatch); err != nil {
		return apis.API{}, err
	}
	return a, nil
}

// DeleteAPI implements store.APIs. An API changed or deleted between the
// read and the write is read again, a few times at most.
func (s *Store) DeleteAPI(ctx context.Context, tenant, id string) error {
	for attempt := 0; ; attempt++ {
		cur, err := s.GetAPI(ctx, tenant, id)
		if err != nil {
			return err
		}
		_, err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &s.table, Key: key(apisPK(tenant), apiSK(id)),
				ConditionExpression: aws.String("version = :v"), ExpressionAttributeValues: item{":v": num(cur.Version)}}},
			{Delete: &types.Delete{TableName: &s.table, Key: key(apisPK(tenant), apiIdentifierSK(cur.Identifier))}},
			{Update: &types.Update{TableName: &s.table, Key: key(apisPK(tenant), skAPICount),
				UpdateExpression: aws.String("ADD apiCount :minus"), ExpressionAttributeValues: item{":minus": num(-1)}}},
		}})
		switch {
		case err == nil:
			return nil
		case failedCondition(cancellation(err), 0) && attempt < 4:
			continue
		default:
			return fault.Unavailable("dynamodb:TransactWriteItems", err)
		}
	}
}

// ListAPIs implements store.APIs with one Query of the tenant's API items.
func (s *Store) ListAPIs(ctx context.Context, tenant string) ([]apis.API, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: item{":pk": str(apisPK(tenant)), ":p": str(skAPIPrefix)},
	})
	if err != nil {
		return nil, err
	}
	out := make([]apis.API, 0, len(items))
	for _, it := range items {
		out = append(out, apiFromItem(tenant, it))
	}
	return out, nil
}
