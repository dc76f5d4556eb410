package integration

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/samtemplate"
)

// iamRecorder records, per function, the IAM actions its AWS calls need,
// with the kind of resource each touches ("dynamodb:Query@index"), and each
// item write with what IAM conditions see of it (the partition key and the
// attribute names).
type iamRecorder struct {
	mu     sync.Mutex
	seen   map[string]map[string]bool
	writes map[string]map[itemWrite]bool
}

// itemWrite is one item-level write as IAM evaluates it: the action, the
// item's partition key (dynamodb:LeadingKeys) and the attribute names the
// request names (dynamodb:Attributes), sorted and joined by spaces.
type itemWrite struct {
	action, pk, attributes string
}

func (rec *iamRecorder) install(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordIAMActions",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if fn := gateway.FunctionFrom(ctx); fn != "" {
				rec.add(fn, iamActions(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters))
				rec.addWrites(fn, itemWrites(in.Parameters))
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (rec *iamRecorder) addWrites(fn string, ws []itemWrite) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.writes == nil {
		rec.writes = map[string]map[itemWrite]bool{}
	}
	if rec.writes[fn] == nil {
		rec.writes[fn] = map[itemWrite]bool{}
	}
	for _, w := range ws {
		rec.writes[fn][w] = true
	}
}

// writesOf returns the item writes fn made so far.
func (rec *iamRecorder) writesOf(fn string) []itemWrite {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Collect(maps.Keys(rec.writes[fn]))
}

// itemWrites returns the item-level writes of one DynamoDB call: a
// transaction's and a batch's each item.
func itemWrites(params any) []itemWrite {
	w := func(action string, it map[string]types.AttributeValue, names map[string]string) itemWrite {
		attrs := slices.Collect(maps.Keys(it))
		attrs = append(attrs, slices.Collect(maps.Values(names))...)
		slices.Sort(attrs)
		pk, _ := it["PK"].(*types.AttributeValueMemberS)
		out := itemWrite{action: action, attributes: strings.Join(slices.Compact(attrs), " ")}
		if pk != nil {
			out.pk = pk.Value
		}
		return out
	}
	var out []itemWrite
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		out = append(out, w("dynamodb:PutItem", in.Item, in.ExpressionAttributeNames))
	case *dynamodb.UpdateItemInput:
		out = append(out, w("dynamodb:UpdateItem", in.Key, in.ExpressionAttributeNames))
	case *dynamodb.DeleteItemInput:
		out = append(out, w("dynamodb:DeleteItem", in.Key, in.ExpressionAttributeNames))
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, w("dynamodb:PutItem", it.Put.Item, it.Put.ExpressionAttributeNames))
			case it.Update != nil:
				out = append(out, w("dynamodb:UpdateItem", it.Update.Key, it.Update.ExpressionAttributeNames))
			case it.Delete != nil:
				out = append(out, w("dynamodb:DeleteItem", it.Delete.Key, it.Delete.ExpressionAttributeNames))
			case it.ConditionCheck != nil:
				out = append(out, w("dynamodb:ConditionCheckItem", it.ConditionCheck.Key, it.ConditionCheck.ExpressionAttributeNames))
			}
		}
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					out = append(out, w("dynamodb:BatchWriteItem", r.PutRequest.Item, nil))
				case r.DeleteRequest != nil:
					out = append(out, w("dynamodb:BatchWriteItem", r.DeleteRequest.Key, nil))
				}
			}
		}
	}
	return out
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

// statements returns the Allow statements of fn's role: its Policies, and
// those of AWS::IAM::RolePolicy resources attached to the role SAM makes for
// it (<fn>Role).
func statements(t *samtemplate.Template, fn string) []map[string]any {
	var docs []any
	policies, _ := t.Resources[fn].Properties["Policies"].([]any)
	docs = append(docs, policies...)
	for _, name := range t.OfType("AWS::IAM::RolePolicy") {
		p := t.Resources[name].Properties
		if fmt.Sprint(p["RoleName"]) == fmt.Sprint(map[string]any{"Ref": fn + "Role"}) {
			docs = append(docs, p["PolicyDocument"])
		}
	}
	var out []map[string]any
	for _, d := range docs {
		stmts, _ := d.(map[string]any)["Statement"].([]any)
		for _, st := range stmts {
			if s := st.(map[string]any); s["Effect"] == "Allow" {
				out = append(out, s)
			}
		}
	}
	return out
}

// granted reads the actions each function's policy statements allow, by
// resource kind.
func granted(t *samtemplate.Template, fn string) map[string]bool {
	out := map[string]bool{}
	for _, s := range statements(t, fn) {
		for _, a := range asList(s["Action"]) {
			for _, r := range asList(s["Resource"]) {
				out[a.(string)+"@"+resourceKind(r)] = true
			}
		}
	}
	return out
}

// stringLike is IAM's StringLike: * matches any run of characters, ? any
// one character.
func stringLike(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if stringLike(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && stringLike(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && stringLike(pattern[1:], s[1:])
}

// forAllLike reports whether every value matches one of the patterns a
// statement's ForAllValues:StringLike gives for key; true when it gives
// none.
func forAllLike(s map[string]any, key string, values ...string) bool {
	cond, _ := s["Condition"].(map[string]any)
	like, _ := cond["ForAllValues:StringLike"].(map[string]any)
	patterns, ok := like[key]
	if !ok {
		return true
	}
	for _, v := range values {
		if !slices.ContainsFunc(asList(patterns), func(p any) bool { return stringLike(fmt.Sprint(p), v) }) {
			return false
		}
	}
	return true
}

// checkItemWrites checks each item write fn made against the conditions of
// its role's statements: some statement allowing the action on the table
// must accept its partition key (dynamodb:LeadingKeys) and every attribute
// it names (dynamodb:Attributes).
func checkItemWrites(rec *iamRecorder, t *samtemplate.Template, fn string) []string {
	var problems []string
	for _, w := range rec.writesOf(fn) {
		allowed := slices.ContainsFunc(statements(t, fn), func(s map[string]any) bool {
			return slices.Contains(asList(s["Action"]), any(w.action)) && slices.ContainsFunc(asList(s["Resource"]), func(r any) bool { return resourceKind(r) == "table" }) &&
				forAllLike(s, "dynamodb:LeadingKeys", w.pk) && forAllLike(s, "dynamodb:Attributes", strings.Fields(w.attributes)...)
		})
		if !allowed {
			problems = append(problems, fmt.Sprintf("%s: %s of partition %q with attributes [%s], which no statement of template.yaml allows", fn, w.action, w.pk, w.attributes))
		}
	}
	slices.Sort(problems)
	return problems
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

// fallbackOnly are grants a function needs only when a dependency's
// shortcut is missing, which a suite sharing one table may never show for
// every function: kms:GetPublicKey when no instance shared its key
// resolution recently (TestSignerSharesResolutions and
// TestColdStartBurstSharesKeys exercise that fallback).
var fallbackOnly = map[string]bool{"kms:GetPublicKey@key": true}

// checkLeastPrivilege compares, after a complete run of the suite, what each
// function called with what the template grants it: both ways, so a missing
// permission and an unused one both fail.
func checkLeastPrivilege(rec *iamRecorder, t *samtemplate.Template) []string {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return nil // a partial run does not exercise every call
	}
	var problems []string
	for _, fn := range t.APIFunctions() {
		problems = append(problems, checkItemWrites(rec, t, fn)...)
		want := granted(t, fn)
		got := rec.seen[fn]
		for a := range got {
			if !want[a] {
				problems = append(problems, fmt.Sprintf("%s calls %s, which template.yaml does not grant", fn, a))
			}
		}
		for a := range want {
			if !got[a] && !fallbackOnly[a] {
				problems = append(problems, fmt.Sprintf("%s is granted %s, which no test saw it use", fn, a))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// TestProvisioningFunctionReadsSecretsOnly: the custom-resource function
// works through the HTTP API, so its role grants no table or key access:
// exactly the provisioner secret, the client secrets under the prefix,
// decrypting those (kms:Decrypt, held to Secrets Manager and those secrets
// by its conditions), and confirming events with CloudFormation. (Neither service has a local
// stand-in, so this reads the template alone.)
func TestProvisioningFunctionReadsSecretsOnly(t *testing.T) {
	got := slices.Sorted(maps.Keys(granted(env.svc.Template, "ProvisioningFunction")))
	want := []string{
		"cloudformation:DescribeStackResource@map[Fn::Sub:arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*]",
		"kms:Decrypt@map[Fn::Sub:arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*]",
		"secretsmanager:GetSecretValue@map[Fn::Sub:arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ClientSecretNamePrefix}*]",
		"secretsmanager:GetSecretValue@map[Ref:ProvisionerSecretArn]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ProvisioningFunction is granted\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTokenRoleWritesOnlyItsOwnPartitions reads template.yaml: every
// statement of the token function's role that allows an item write carries
// a dynamodb:LeadingKeys condition (ForAllValues:StringLike) whose patterns
// are exactly the token partitions' prefix, which no key of the management
// API's items matches. Then it has the token function authenticate (right
// and wrong secrets), revoke a token and introspect, and checks that every
// item write it made is one of those statements allows.
func TestTokenRoleWritesOnlyItsOwnPartitions(t *testing.T) {
	writes := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"}
	found := 0
	for _, s := range statements(env.svc.Template, "TokenFunction") {
		if !slices.ContainsFunc(asList(s["Action"]), func(a any) bool { return slices.Contains(writes, fmt.Sprint(a)) }) {
			continue
		}
		found++
		cond, _ := s["Condition"].(map[string]any)
		like, _ := cond["ForAllValues:StringLike"].(map[string]any)
		if got := fmt.Sprint(like["dynamodb:LeadingKeys"]); got != "[TOKEN#*]" {
			t.Errorf("statement %v: dynamodb:LeadingKeys %s, want [TOKEN#*]", s["Sid"], got)
		}
		for _, managed := range []string{"T#default", "T#default#S#client-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84", "T#default#ASSERTION#x"} {
			if forAllLike(s, "dynamodb:LeadingKeys", managed) {
				t.Errorf("statement %v lets the token function write partition %s", s["Sid"], managed)
			}
		}
	}
	if found == 0 {
		t.Fatal("the token function's role has no write statement")
	}

	admin := adminToken(t)
	inspector := newCaller(t, admin, "writes-inspector")
	grant(t, admin, inspector.subject, "iam.token.introspect", "/")
	c := newCaller(t, admin, "writes-client")
	tok := c.token(t)
	send(t, http.MethodPost, "/connect/token", "", tokenForm(c.id, "wrong-secret"))
	send(t, http.MethodPost, "/connect/token", "", tokenForm("not-a-client-id", "wrong-secret"))
	if r := send(t, http.MethodPost, "/connect/revocation", "", url.Values{"client_id": {c.id}, "client_secret": {c.secret}, "token": {tok}}); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	introspect(t, "/connect/introspect", inspector.id, inspector.secret, tok)
	if len(env.iam.writesOf("TokenFunction")) < 4 {
		t.Fatalf("recorded writes %v", env.iam.writesOf("TokenFunction"))
	}
	for _, p := range checkItemWrites(env.iam, env.svc.Template, "TokenFunction") {
		t.Error(p)
	}
}

// TestSigningKeyPolicy reads the signing key's policy in template.yaml:
// kms:Sign is allowed to the token function's role by its exact ARN and
// denied to every other principal; kms:PutKeyPolicy is named (no kms:Put*)
// and allowed to the key administrator alone, the account only when no
// administrator role is given; no statement grants signing otherwise.
func TestSigningKeyPolicy(t *testing.T) {
	key := env.svc.Template.Resources["SigningKey"].Properties["KeyPolicy"].(map[string]any)
	role := fmt.Sprint(map[string]any{"Fn::GetAtt": []any{"TokenFunctionRole", "Arn"}})
	admin := fmt.Sprint(map[string]any{"Fn::If": []any{"HasKeyAdministrator", map[string]any{"Ref": "KeyAdministratorRoleArn"},
		map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}})
	signers, deniers, putters := 0, 0, 0
	for _, st := range key["Statement"].([]any) {
		s := st.(map[string]any)
		actions := asList(s["Action"])
		cond, _ := s["Condition"].(map[string]any)
		principal := fmt.Sprint(s["Principal"].(map[string]any)["AWS"])
		for _, a := range actions {
			switch a := fmt.Sprint(a); {
			case a == "kms:Sign" && s["Effect"] == "Allow":
				signers++
				if eq, _ := cond["ArnEquals"].(map[string]any); fmt.Sprint(eq["aws:PrincipalArn"]) != role {
					t.Errorf("statement %v allows kms:Sign without naming the token function's role exactly: %v", s["Sid"], cond)
				}
			case a == "kms:Sign":
				deniers++
				if ne, _ := cond["ArnNotEquals"].(map[string]any); fmt.Sprint(ne["aws:PrincipalArn"]) != role || principal != "*" {
					t.Errorf("statement %v denies kms:Sign to %v except %v", s["Sid"], principal, cond)
				}
			case strings.HasPrefix(a, "kms:Put") && a != "kms:PutKeyPolicy", strings.Contains(a, "*") && stringLike(a, "kms:Sign"):
				t.Errorf("statement %v allows %s", s["Sid"], a)
			case a == "kms:PutKeyPolicy":
				putters++
				if principal != admin {
					t.Errorf("kms:PutKeyPolicy is allowed to %s, want the key administrator", principal)
				}
			}
		}
	}
	if signers != 1 || deniers != 1 || putters != 1 {
		t.Errorf("%d statements allow kms:Sign, %d deny it, %d allow kms:PutKeyPolicy; want one each", signers, deniers, putters)
	}
	if got := granted(env.svc.Template, "TokenFunction"); !got["kms:Sign@key"] {
		t.Error("the token function's role is not allowed kms:Sign on the key")
	}
}
