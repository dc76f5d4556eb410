package authorizer

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestHTTPAPISimpleResponses(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	tok := f.mint(nil)
	event := func(token, orderID string) json.RawMessage {
		ev := events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST", RouteKey: "GET /orders/{orderId}",
			RawPath: "/orders/" + orderID, Headers: map[string]string{"authorization": "Bearer " + token},
			PathParameters: map[string]string{"orderId": orderID}, IdentitySource: []string{"Bearer " + token}}
		b, _ := json.Marshal(ev)
		return b
	}
	out, err := a.Lambda(context.Background(), event(tok, "1"))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.APIGatewayV2CustomAuthorizerSimpleResponse)
	if !resp.IsAuthorized || resp.Context["sub"] != "client-caller" || resp.Context["action"] != "orders.order.read" ||
		resp.Context["resource"] != "/orders/1" || resp.Context["aud"] != testAudience || resp.Context["allowed"] != true {
		t.Fatalf("allowed: %+v", resp)
	}
	for name, ev := range map[string]json.RawMessage{"denied": event(tok, "2"), "bad token": event("x", "1"), "..": event(tok, "..")} {
		out, err := a.Lambda(context.Background(), ev)
		if err != nil || out.(events.APIGatewayV2CustomAuthorizerSimpleResponse).IsAuthorized {
			t.Errorf("%s: %+v %v", name, out, err)
		}
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	if _, err := a.Lambda(context.Background(), event(tok, "3")); err == nil {
		t.Fatal("no error while the service is down")
	}
	if _, err := a.Lambda(context.Background(), json.RawMessage(`{"type":"TOKEN"}`)); err == nil {
		t.Fatal("an unknown event was answered")
	}
}

func TestRESTPolicies(t *testing.T) {
	f := newFakeService(t)
	a, _ := newTestAuthorizer(t, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	tok := f.mint(nil)
	arn := func(id string) string {
		return "arn:aws:execute-api:us-east-1:111122223333:abc123/prod/GET/orders/" + id
	}
	event := func(token, orderID string) json.RawMessage {
		b, _ := json.Marshal(events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: arn(orderID),
			Resource: "/orders/{orderId}", Path: "/orders/" + orderID, HTTPMethod: "GET",
			Headers: map[string]string{"Authorization": "Bearer " + token}, PathParameters: map[string]string{"orderId": orderID}})
		return b
	}
	out, err := a.Lambda(context.Background(), event(tok, "1"))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.APIGatewayCustomAuthorizerResponse)
	st := resp.PolicyDocument.Statement
	if resp.PrincipalID != "client-caller" || len(st) != 1 || st[0].Effect != "Allow" || len(st[0].Resource) != 1 || st[0].Resource[0] != arn("1") ||
		resp.Context["resource"] != "/orders/1" {
		t.Fatalf("allowed: %+v", resp)
	}
	out, err = a.Lambda(context.Background(), event(tok, "2"))
	if resp := out.(events.APIGatewayCustomAuthorizerResponse); err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.Context != nil {
		t.Fatalf("denied: %+v %v", out, err)
	}
	if _, err := a.Lambda(context.Background(), event("", "1")); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("no token: %v", err)
	}
}
