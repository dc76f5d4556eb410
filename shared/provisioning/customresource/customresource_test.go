package customresource

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

func TestParsePropertiesTakesCloudFormationsStrings(t *testing.T) {
	p, err := parseProperties(map[string]any{
		"ServiceToken": "arn:aws:lambda:eu-west-1:1:function:f", "Tenant": "acme", "Name": "job",
		"AccessTokenLifetime": "900", "Scopes": []any{"api"},
		"Policies":   []any{map[string]any{"Action": "owner", "Scope": "/x"}},
		"PublicKeys": []any{map[string]any{"Jwk": `{"kty":"EC","kid":"k1"}`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.AccessTokenLifetime != 900 || p.Policies[0].Action != "owner" || p.PublicKeys[0].Kid() != "k1" || p.Description == "" {
		t.Fatalf("%+v", p)
	}
}

func TestParsePropertiesRefuses(t *testing.T) {
	for want, raw := range map[string]map[string]any{
		"Jwk needs a kid": {"Tenant": "a", "Name": "n", "PublicKeys": []any{map[string]any{"Jwk": map[string]any{"kty": "EC"}}}},
		`unknown field "Extra"`: {"Tenant": "a", "Name": "n", "SecretArn": "arn:x",
			"Policies": []any{map[string]any{"Action": "a", "Scope": "/", "Extra": "1"}}},
		"Description is longer": {"Tenant": "a", "Name": "n", "SecretArn": "arn:x", "Description": strings.Repeat("d", 1001)},
	} {
		if _, err := parseProperties(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", raw, err, want)
		}
	}
}

func TestSameSecretIgnoresTheRandomSuffix(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{arn + "team/my-secret-AbCdEf", arn + "team/my-secret", true},
		{arn + "team/my-secret", arn + "team/my-secret-AbCdEf", true},
		{arn + "team/prov-AbCdEf", arn + "team/prov-AbCdEf", true},
		{arn + "team/prov-AbCdEf", arn + "team/other-AbCdEf", false},
		{arn + "team/prov", arn + "team/prov2", false},
	} {
		if got := sameSecret(c.a, c.b); got != c.same {
			t.Errorf("sameSecret(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestCloudFormationResponseURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws?X-Amz-Signature=x": true,
		"https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x":                 true,
		"https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x":            true,
		"http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x":                            false,
		"https://attacker.example/cloudformation-custom-resource-response-useast1.s3.amazonaws.com":            false,
		"https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.example/x":          false,
		"https://169.254.169.254/latest/meta-data":                                                             false,
	} {
		if got := CloudFormationResponseURL(u); got != want {
			t.Errorf("%s: %v", u, got)
		}
	}
}

func TestForeignResponseURLIsLoggedAsAnErrorWithoutItsQuery(t *testing.T) {
	var logs strings.Builder
	h := &Handler{Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ev := cfn.Event{RequestType: cfn.RequestCreate, StackID: "arn:aws:cloudformation:eu-west-1:1:stack/s/1", LogicalResourceID: "Job",
		ResponseURL: "https://elsewhere.example/bucket?X-Amz-Signature=secret-signature"}
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	if !strings.Contains(got, `"level":"ERROR"`) || !strings.Contains(got, `"responseHost":"elsewhere.example"`) ||
		!strings.Contains(got, `"resource":"Job"`) || strings.Contains(got, "secret-signature") {
		t.Errorf("log = %s", got)
	}
}

func TestParsePropertiesTakesFederatedCredentials(t *testing.T) {
	p, err := parseProperties(map[string]any{
		"Tenant": "acme", "Name": "deployer",
		"FederatedCredentials": []any{
			map[string]any{"Type": "oidc", "Issuer": "https://token.actions.githubusercontent.com", "Subject": "repo:acme/orders:environment:prod",
				"Claims": map[string]any{"repository_owner_id": "42"}, "Jwks": `{"keys":[{"kty":"EC"}]}`},
			map[string]any{"Type": "aws", "Principal": "arn:aws:iam::123456789012:role/orders", "RoleId": "AROAEXAMPLEEXAMPLE01"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := p.FederatedCredentials
	if len(f) != 2 || f[0].Claims["repository_owner_id"] != "42" || string(f[0].JWKS) != `{"keys":[{"kty":"EC"}]}` || f[1].RoleID != "AROAEXAMPLEEXAMPLE01" {
		t.Fatalf("%+v", f)
	}
	if len(p.client().FederatedCredentials) != 2 {
		t.Error("the client declares no federated credentials")
	}
}
