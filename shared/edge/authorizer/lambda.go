package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Lambda is the handler of an API Gateway Lambda REQUEST authorizer. It
// answers either kind of API, told apart by the event: an HTTP API's
// payload 2.0 (HTTPAPI) or a REST API's request event (REST).
func (a *Authorizer) Lambda(ctx context.Context, event json.RawMessage) (any, error) {
	var probe struct {
		Version   string `json:"version"`
		MethodArn string `json:"methodArn"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return nil, err
	}
	if probe.Version == "2.0" {
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, err
		}
		return a.HTTPAPI(ctx, ev)
	}
	if probe.MethodArn != "" {
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, err
		}
		return a.REST(ctx, ev)
	}
	return nil, errors.New("authorizer: the event is neither an HTTP API authorizer event (payload 2.0) nor a REST API REQUEST authorizer event")
}

// HTTPAPI answers an HTTP API's Lambda authorizer with payload format 2.0
// and simple responses. Allowed: isAuthorized true, and the claims and the
// decision in the context, which the integration reads at
// requestContext.authorizer.lambda. Refused: isAuthorized false, which the
// HTTP API turns into 403 (an HTTP API authorizer cannot choose 401: API
// Gateway answers 401 only when an identity source is missing). No
// decision: an error, which the HTTP API turns into a fixed 500.
func (a *Authorizer) HTTPAPI(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	d, err := a.Authorize(ctx, Request{RouteKey: ev.RouteKey, Params: ev.PathParameters, Authorization: header(ev.Headers, "Authorization")})
	a.log(ctx, ev.RouteKey, d, err)
	if err != nil {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
	}
	if d.Outcome != Allowed {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: d.Context()}, nil
}

// REST answers a REST API's Lambda REQUEST authorizer with an IAM policy
// on exactly the method ARN of the request (the path's values in it), so a
// policy the gateway caches can never allow another path or method.
// Unauthenticated: the error "Unauthorized", which a REST API turns into
// 401. Refused: a Deny policy (403). No decision: an error, which a REST
// API answers with its AUTHORIZER_FAILURE gateway response (500, or 503
// where the API maps it so).
func (a *Authorizer) REST(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	key := ev.HTTPMethod + " " + ev.Resource
	d, err := a.Authorize(ctx, Request{RouteKey: key, Params: ev.PathParameters, Authorization: header(ev.Headers, "Authorization")})
	a.log(ctx, key, d, err)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	if d.Outcome == Unauthenticated {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	effect, principal := "Deny", "anonymous"
	if d.Claims.Subject != "" {
		principal = d.Claims.Subject
	}
	resp := events.APIGatewayCustomAuthorizerResponse{PrincipalID: principal}
	if d.Outcome == Allowed {
		effect, resp.Context = "Allow", d.Context()
	}
	resp.PolicyDocument = events.APIGatewayCustomAuthorizerPolicy{
		Version:   "2012-10-17",
		Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{ev.MethodArn}}},
	}
	return resp, nil
}

// Context is what an allowed request's integration learns: the token's
// claims and the decision, as strings and numbers (all a REST API's
// context may hold).
func (d Decision) Context() map[string]any {
	c := d.Claims
	return map[string]any{
		"sub": c.Subject, "client_id": c.ClientID, "scope": c.Scope, "aud": strings.Join(c.Audience, " "),
		"tid": c.Tenant, "iss": c.Issuer, "exp": c.Expiry, "jti": c.ID,
		"route": d.Target.Key, "action": d.Target.Action, "resource": d.Target.Resource, "allowed": d.Outcome == Allowed,
	}
}

// header finds a header by name in any case, as payload 2.0 lower-cases
// names and a REST API keeps the client's.
func header(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
