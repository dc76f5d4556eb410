package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
