// Package gateway is the local stand-in for API Gateway's HTTP API: it reads
// the routes of each function from template.yaml, turns each matching HTTP
// request into the payload-2.0 event API Gateway would send, hands the
// event's JSON to the function's Lambda handler exactly as the Lambda
// runtime does, and turns the returned JSON back into an HTTP response.
// Requests no route matches get API Gateway's own bare 404. Routes with a
// JWT authorizer are authorized as API Gateway does (jwt.go).
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/web/route"
)

// MaxPayloadBytes is API Gateway's request payload limit.
const MaxPayloadBytes = 10 << 20

// MaxHeaderBytes is API Gateway's limit on the request's headers (names and
// values); the gateway answers 431 past it. Servers of the gateway also set
// it as http.Server.MaxHeaderBytes, so Go stops reading far larger ones.
const MaxHeaderBytes = 10 << 10

// Gateway serves the template's routes.
type Gateway struct {
	// routes maps a route path to its routes by method (ANY included).
	routes route.Table[map[string]*lambdaRoute]
	// Log, when set, receives one line per request.
	Log *slog.Logger
}

// New routes every HttpApi event of every function in t to the handler of
// that function's logical id in handlers. A function without a handler is
// an error, so the template and the code cannot drift apart silently.
func New(t *samtemplate.Template, handlers map[string]http.Handler) (*Gateway, error) {
	return NewWithAuthorizers(t, handlers, nil)
}

// NewWithAuthorizers is New for a template whose routes have Lambda
// authorizers: authorizers holds each authorizer function's Lambda handler
// by logical id (lambda.NewHandler of its handler function).
func NewWithAuthorizers(t *samtemplate.Template, handlers map[string]http.Handler, authorizers map[string]lambda.Handler) (*Gateway, error) {
	g := &Gateway{}
	lambdaAuthz := map[string]*lambdaAuthorizer{}
	byPath := map[string]map[string]*lambdaRoute{}
	keys := map[string]*issuerKeys{}
	for _, fn := range t.APIFunctions() {
		h, ok := handlers[fn]
		if !ok {
			return nil, fmt.Errorf("gateway: template function %s has no handler", fn)
		}
		invoke := lambda.NewHandler(httpadapter.NewV2(h).ProxyWithContext)
		for _, rt := range t.Routes(fn) {
			var authz *jwtAuthorizer
			if rt.JWT != nil {
				if keys[rt.JWT.Issuer] == nil {
					keys[rt.JWT.Issuer] = &issuerKeys{issuer: rt.JWT.Issuer, client: &http.Client{Timeout: 5 * time.Second}}
				}
				authz = &jwtAuthorizer{cfg: *rt.JWT, keys: keys[rt.JWT.Issuer], now: time.Now}
			}
			var la *lambdaAuthorizer
			if rt.Lambda != nil {
				// One result cache per authorizer, shared by its routes, as
				// API Gateway keeps it.
				if la = lambdaAuthz[rt.Lambda.Name]; la == nil {
					h, ok := authorizers[rt.Lambda.Function]
					if !ok {
						return nil, fmt.Errorf("gateway: authorizer %s: function %q has no handler", rt.Lambda.Name, rt.Lambda.Function)
					}
					la = &lambdaAuthorizer{cfg: *rt.Lambda, invoke: h, now: time.Now}
					lambdaAuthz[rt.Lambda.Name] = la
				}
			}
			if byPath[rt.Path] == nil {
				byPath[rt.Path] = map[string]*lambdaRoute{}
				if err := g.routes.Add(rt.Path, byPath[rt.Path]); err != nil {
					return nil, fmt.Errorf("gateway: %w", err)
				}
			}
			if _, dup := byPath[rt.Path][rt.Method]; dup {
				return nil, fmt.Errorf("gateway: route %s %s is declared twice", rt.Method, rt.Path)
			}
			byPath[rt.Path][rt.Method] = &lambdaRoute{gw: g, function: fn, route: rt, invoke: invoke, jwt: authz, lambdaAuthz: la}
		}
	}
	return g, nil
}

// ServeHTTP picks the most specific route path, then the route for the
// method or ANY; anything else is API Gateway's bare 404.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	size := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	if size > MaxHeaderBytes {
		writeGatewayError(w, http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large")
		return
	}
	byMethod, _, params, ok := g.routes.Match(r.URL.Path)
	if !ok {
		writeGatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	rt := byMethod[r.Method]
	if rt == nil {
		rt = byMethod["ANY"]
	}
	if rt == nil {
		writeGatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	rt.serve(w, r, params)
}

type lambdaRoute struct {
	gw       *Gateway
	function string
	route    samtemplate.Route
	invoke   lambda.Handler
	jwt      *jwtAuthorizer // nil: no authorizer
	// lambdaAuthz is the route's Lambda authorizer, nil for none.
	lambdaAuthz *lambdaAuthorizer
}

func (rt *lambdaRoute) serve(w http.ResponseWriter, r *http.Request, params map[string]string) {
	start := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		writeGatewayError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxPayloadBytes {
		writeGatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	event := rt.event(r, body, params)
	if rt.jwt != nil {
		claims, err := rt.jwt.authorize(r)
		var refused *authError
		if errors.As(err, &refused) {
			w.Header().Set("WWW-Authenticate", refused.challenge)
			writeGatewayError(w, refused.status, http.StatusText(refused.status))
			return
		}
		event.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}
	}
	if rt.lambdaAuthz != nil {
		authCtx, refused := rt.lambdaAuthz.authorize(r.Context(), r, &event)
		if refused != 0 {
			writeGatewayError(w, refused, http.StatusText(refused))
			rt.logRequest(r, start, refused, event.RequestContext.RequestID)
			return
		}
		event.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: authCtx}
	}
	payload, err := json.Marshal(event)
	if err != nil {
		writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	ctx := WithFunction(r.Context(), rt.function)
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id.New()})
	out, err := rt.invoke.Invoke(ctx, payload)
	status := rt.respond(w, out, err)
	rt.logRequest(r, start, status, event.RequestContext.RequestID)
}

func (rt *lambdaRoute) logRequest(r *http.Request, start time.Time, status int, requestID string) {
	if rt.gw.Log != nil {
		rt.gw.Log.Info("request", "method", r.Method, "path", r.URL.Path, "function", rt.function,
			"status", status, "ms", time.Since(start).Milliseconds(), "requestId", requestID)
	}
}

// event builds the payload-2.0 event as API Gateway documents it: lower-case
// header names, repeated headers and query parameters joined with commas,
// cookies apart, binary bodies in base64.
func (rt *lambdaRoute) event(r *http.Request, body []byte, params map[string]string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			for _, v := range vs {
				cookies = append(cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now()
	routeKey := rt.route.Method + " " + rt.route.Path
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, AccountID: "111122223333", Stage: "$default", RequestID: id.New(),
			APIID: "local", DomainName: r.Host, DomainPrefix: strings.Split(r.Host, ".")[0],
			Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: sourceIP, UserAgent: r.UserAgent(),
			},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

// respond writes the function's result; a failed invocation is API
// Gateway's bare 500.
func (rt *lambdaRoute) respond(w http.ResponseWriter, out []byte, invokeErr error) int {
	var resp events.APIGatewayV2HTTPResponse
	if invokeErr != nil || json.Unmarshal(out, &resp) != nil || resp.StatusCode == 0 {
		writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return http.StatusInternalServerError
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
			return http.StatusInternalServerError
		}
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode
}

type functionKey struct{}

// WithFunction returns ctx naming the function that runs in it.
func WithFunction(ctx context.Context, function string) context.Context {
	return context.WithValue(ctx, functionKey{}, function)
}

// FunctionFrom returns the logical id of the function a request was routed
// to, from any context derived from the invocation's (SDK calls included);
// tests use it to attribute AWS calls to functions.
func FunctionFrom(ctx context.Context) string {
	fn, _ := ctx.Value(functionKey{}).(string)
	return fn
}

func writeGatewayError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "{\"message\":%q}", message)
}
