package integration

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/samtemplate"
)

// iamRecorder records, per function, the IAM actions its AWS calls need,
// with the kind of resource each touches ("dynamodb:Query@index").
type iamRecorder struct {
	mu   sync.Mutex
	seen map[string]map[string]bool
}

func (rec *iamRecorder) install(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordIAMActions",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if fn := gateway.FunctionFrom(ctx); fn != "" {
				rec.add(fn, iamActions(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters))
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (rec *iamRecorder) add(fn string, actions []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen == nil {
		rec.seen = map[string]map[string]bool{}
	}
	if rec.seen[fn] == nil {
		rec.seen[fn] = map[string]bool{}
	}
	for _, a := range actions {
		rec.seen[fn][a] = true
	}
}

// iamActions maps one SDK call to the IAM actions it is authorized by: a
// transaction needs the item-level action of each of its items.
func iamActions(service, op string, params any) []string {
	switch service {
	case "KMS":
		return []string{"kms:" + op + "@key"}
	case "DynamoDB":
		switch in := params.(type) {
		case *dynamodb.TransactWriteItemsInput:
			var out []string
			for _, it := range in.TransactItems {
				switch {
				case it.Put != nil:
					out = append(out, "dynamodb:PutItem@table")
				case it.Update != nil:
					out = append(out, "dynamodb:UpdateItem@table")
				case it.Delete != nil:
					out = append(out, "dynamodb:DeleteItem@table")
				case it.ConditionCheck != nil:
					out = append(out, "dynamodb:ConditionCheckItem@table")
				}
			}
			return out
		case *dynamodb.QueryInput:
			if in.IndexName != nil {
				return []string{"dynamodb:Query@index"}
			}
		}
		return []string{"dynamodb:" + op + "@table"}
	}
	return []string{service + ":" + op}
}

// granted reads the actions each function's policy statements allow, by
// resource kind.
func granted(t *samtemplate.Template, fn string) map[string]bool {
	out := map[string]bool{}
	policies, _ := t.Resources[fn].Properties["Policies"].([]any)
	for _, p := range policies {
		stmts, _ := p.(map[string]any)["Statement"].([]any)
		for _, st := range stmts {
			s := st.(map[string]any)
			for _, a := range asList(s["Action"]) {
				for _, r := range asList(s["Resource"]) {
					out[a.(string)+"@"+resourceKind(r)] = true
				}
			}
		}
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func resourceKind(r any) string {
	m, _ := r.(map[string]any)
	switch {
	case fmt.Sprint(m["Fn::GetAtt"]) == "[Table Arn]":
		return "table"
	case fmt.Sprint(m["Fn::GetAtt"]) == "[SigningKey Arn]",
		strings.Contains(fmt.Sprint(m["Fn::If"]), "[SigningKey Arn]"):
		return "key"
	case strings.HasPrefix(fmt.Sprint(m["Fn::Sub"]), "${Table.Arn}/index/"):
		return "index"
	}
	return fmt.Sprint(r)
}

// checkLeastPrivilege compares, after a complete run of the suite, what each
// function called with what the template grants it: both ways, so a missing
// permission and an unused one both fail.
func checkLeastPrivilege(rec *iamRecorder, t *samtemplate.Template) []string {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return nil // a partial run does not exercise every call
	}
	var problems []string
	for _, fn := range t.APIFunctions() {
		want := granted(t, fn)
		got := rec.seen[fn]
		for a := range got {
			if !want[a] {
				problems = append(problems, fmt.Sprintf("%s calls %s, which template.yaml does not grant", fn, a))
			}
		}
		for a := range want {
			if !got[a] {
				problems = append(problems, fmt.Sprintf("%s is granted %s, which no test saw it use", fn, a))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// TestProvisioningFunctionReadsSecretsOnly: the custom-resource function
// works through the HTTP API, so its role grants no table or key access:
// exactly the provisioner secret, the client secrets under the prefix, and
// confirming events with CloudFormation. (Neither service has a local
// stand-in, so this reads the template alone.)
func TestProvisioningFunctionReadsSecretsOnly(t *testing.T) {
	got := slices.Sorted(maps.Keys(granted(env.svc.Template, "ProvisioningFunction")))
	want := []string{
		"cloudformation:DescribeStackResource@map[Fn::Sub:arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*]",
		"secretsmanager:GetSecretValue@map[Fn::Sub:arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ClientSecretNamePrefix}*]",
		"secretsmanager:GetSecretValue@map[Ref:ProvisionerSecretArn]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ProvisioningFunction is granted\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
