// Package dynamotest gives package tests the real store: one DynamoDB Local
// per test binary, with the table template.yaml defines, and a
// *dynamo.Store over it.
//
// The tests of a package that stores things call Main from their TestMain:
//
//	func TestMain(m *testing.M) { dynamotest.Main(m) }
//
// and then Store(t) and Tenant(t) in each test; every test works in a
// tenant of its own, so tests need not clean up and may run in parallel.
//
// Why DynamoDB Local and not a fake store: the store's conditions and
// transactions are the rules. That a tenant keeps an owner, that a replace
// lands only on the version it checked, that a secret is refused past the
// limit, that a member is added only to a group with room: each is a
// condition expression or a transaction in package dynamo, decided by
// DynamoDB. A fake would have to implement every one of them again, and a
// handler test against it would prove the fake, not the service.
//
// DynamoDB Local comes from tools/ (make tools). The package is for tests
// only; it lives under local/ with the rest of the harness, which no
// production package may import.
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
)

var (
	started *dynamo.Store
	client  *dynamodb.Client
	table   string
)

// Main starts DynamoDB Local, creates the table, runs the tests, stops
// DynamoDB Local and exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	s, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamotest: cannot start DynamoDB Local (run make tools):", err)
		return 1
	}
	defer s.Stop()
	if err := open(ctx, s.DynamoDBEndpoint); err != nil {
		fmt.Fprintln(os.Stderr, "dynamotest:", err)
		return 1
	}
	return m.Run()
}

func open(ctx context.Context, endpoint string) error {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(stack.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(stack.AccessKeyID, stack.SecretAccessKey, "")))
	if err != nil {
		return err
	}
	client = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		// DynamoDB Local sends no x-amz-crc32 header on error responses
		// (see local/stack).
		o.DisableValidateResponseChecksum = true
	})
	root, err := stack.FindRoot()
	if err != nil {
		return err
	}
	tmpl, err := samtemplate.Read(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	if table, err = stack.CreateTable(ctx, tmpl, client); err != nil {
		return err
	}
	started = dynamo.New(client, table)
	return nil
}

// Store is the store over the table Main created.
func Store(t testing.TB) *dynamo.Store {
	t.Helper()
	if started == nil {
		t.Fatal("dynamotest: no store; call dynamotest.Main from TestMain")
	}
	return started
}

// Client and Table are the DynamoDB client and table under Store, for a
// test that reads what was stored beneath the store's interface.
func Client(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	Store(t)
	return client, table
}

var tenants atomic.Int64

// Tenant returns a tenant name no other test of the binary uses (the
// table is new for each binary).
func Tenant(t testing.TB) string {
	t.Helper()
	return "tenant-" + strconv.FormatInt(tenants.Add(1), 10)
}
