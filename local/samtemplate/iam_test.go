package samtemplate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// call is one AWS request a function makes, on one kind of resource:
// "table", "gsi1" (the table's index), "key" (the signing keys),
// "secret" (Secrets Manager) or "stack" (CloudFormation).
type call struct{ action, on string }

// calls lists, per function, what its code asks AWS for. Derived from
// shared/storage/dynamo (each s.api.* call and each transaction step:
// Put, Update, Delete, ConditionCheck need PutItem, UpdateItem,
// DeleteItem, ConditionCheckItem), shared/signing/kms and
// functions/provisioning, following which store methods each handler
// package reaches. A new call in the code belongs here, and then in the
// template.
var calls = map[string][]call{
	"TokenFunction": {
		{"dynamodb:Query", "table"},      // GetCredentials
		{"dynamodb:GetItem", "table"},    // tenant, client, TokenRevoked, read-backs after a failed condition
		{"dynamodb:UpdateItem", "table"}, // CountAttempt, UncountAttempt, countRevocation, RecordUse
		{"dynamodb:PutItem", "table"},    // UseAssertion, RevokeToken
		{"kms:Sign", "key"},
		{"kms:GetPublicKey", "key"},
	},
	"ClientsFunction": {
		{"dynamodb:GetItem", "table"}, {"dynamodb:BatchGetItem", "table"}, {"dynamodb:PutItem", "table"},
		{"dynamodb:UpdateItem", "table"}, {"dynamodb:DeleteItem", "table"}, {"dynamodb:Query", "table"},
		{"dynamodb:BatchWriteItem", "table"}, {"dynamodb:ConditionCheckItem", "table"}, {"dynamodb:Query", "gsi1"},
		{"kms:GetPublicKey", "key"},
	},
	"SecretsFunction": {
		{"dynamodb:Query", "table"}, {"dynamodb:GetItem", "table"}, {"dynamodb:PutItem", "table"},
		{"dynamodb:UpdateItem", "table"}, {"dynamodb:DeleteItem", "table"}, {"kms:GetPublicKey", "key"},
	},
	"PoliciesFunction": {
		{"dynamodb:GetItem", "table"}, {"dynamodb:BatchGetItem", "table"}, {"dynamodb:Query", "table"},
		{"dynamodb:PutItem", "table"}, {"dynamodb:UpdateItem", "table"}, {"dynamodb:DeleteItem", "table"},
		{"dynamodb:BatchWriteItem", "table"}, {"dynamodb:Query", "gsi1"}, {"kms:GetPublicKey", "key"},
	},
	"ProvisioningFunction": {
		{"secretsmanager:GetSecretValue", "secret"}, {"kms:Decrypt", "key"}, {"cloudformation:DescribeStackResource", "stack"},
	},
}

// statements returns the IAM statements that apply to fn's role: its
// Policies and any AWS::IAM::RolePolicy naming the role.
func statements(tmpl *Template, fn string) []map[string]any {
	docs := append([]any{}, asList(tmpl.Resources[fn].Properties["Policies"])...)
	for _, name := range tmpl.OfType("AWS::IAM::RolePolicy") {
		props := tmpl.Resources[name].Properties
		if asMap(props["RoleName"])["Ref"] == fn+"Role" {
			docs = append(docs, props["PolicyDocument"])
		}
	}
	var out []map[string]any
	for _, d := range docs {
		for _, st := range asList(asMap(d)["Statement"]) {
			out = append(out, asMap(st))
		}
	}
	return out
}

// resourceKind names what a statement's Resource designates.
func resourceKind(resource any) []string {
	b, _ := json.Marshal(resource)
	s := string(b)
	var kinds []string
	for kind, marks := range map[string][]string{
		"gsi1":   {"/index/GSI1"},
		"table":  {`["Table","Arn"]`},
		"key":    {"SigningKey", ":kms:"},
		"secret": {":secretsmanager:", "ProvisionerSecretArn"},
		"stack":  {":cloudformation:"},
	} {
		for _, m := range marks {
			if strings.Contains(s, m) {
				kinds = append(kinds, kind)
				break
			}
		}
	}
	return kinds
}

func actions(st map[string]any) []string {
	if a, ok := st["Action"].(string); ok {
		return []string{a}
	}
	var out []string
	for _, a := range asList(st["Action"]) {
		s, _ := a.(string)
		out = append(out, s)
	}
	return out
}

func TestRolesAllowTheCallsTheCodeMakes(t *testing.T) {
	tmpl, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for fn, want := range calls {
		sts := statements(tmpl, fn)
		if len(sts) == 0 {
			t.Errorf("%s: no IAM statements found", fn)
		}
		for _, c := range want {
			allowed := false
			for _, st := range sts {
				if st["Effect"] == "Allow" && slices.Contains(actions(st), c.action) && slices.Contains(resourceKind(st["Resource"]), c.on) {
					allowed = true
				}
			}
			if !allowed {
				t.Errorf("%s calls %s on the %s, which its role does not allow", fn, c.action, c.on)
			}
		}
		// And nothing beyond: every allowed action is one the code makes.
		for _, st := range sts {
			for _, a := range actions(st) {
				if !slices.ContainsFunc(want, func(c call) bool { return c.action == a }) {
					t.Errorf("%s's role allows %s, which its code never calls", fn, a)
				}
			}
		}
	}
}

// The token function's writes are held to its token partitions and to
// nothing coming back: every write statement names the leading keys and
// ReturnValues NONE, and the code that writes never asks DynamoDB to
// return an item, not even one that failed a condition (whether
// dynamodb:Attributes conditions allow ALL_OLD there is undocumented: a
// failed condition is read back with GetItem instead).
func TestTokenFunctionWritesStayInItsPartitions(t *testing.T) {
	tmpl, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, st := range statements(tmpl, "TokenFunction") {
		acts := actions(st)
		if !slices.Contains(acts, "dynamodb:UpdateItem") && !slices.Contains(acts, "dynamodb:PutItem") {
			continue
		}
		writes++
		cond := asMap(st["Condition"])
		keys := asList(asMap(cond["ForAllValues:StringLike"])["dynamodb:LeadingKeys"])
		returns := asList(asMap(cond["StringEqualsIfExists"])["dynamodb:ReturnValues"])
		if !slices.Equal(keys, []any{"TOKEN#*"}) || !slices.Equal(returns, []any{"NONE"}) ||
			len(asList(asMap(cond["ForAllValues:StringLike"])["dynamodb:Attributes"])) == 0 {
			t.Errorf("%v: write statement not held to TOKEN# partitions, named attributes and ReturnValues NONE: %v", st["Sid"], cond)
		}
	}
	if writes == 0 {
		t.Error("no write statements found for the token function")
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "shared", "storage", "dynamo", "tokenstate.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, forbidden := range []string{"ReturnValuesOnConditionCheckFailure:", "ReturnValues:"} {
		if strings.Contains(string(src), forbidden) {
			t.Errorf("tokenstate.go sets %s: the token function's policy does not allow items back", forbidden)
		}
	}
}
