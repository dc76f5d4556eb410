package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
)

type target struct {
	Name  *string   `json:"name"`
	Tags  *[]string `json:"tags"`
	Count int       `json:"count"`
}

func decode(body, contentType string) error {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	var v target
	return DecodeJSON(httptest.NewRecorder(), r, &v)
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name, body, contentType string
		status                  int
		problemType, field      string
	}{
		{"valid", `{"name":"a","tags":[],"count":2}`, "application/json", 0, "", ""},
		{"json suffix", `{"name":"a"}`, "application/merge-patch+json", 0, "", ""},
		{"no content type", `{"name":"a"}`, "", 0, "", ""},
		{"wrong content type", `{"name":"a"}`, "text/plain", 415, TypeBlank, ""},
		{"empty", ``, "application/json", 400, TypeMalformedJSON, ""},
		{"syntax", `{"name":`, "application/json", 400, TypeMalformedJSON, ""},
		{"bad token", `{"name":x}`, "application/json", 400, TypeMalformedJSON, ""},
		{"array", `[]`, "application/json", 400, TypeMalformedJSON, ""},
		{"trailing", `{} {}`, "application/json", 400, TypeMalformedJSON, ""},
		{"unknown field", `{"nope":1}`, "application/json", 400, TypeValidation, "nope"},
		{"wrong type string", `{"name":1}`, "application/json", 400, TypeValidation, "name"},
		{"wrong type array", `{"tags":"a"}`, "application/json", 400, TypeValidation, "tags"},
		{"wrong type number", `{"count":"1"}`, "application/json", 400, TypeValidation, "count"},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "application/json", 413, TypeLimitExceeded, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decode(c.body, c.contentType)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Status != c.status || e.Type != c.problemType {
				t.Errorf("status %d type %s, want %d %s", e.Status, e.Type, c.status, c.problemType)
			}
			if c.field != "" && len(e.Fields[c.field]) == 0 {
				t.Errorf("fields %v should name %s", e.Fields, c.field)
			}
		})
	}
}

func TestWriteProblem(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		header string
	}{
		{"problem", NotFound("gone"), 404, ""},
		{"dependency down", fault.Unavailable("dynamodb:Query", errors.New("connection refused to 10.0.0.1")), 503, "Retry-After"},
		{"unknown error", errors.New("secret internal detail"), 500, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteProblem(w, httptest.NewRequest(http.MethodGet, "/", nil), c.err)
			if w.Code != c.status || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s", w.Code, w.Header())
			}
			if c.header != "" && w.Header().Get(c.header) == "" {
				t.Errorf("missing %s", c.header)
			}
			body := w.Body.String()
			if strings.Contains(body, "secret internal detail") || strings.Contains(body, "10.0.0.1") {
				t.Errorf("the cause leaked: %s", body)
			}
			var doc map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["status"] != float64(c.status) {
				t.Errorf("body %s", body)
			}
		})
	}
}

func TestWriteOAuthError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteOAuthError(w, httptest.NewRequest(http.MethodPost, "/", nil), fault.Unavailable("kms:Sign", errors.New("throttled")))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"temporarily_unavailable"`) {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	WriteOAuthError(w, httptest.NewRequest(http.MethodPost, "/", nil), InvalidClient(true, "https://id.example.com"))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Basic realm="https://id.example.com"` ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

func TestRouter(t *testing.T) {
	rt := NewRouter()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	rt.Route("/v1/things/{id}", Methods{http.MethodGet: ok, http.MethodDelete: ok})
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/v1/things/1", 204, ""},
		{http.MethodPut, "/v1/things/1", 405, "DELETE, GET"},
		{http.MethodGet, "/v1/things", 404, ""},
		{http.MethodGet, "/v1/things/1/", 404, ""},
		{http.MethodGet, "/v1//things/1", 404, ""},
		{http.MethodGet, "/v1/things/../things/1", 404, ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(c.method, "/", nil)
		r.URL.Path = c.path
		rt.ServeHTTP(w, r)
		if w.Code != c.status || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d %q", c.method, c.path, w.Code, w.Header().Get("Allow"), c.status, c.allow)
		}
		if c.status >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: not a problem document", c.method, c.path)
		}
	}
}
