// Package gateway is the local stand-in for API Gateway's HTTP API: it reads
// the routes of each function from template.yaml, turns each matching HTTP
// request into the payload-2.0 event API Gateway would send, hands the
// event's JSON to the function's Lambda handler exactly as the Lambda
// runtime does, and turns the returned JSON back into an HTTP response.
// Requests no route matches get API Gateway's own bare 404.
package gateway

import (
	"encoding/base64"
	"encoding/json"
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

	"github.com/machine-iam/machine-iam/shared/id"
	"github.com/machine-iam/machine-iam/shared/samtemplate"
)

// MaxPayloadBytes is API Gateway's request payload limit.
const MaxPayloadBytes = 10 << 20

// Gateway serves the template's routes.
type Gateway struct {
	mux *http.ServeMux
	// Log, when set, receives one line per request.
	Log *slog.Logger
}

// New routes every HttpApi event of every function in t to the handler of
// that function's logical id in handlers. A function without a handler is
// an error, so the template and the code cannot drift apart silently.
func New(t *samtemplate.Template, handlers map[string]http.Handler) (*Gateway, error) {
	g := &Gateway{mux: http.NewServeMux()}
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeGatewayError(w, http.StatusNotFound, "Not Found")
	})
	for _, fn := range t.Functions() {
		h, ok := handlers[fn]
		if !ok {
			return nil, fmt.Errorf("gateway: template function %s has no handler", fn)
		}
		invoke := lambda.NewHandler(httpadapter.NewV2(h).ProxyWithContext)
		for _, rt := range t.Routes(fn) {
			pattern := strings.ReplaceAll(rt.Path, "+}", "...}")
			if rt.Method != "ANY" {
				pattern = rt.Method + " " + pattern
			}
			g.mux.Handle(pattern, &route{gw: g, function: fn, route: rt, invoke: invoke})
		}
	}
	return g, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

type route struct {
	gw       *Gateway
	function string
	route    samtemplate.Route
	invoke   lambda.Handler
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	event := rt.event(r, body)
	payload, err := json.Marshal(event)
	if err != nil {
		writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: id.New()})
	out, err := rt.invoke.Invoke(ctx, payload)
	status := rt.respond(w, out, err)
	if rt.gw.Log != nil {
		rt.gw.Log.Info("request", "method", r.Method, "path", r.URL.Path, "function", rt.function,
			"status", status, "ms", time.Since(start).Milliseconds(), "requestId", event.RequestContext.RequestID)
	}
}

// event builds the payload-2.0 event as API Gateway documents it: lower-case
// header names, repeated headers and query parameters joined with commas,
// cookies apart, binary bodies in base64.
func (rt *route) event(r *http.Request, body []byte) events.APIGatewayV2HTTPRequest {
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
	var params map[string]string
	for _, seg := range strings.Split(rt.route.Path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := strings.TrimSuffix(strings.Trim(seg, "{}"), "+")
			if params == nil {
				params = map[string]string{}
			}
			params[name] = r.PathValue(name)
		}
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
func (rt *route) respond(w http.ResponseWriter, out []byte, invokeErr error) int {
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

func writeGatewayError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "{\"message\":%q}", message)
}
