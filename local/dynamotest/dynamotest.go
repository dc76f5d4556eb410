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
// DynamoDB Local starts with the first Store call and stops when the tests
// end.
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
	"sync"
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
	inMain bool
	once   sync.Once
	// What the first Store started: the stand-ins, the store over them,
	// or why it could not.
	running *stack.Stack
	started *dynamo.Store
	failed  error
)

// Main runs the tests and exits with their code, stopping DynamoDB Local
// if a test started it. Call it from TestMain. DynamoDB Local starts with
// the first test that asks for the store, so a run that needs none (a
// fuzz target, a -run that picks no storage test) starts nothing.
func Main(m *testing.M) {
	inMain = true
	code := m.Run()
	if running != nil {
		running.Stop()
	}
	os.Exit(code)
}

func start() {
	ctx := context.Background()
	s, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		failed = fmt.Errorf("cannot start DynamoDB Local (make tools installs it): %w", err)
		return
	}
	running = s
	failed = open(ctx, s.DynamoDBEndpoint)
}

func open(ctx context.Context, endpoint string) error {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(stack.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(stack.AccessKeyID, stack.SecretAccessKey, "")))
	if err != nil {
		return err
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
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
	table, err := stack.CreateTable(ctx, tmpl, client)
	if err != nil {
		return err
	}
	started = dynamo.New(client, table)
	return nil
}

// Store is the store over the binary's table, starting DynamoDB Local and
// creating the table on the first call.
func Store(t testing.TB) *dynamo.Store {
	t.Helper()
	if !inMain {
		t.Fatal("dynamotest: call dynamotest.Main from TestMain, so that DynamoDB Local is stopped")
	}
	once.Do(start)
	if failed != nil {
		t.Fatal("dynamotest:", failed)
	}
	return started
}

var tenants atomic.Int64

// Tenant returns a tenant name no other test of the binary uses (the
// table is new for each binary).
func Tenant(t testing.TB) string {
	t.Helper()
	return "tenant-" + strconv.FormatInt(tenants.Add(1), 10)
}
