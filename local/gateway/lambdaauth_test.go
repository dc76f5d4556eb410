package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/machine-iam/machine-iam/local/samtemplate"
)

const authorizerTemplate = `
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: ByRoute
        Authorizers:
          ByRoute:
            FunctionArn: !GetAtt DeciderFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              Context: [routeKey, path]
              ReauthorizeEvery: 300
          ByTokenOnly:
            FunctionArn: !GetAtt DeciderFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
          Uncached:
            FunctionArn: !GetAtt DeciderFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              QueryStrings: [tenant]
              ReauthorizeEvery: 0
  DeciderFunction:
    Type: AWS::Serverless::Function
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Orders: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/orders/{orderId}"}}
        Loose: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/loose/{id}", Auth: {Authorizer: ByTokenOnly}}}
        Fresh: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/fresh/{id}", Auth: {Authorizer: Uncached}}}
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/open", Auth: {Authorizer: NONE}}}
`

// decider allows "Bearer good" on paths ending in /1, fails on "Bearer
// boom", and counts its invocations.
type decider struct {
	mu     sync.Mutex
	calls  int
	events []events.APIGatewayV2CustomAuthorizerV2Request
}

func (d *decider) handle(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	d.events = append(d.events, ev)
	if ev.Headers["authorization"] == "Bearer boom" {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, errors.New("cannot decide")
	}
	ok := ev.Headers["authorization"] == "Bearer good" && strings.HasSuffix(ev.RawPath, "/1")
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: ok, Context: map[string]any{"sub": "client-1", "n": 7}}, nil
}

func (d *decider) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func TestLambdaAuthorizers(t *testing.T) {
	tmpl, err := samtemplate.Parse([]byte(authorizerTemplate))
	if err != nil {
		t.Fatal(err)
	}
	d := &decider{}
	seen := func(w http.ResponseWriter, r *http.Request) {
		gw, _ := core.GetAPIGatewayV2ContextFromContext(r.Context())
		var lam map[string]any
		if gw.Authorizer != nil {
			lam = gw.Authorizer.Lambda
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"lambda": lam})
	}
	if _, err := New(tmpl, map[string]http.Handler{"EchoFunction": http.HandlerFunc(seen)}); err == nil {
		t.Fatal("a Lambda authorizer without a handler was accepted")
	}
	gw, err := NewWithAuthorizers(tmpl, map[string]http.Handler{"EchoFunction": http.HandlerFunc(seen)},
		map[string]lambda.Handler{"DeciderFunction": lambda.NewHandler(d.handle)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	call := func(path, auth string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	expect := func(name, path, auth string, status, calls int) map[string]any {
		t.Helper()
		got, body := call(path, auth)
		if got != status || d.count() != calls {
			t.Fatalf("%s: %d %v after %d invocations, want %d after %d", name, got, body, d.count(), status, calls)
		}
		return body
	}

	expect("no identity source", "/orders/1", "", 401, 0)
	body := expect("allowed", "/orders/1", "Bearer good", 200, 1)
	if lam, _ := body["lambda"].(map[string]any); lam["sub"] != "client-1" || lam["n"] != float64(7) {
		t.Fatalf("the integration's authorizer context: %v", body)
	}
	ev := d.events[0]
	if ev.Version != "2.0" || ev.Type != "REQUEST" || ev.RouteKey != "GET /orders/{orderId}" || ev.PathParameters["orderId"] != "1" ||
		len(ev.IdentitySource) != 3 || ev.IdentitySource[0] != "Bearer good" || ev.IdentitySource[1] != "GET /orders/{orderId}" ||
		ev.IdentitySource[2] != "/orders/1" || !strings.HasSuffix(ev.RouteArn, "/$default/GET/orders/1") {
		t.Fatalf("authorizer event: %+v", ev)
	}
	expect("cached by token, route and path", "/orders/1", "Bearer good", 200, 1)
	// Another path is another cache key: the allow does not carry over.
	expect("another path", "/orders/2", "Bearer good", 403, 2)
	expect("a denial is cached too", "/orders/2", "Bearer good", 403, 2)
	expect("another token", "/orders/1", "Bearer other", 403, 3)
	expect("an authorizer error", "/orders/1", "Bearer boom", 500, 4)
	expect("no authorizer", "/open", "", 200, 4)

	// Keyed by the token alone, a cached allow reaches every path: why
	// the route and the path belong in the identity sources.
	expect("token-only key", "/loose/1", "Bearer good", 200, 5)
	expect("token-only key, another path", "/loose/2", "Bearer good", 200, 5)

	// ReauthorizeEvery 0: every request is decided; a missing query
	// string source is 401.
	expect("missing query source", "/fresh/1", "Bearer good", 401, 5)
	expect("uncached", "/fresh/1?tenant=a", "Bearer good", 200, 6)
	expect("uncached again", "/fresh/1?tenant=a", "Bearer good", 200, 7)
}
