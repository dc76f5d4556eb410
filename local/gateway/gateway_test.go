package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/machine-iam/machine-iam/local/samtemplate"
)

const template = `
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Item: {Type: HttpApi, Properties: {Method: ANY, Path: "/things/{id}"}}
        Greedy: {Type: HttpApi, Properties: {Method: GET, Path: "/files/{path+}"}}
`

// echo reports what the function saw, as the Lambda adapter built it.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	gw, _ := core.GetAPIGatewayV2ContextFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("Set-Cookie", "a=1")
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host,
		"auth": r.Header.Get("Authorization"), "multi": r.Header.Values("X-Multi"), "body": string(body),
		"routeKey": gw.RouteKey, "stage": gw.Stage, "requestId": gw.RequestID,
	})
}

func TestGatewayPayloadV2(t *testing.T) {
	tmpl, err := samtemplate.Parse([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(tmpl, map[string]http.Handler{"EchoFunction": http.HandlerFunc(echo)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/things/42?a=1&a=2", strings.NewReader(`{"x":1}`))
	req.Header.Set("Authorization", "Bearer a,b")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != 201 || resp.Header.Get("Set-Cookie") != "a=1" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	want := map[string]any{
		"method": "PUT", "path": "/things/42", "query": "a=1&a=2", "host": strings.TrimPrefix(srv.URL, "http://"),
		"auth": "Bearer a,b", "body": `{"x":1}`, "routeKey": "ANY /things/{id}", "stage": "$default",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if m, _ := got["multi"].([]any); len(m) != 2 {
		t.Errorf("repeated headers arrive comma-joined and split again: %v", got["multi"])
	}
	if got["requestId"] == "" {
		t.Error("no request id")
	}

	for _, c := range []struct{ method, path string }{{http.MethodGet, "/nothing"}, {http.MethodPost, "/files/a/b"}} {
		r, err := http.DefaultClient.Do(mustRequest(c.method, srv.URL+c.path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 404 || string(b) != `{"message":"Not Found"}` {
			t.Errorf("%s %s: %d %s, want API Gateway's bare 404", c.method, c.path, r.StatusCode, b)
		}
	}
	r, _ := http.DefaultClient.Do(mustRequest(http.MethodGet, srv.URL+"/files/a/b"))
	r.Body.Close()
	if r.StatusCode != 201 {
		t.Errorf("greedy path: %d", r.StatusCode)
	}
}

func TestGatewayRefusesUnknownFunction(t *testing.T) {
	tmpl, _ := samtemplate.Parse([]byte(template))
	if _, err := New(tmpl, map[string]http.Handler{}); err == nil {
		t.Fatal("a template function without a handler must be an error")
	}
}

func TestGatewayFailedInvocationIsBare500(t *testing.T) {
	tmpl, _ := samtemplate.Parse([]byte(template))
	gw, _ := New(tmpl, map[string]http.Handler{"EchoFunction": http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		// Writing nothing leaves no status: the adapter reports an error.
	})})
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/things/1", nil))
	if w.Code != 500 || w.Body.String() != `{"message":"Internal Server Error"}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func mustRequest(method, url string) *http.Request {
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return r
}
