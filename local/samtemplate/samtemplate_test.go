package samtemplate

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestProjectTemplate(t *testing.T) {
	tmpl, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.APIFunctions(); !slices.Equal(got, []string{"ClientsFunction", "PoliciesFunction", "SecretsFunction", "TokenFunction"}) {
		t.Fatalf("functions = %v", got)
	}
	want := map[string][]Route{
		"TokenFunction": {
			{Method: "ANY", Path: "/.well-known/jwks.json"}, {Method: "ANY", Path: "/.well-known/openid-configuration"},
			{Method: "ANY", Path: "/connect/introspect"}, {Method: "ANY", Path: "/connect/revocation"}, {Method: "ANY", Path: "/connect/token"},
			{Method: "ANY", Path: "/{tenant}/.well-known/openid-configuration"}, {Method: "ANY", Path: "/{tenant}/connect/introspect"},
			{Method: "ANY", Path: "/{tenant}/connect/revocation"}, {Method: "ANY", Path: "/{tenant}/connect/token"},
		},
		"ClientsFunction": {{Method: "ANY", Path: "/v1/clients"}, {Method: "ANY", Path: "/v1/clients/{clientId}"},
			{Method: "ANY", Path: "/v1/clients/{clientId}/revoke-tokens"}, {Method: "ANY", Path: "/{proxy+}"}},
		"SecretsFunction": {{Method: "ANY", Path: "/v1/clients/{clientId}/keys"}, {Method: "ANY", Path: "/v1/clients/{clientId}/keys/{keyId}"},
			{Method: "ANY", Path: "/v1/clients/{clientId}/secrets"}, {Method: "ANY", Path: "/v1/clients/{clientId}/secrets/{secretId}"}},
		"PoliciesFunction": {
			{Method: "ANY", Path: "/v1/actions"}, {Method: "ANY", Path: "/v1/apis"}, {Method: "ANY", Path: "/v1/apis/{apiId}"},
			{Method: "ANY", Path: "/v1/decisions"}, {Method: "ANY", Path: "/v1/permissions/check"}, {Method: "ANY", Path: "/v1/policies"},
			{Method: "ANY", Path: "/v1/subjects/clients"}, {Method: "ANY", Path: "/v1/subjects/groups"}, {Method: "ANY", Path: "/v1/subjects/groups/{groupId}"},
			{Method: "ANY", Path: "/v1/subjects/groups/{groupId}/members"}, {Method: "ANY", Path: "/v1/subjects/{subjectId}/memberships"},
			{Method: "ANY", Path: "/v1/subjects/{subjectId}/permissions"},
		},
	}
	for fn, routes := range want {
		if got := tmpl.Routes(fn); !slices.Equal(got, routes) {
			t.Errorf("%s routes = %v, want %v", fn, got, routes)
		}
	}
	env, err := tmpl.Environment("TokenFunction")
	if err != nil {
		t.Fatal(err)
	}
	if env["TABLE_NAME"] != "machine-iam-iam" || env["SIGNING_KEY_ID"] != "alias/machine-iam-signing" ||
		env["TOKEN_LIFETIME_SECONDS"] != "3600" || env["ISSUER_URL"] != "" {
		t.Errorf("environment = %v", env)
	}
}

func TestIntrinsics(t *testing.T) {
	tmpl, err := Parse([]byte(`
Parameters:
  Name: {Type: String, Default: svc}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          A: !Ref Name
          B: !Sub "${AWS::StackName}-${Name}"
          C: plain
          D: !Ref Table
      Events:
        E: {Type: HttpApi, Properties: {Method: get, Path: "/x/{proxy+}"}}
        S: {Type: SQS, Properties: {}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${Name}-table"
  Arn:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {X: !GetAtt Table.Arn}}
`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := tmpl.Environment("Fn")
	if err != nil {
		t.Fatal(err)
	}
	if env["A"] != "svc" || env["B"] != "machine-iam-svc" || env["C"] != "plain" || env["D"] != "svc-table" {
		t.Errorf("env = %v", env)
	}
	if r := tmpl.Routes("Fn"); len(r) != 1 || r[0] != (Route{Method: "GET", Path: "/x/{proxy+}"}) {
		t.Errorf("routes = %v", r)
	}
	if _, err := tmpl.Environment("Arn"); err == nil {
		t.Error("!GetAtt has no local value and must be reported")
	}
}
