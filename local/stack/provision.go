package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/local/samtemplate"
)

// Resources names what Provision created.
type Resources struct {
	TableName string
	KeyAlias  string
	KeyARN    string
}

// Provision creates the template's DynamoDB table and KMS signing key with
// alias, with the names, keys, indexes and key spec the template gives them.
func Provision(ctx context.Context, t *samtemplate.Template, ddb *dynamodb.Client, kmsClient *kms.Client) (Resources, error) {
	var res Resources
	var err error
	if res.TableName, err = CreateTable(ctx, t, ddb); err != nil {
		return res, err
	}

	keyID, err := t.FirstOfType("AWS::KMS::Key")
	if err != nil {
		return res, err
	}
	keyProps := t.Resources[keyID].Properties
	spec, err := t.Resolve(keyProps["KeySpec"])
	if err != nil {
		return res, err
	}
	usage, _ := keyProps["KeyUsage"].(string)
	desc, _ := keyProps["Description"].(string)
	key, err := kmsClient.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpec(spec), KeyUsage: kmstypes.KeyUsageType(usage), Description: &desc,
	})
	if err != nil {
		return res, fmt.Errorf("create signing key: %w", err)
	}
	res.KeyARN = aws.ToString(key.KeyMetadata.Arn)

	// Every alias of the key (current and previous) starts on it, as in a
	// new stack; the functions' SIGNING_KEY_ID names the current one.
	for _, aliasID := range t.OfType("AWS::KMS::Alias") {
		name, err := t.Resolve(t.Resources[aliasID].Properties["AliasName"])
		if err != nil {
			return res, err
		}
		if _, err := kmsClient.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &name, TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
			return res, fmt.Errorf("create alias %s: %w", name, err)
		}
	}
	fns := t.APIFunctions()
	if len(fns) == 0 {
		return res, errors.New("the template declares no function")
	}
	env, err := t.Environment(fns[0])
	if err != nil {
		return res, err
	}
	if res.KeyAlias = env["SIGNING_KEY_ID"]; res.KeyAlias == "" {
		return res, errors.New("the functions have no SIGNING_KEY_ID")
	}
	return res, nil
}

// CreateTable creates the template's DynamoDB table, with its key schema,
// indexes and TTL, and returns its name; a table that exists is left as it
// is.
func CreateTable(ctx context.Context, t *samtemplate.Template, ddb *dynamodb.Client) (string, error) {
	tableID, err := t.FirstOfType("AWS::DynamoDB::Table")
	if err != nil {
		return "", err
	}
	name, err := t.Resolve(t.Resources[tableID].Properties["TableName"])
	if err != nil {
		return "", err
	}
	in, err := createTableInput(name, t.Resources[tableID].Properties)
	if err != nil {
		return "", err
	}
	if _, err := ddb.CreateTable(ctx, in); err != nil {
		var inUse *ddbtypes.ResourceInUseException
		if !errors.As(err, &inUse) {
			return "", fmt.Errorf("create table %s: %w", name, err)
		}
	}
	if ttl := mapOf(t.Resources[tableID].Properties["TimeToLiveSpecification"]); ttl["AttributeName"] != nil {
		attr, _ := ttl["AttributeName"].(string)
		if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               &name,
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: &attr, Enabled: aws.Bool(true)},
		}); err != nil {
			return "", fmt.Errorf("enable TTL on %s: %w", name, err)
		}
	}
	return name, nil
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var ks []ddbtypes.KeySchemaElement
	for _, e := range listOf(v) {
		m := mapOf(e)
		ks = append(ks, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(str(m["AttributeName"])), KeyType: ddbtypes.KeyType(str(m["KeyType"])),
		})
	}
	return ks
}

func createTableInput(name string, p map[string]any) (*dynamodb.CreateTableInput, error) {
	in := &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: ddbtypes.BillingMode(str(p["BillingMode"])),
		KeySchema:   keySchema(p["KeySchema"]),
	}
	for _, e := range listOf(p["AttributeDefinitions"]) {
		m := mapOf(e)
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(str(m["AttributeName"])), AttributeType: ddbtypes.ScalarAttributeType(str(m["AttributeType"])),
		})
	}
	for _, e := range listOf(p["GlobalSecondaryIndexes"]) {
		m := mapOf(e)
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(str(m["IndexName"])),
			KeySchema:  keySchema(m["KeySchema"]),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(str(mapOf(m["Projection"])["ProjectionType"]))},
		})
	}
	if len(in.KeySchema) == 0 || len(in.AttributeDefinitions) == 0 {
		return nil, errors.New("the template's table has no key schema")
	}
	return in, nil
}
