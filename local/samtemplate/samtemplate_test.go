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
			{Method: "ANY", Path: "/v1/clients/{clientId}/revoke-tokens"}, {Method: "ANY", Path: "/v1/clients/{clientId}/unlock"}, {Method: "ANY", Path: "/{proxy+}"}},
		"SecretsFunction": {{Method: "ANY", Path: "/v1/clients/{clientId}/federated-credentials"}, {Method: "ANY", Path: "/v1/clients/{clientId}/federated-credentials/{credentialId}"},
			{Method: "ANY", Path: "/v1/clients/{clientId}/keys"}, {Method: "ANY", Path: "/v1/clients/{clientId}/keys/{keyId}"},
			{Method: "ANY", Path: "/v1/clients/{clientId}/secrets"}, {Method: "ANY", Path: "/v1/clients/{clientId}/secrets/import"}, {Method: "ANY", Path: "/v1/clients/{clientId}/secrets/{secretId}"}},
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
	// A custom domain is the issuer unless IssuerUrl names one.
	tmpl.Overrides = map[string]string{"DomainName": "id.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c"}
	if env, err := tmpl.Environment("TokenFunction"); err != nil || env["ISSUER_URL"] != "https://id.example.com" {
		t.Errorf("with a custom domain: ISSUER_URL = %q, %v", env["ISSUER_URL"], err)
	}
	tmpl.Overrides["IssuerUrl"] = "https://auth.example.com"
	if env, err := tmpl.Environment("TokenFunction"); err != nil || env["ISSUER_URL"] != "https://auth.example.com" {
		t.Errorf("with IssuerUrl: ISSUER_URL = %q, %v", env["ISSUER_URL"], err)
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

func TestLambdaAuthorizer(t *testing.T) {
	tmpl, err := Parse([]byte(`
Parameters:
  Ttl: {Type: Number, Default: 0}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Decide
        Authorizers:
          Decide:
            FunctionArn: !GetAtt AuthFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], Context: [routeKey, path], ReauthorizeEvery: !Ref Ttl}
          Plain:
            FunctionArn: !GetAtt AuthFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: get, Path: /a}}
        B: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /b, Auth: {Authorizer: Plain}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	routes := tmpl.Routes("Fn")
	a, b := routes[0].Lambda, routes[1].Lambda
	if routes[0].JWT != nil || a == nil || a.Function != "AuthFunction" || a.PayloadVersion != "2.0" || !a.SimpleResponses || a.TTLSeconds != 0 ||
		!slices.Equal(a.IdentitySources, []string{"$request.header.Authorization", "$context.routeKey", "$context.path"}) {
		t.Fatalf("Decide: %+v", a)
	}
	// SAM's defaults: the Authorization header, 300 seconds, IAM policies.
	if b == nil || b.SimpleResponses || b.TTLSeconds != 300 || !slices.Equal(b.IdentitySources, []string{"$request.header.Authorization"}) {
		t.Fatalf("Plain: %+v", b)
	}
}
