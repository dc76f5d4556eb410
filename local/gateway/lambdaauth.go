package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/shared/iam/id"
)

// lambdaAuthorizer runs an HTTP API Lambda REQUEST authorizer as API
// Gateway documents it ("Control access to HTTP APIs with AWS Lambda
// authorizers", API Gateway Developer Guide):
//
//   - every identity source must be present and not empty, else 401
//     {"message":"Unauthorized"} without invoking the function;
//   - the function gets the payload-2.0 authorizer event (identitySource,
//     routeKey, rawPath, headers, pathParameters, requestContext, ...);
//   - a simple response's isAuthorized (or, without simple responses, an
//     IAM policy allowing execute-api:Invoke on the route ARN) lets the
//     request through with the response's context in
//     requestContext.authorizer.lambda; anything else is 403
//     {"message":"Forbidden"};
//   - a failed invocation or an unreadable response is 500
//     {"message":"Internal Server Error"};
//   - with a TTL, the result (allow or deny) is cached for that long, keyed
//     by the values of the identity sources alone: a source that varies by
//     route or path ($context.routeKey, $context.path) must be listed for
//     the cache to tell routes or paths apart, as in API Gateway.
//
// Payload 1.0 is not emulated: such a route fails closed with 500.
type lambdaAuthorizer struct {
	cfg    samtemplate.LambdaAuthorizer
	invoke lambda.Handler
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]authResult
}

// maxCachedResults bounds the local result cache.
const maxCachedResults = 10000

type authResult struct {
	allowed bool
	context map[string]any
	until   time.Time
}

// authorize decides ev's request; a non-zero status is the gateway's
// refusal.
func (a *lambdaAuthorizer) authorize(ctx context.Context, r *http.Request, ev *events.APIGatewayV2HTTPRequest) (map[string]any, int) {
	if a.cfg.PayloadVersion != "2.0" || a.invoke == nil {
		return nil, http.StatusInternalServerError
	}
	values := make([]string, 0, len(a.cfg.IdentitySources))
	for _, src := range a.cfg.IdentitySources {
		v := identityValue(src, r, ev)
		if v == "" {
			return nil, http.StatusUnauthorized
		}
		values = append(values, v)
	}
	key := strings.Join(values, "\x00")
	if res, ok := a.cached(key); ok {
		return res.verdict()
	}
	routeArn := "arn:aws:execute-api:us-east-1:" + ev.RequestContext.AccountID + ":" + ev.RequestContext.APIID + "/" +
		ev.RequestContext.Stage + "/" + ev.RequestContext.HTTP.Method + ev.RawPath
	event := events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST", RouteArn: routeArn, IdentitySource: values, RouteKey: ev.RouteKey,
		RawPath: ev.RawPath, RawQueryString: ev.RawQueryString, Cookies: ev.Cookies, Headers: ev.Headers,
		QueryStringParameters: ev.QueryStringParameters, RequestContext: ev.RequestContext, PathParameters: ev.PathParameters,
	}
	payload, err := json.Marshal(event)
	if err != nil {
		return nil, http.StatusInternalServerError
	}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id.New()})
	out, err := a.invoke.Invoke(ctx, payload)
	if err != nil {
		return nil, http.StatusInternalServerError
	}
	res, ok := a.read(out, routeArn)
	if !ok {
		return nil, http.StatusInternalServerError
	}
	if a.cfg.TTLSeconds > 0 {
		res.until = a.now().Add(time.Duration(a.cfg.TTLSeconds) * time.Second)
		a.store(key, res)
	}
	return res.verdict()
}

func (res authResult) verdict() (map[string]any, int) {
	if !res.allowed {
		return nil, http.StatusForbidden
	}
	return res.context, 0
}

// read parses the function's response in the configured format.
func (a *lambdaAuthorizer) read(out []byte, routeArn string) (authResult, bool) {
	if a.cfg.SimpleResponses {
		var simple struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if json.Unmarshal(out, &simple) != nil || simple.IsAuthorized == nil {
			return authResult{}, false
		}
		return authResult{allowed: *simple.IsAuthorized, context: simple.Context}, true
	}
	var policy events.APIGatewayV2CustomAuthorizerIAMPolicyResponse
	if json.Unmarshal(out, &policy) != nil || policy.PrincipalID == "" {
		return authResult{}, false
	}
	allowed := false
	for _, st := range policy.PolicyDocument.Statement {
		covers := slices.ContainsFunc(st.Resource, func(res string) bool { return res == routeArn || res == "*" }) &&
			slices.ContainsFunc(st.Action, func(act string) bool { return act == "execute-api:Invoke" || act == "execute-api:*" })
		switch {
		case covers && st.Effect == "Deny":
			return authResult{allowed: false}, true
		case covers && st.Effect == "Allow":
			allowed = true
		}
	}
	ctx := policy.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	ctx["principalId"] = policy.PrincipalID
	return authResult{allowed: allowed, context: ctx}, true
}

func (a *lambdaAuthorizer) cached(key string) (authResult, bool) {
	if a.cfg.TTLSeconds <= 0 {
		return authResult{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	res, ok := a.cache[key]
	if !ok || !a.now().Before(res.until) {
		return authResult{}, false
	}
	return res, true
}

func (a *lambdaAuthorizer) store(key string, res authResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil || len(a.cache) >= maxCachedResults {
		a.cache = map[string]authResult{}
	}
	a.cache[key] = res
}

// identityValue evaluates one identity source's mapping expression.
func identityValue(src string, r *http.Request, ev *events.APIGatewayV2HTTPRequest) string {
	if name, ok := strings.CutPrefix(src, "$request.header."); ok {
		return strings.Join(r.Header.Values(name), ",")
	}
	if name, ok := strings.CutPrefix(src, "$request.querystring."); ok {
		return strings.Join(r.URL.Query()[name], ",")
	}
	if name, ok := strings.CutPrefix(src, "$context."); ok {
		rc := ev.RequestContext
		return map[string]string{
			"routeKey": rc.RouteKey, "path": rc.HTTP.Path, "httpMethod": rc.HTTP.Method, "stage": rc.Stage,
			"apiId": rc.APIID, "domainName": rc.DomainName, "identity.sourceIp": rc.HTTP.SourceIP,
		}[name]
	}
	// Stage variables: the local stage has none.
	return ""
}
