package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/machine-iam/machine-iam/local/samtemplate"
)

// authorizerEnv is the Lambda authorizer's environment as the example's
// template sets it, trusting this stack's default tenant, with a client
// secret in the environment instead of Secrets Manager.
func authorizerEnv(t testing.TB) []string {
	t.Helper()
	tmpl, err := samtemplate.Read(filepath.Join("..", "examples", "protected-api", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Overrides = map[string]string{"IssuerUrl": env.base, "IamBaseUrl": env.base, "AuthorizerClientId": "authz", "AuthorizerSecretArn": ""}
	vars, err := tmpl.Environment("AuthorizerFunction")
	if err != nil {
		t.Fatal(err)
	}
	vars["CLIENT_SECRET"] = "authz-secret"
	vars["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "5"
	vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// authorizerEvent is an HTTP API authorizer event (payload 2.0) for GET
// /orders/{orderId} with the given Authorization header.
func authorizerEvent(authorization, orderID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:111122223333:local/$default/GET/orders/" + orderID,
		"identitySource": []string{authorization}, "routeKey": "GET /orders/{orderId}", "rawPath": "/orders/" + orderID,
		"headers": map[string]string{"authorization": authorization}, "pathParameters": map[string]string{"orderId": orderID},
		"requestContext": map[string]any{"routeKey": "GET /orders/{orderId}", "stage": "$default", "http": map[string]string{"method": "GET", "path": "/orders/" + orderID}},
	})
	return b
}

// TestAuthorizerUnderRuntimeEmulator runs the authorizer's Linux bootstrap
// under the Lambda runtime interface emulator: it starts from the
// template's environment, names its release, and refuses, without a
// network call, a request whose token does not verify or whose path
// parameter could climb.
func TestAuthorizerUnderRuntimeEmulator(t *testing.T) {
	root := repoRoot(t)
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	bins := buildBootstraps(t, root)
	em := startEmulator(t, rie, filepath.Join(filepath.Dir(bins["TokenFunction"]), "authorizer"), authorizerEnv(t))
	defer em.stop()
	for name, ev := range map[string][]byte{
		"no token":      authorizerEvent("", "1"),
		"a forged one":  authorizerEvent("Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA", "1"),
		"a climbing id": authorizerEvent("Bearer "+adminToken(t), ".."),
	} {
		var resp struct {
			IsAuthorized *bool `json:"isAuthorized"`
		}
		if raw := em.invokeRaw(t, ev); json.Unmarshal(raw, &resp) != nil || resp.IsAuthorized == nil || *resp.IsAuthorized {
			t.Errorf("%s: %s", name, raw)
		}
	}
	if !em.logged(`"msg":"starting","version":"` + stampedVersion + `"`) {
		t.Errorf("no start-up line naming release %s:\n%s", stampedVersion, em.logs())
	}
}
