package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/machine-iam/machine-iam/shared/web/route"
)

// contract holds the service to docs/openapi.yaml: every request and
// response that crosses the gateway is validated against it, and every
// operation it documents must be exercised by the suite.
type contract struct {
	mu        sync.Mutex
	validator validator.Validator
	model     *v3.Document
	paths     route.Table[*v3.PathItem]
	seen      map[string]bool
	problems  []string
}

// apiHeaders are the response headers the document must declare wherever
// the service sends them.
var apiHeaders = []string{"Location", "ETag", "Retry-After", "WWW-Authenticate", "Allow"}

func newContract(root string) (*contract, error) {
	spec, err := os.ReadFile(filepath.Join(root, "docs", "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc, config.WithStrictMode(), config.WithFormatAssertions(), config.WithoutSecurityValidation())
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("docs/openapi.yaml is not a valid OpenAPI document: %v", verrs)
	}
	c := &contract{validator: v, model: &model.Model, seen: map[string]bool{}}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		if err := c.paths.Add(path, item); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// operations lists "METHOD path" for every documented operation.
func (c *contract) operations() []string {
	var out []string
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// wrap validates each exchange through h.
func (c *contract) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		c.check(r, body, rec)
	})
}

func (c *contract) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *contract) check(r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	status := rec.Code
	what := r.Method + " " + r.URL.Path
	if status == http.StatusRequestHeaderFieldsTooLarge {
		return // API Gateway's own answer, before any route
	}
	item, path, _, ok := c.paths.Match(r.URL.Path)
	if !ok {
		// API Gateway's own answers for paths no route declares.
		// Paths no route declares: API Gateway's bare 404 (the root) or the
		// catch-all's 404 problem.
		if status == 404 && (rec.Body.String() == `{"message":"Not Found"}` || rec.Header().Get("Content-Type") == "application/problem+json") {
			return
		}
		c.fail("%s: undocumented route answered %d", what, status)
		return
	}
	op := item.GetOperations().GetOrZero(strings.ToLower(r.Method))
	if op == nil {
		if status != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
			c.fail("%s: undocumented operation answered %d", what, status)
		}
		return
	}
	c.seen[r.Method+" "+path] = true

	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.URL.Scheme, req.URL.Host = "http", r.Host
	resp := rec.Result()
	resp.Request = req
	if ok, errs := c.validator.ValidateHttpResponse(req, resp); !ok {
		c.fail("%s → %d: response does not match the document: %s\n%s", what, status, validationText(errs), rec.Body.String())
	}
	if status < 300 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		if ok, errs := c.validator.ValidateHttpRequest(req); !ok {
			c.fail("%s → %d: a request the document calls invalid succeeded: %s", what, status, validationText(errs))
		}
	}
	declared := op.Responses.Codes.GetOrZero(fmt.Sprint(status))
	for _, h := range apiHeaders {
		if rec.Header().Get(h) == "" {
			continue
		}
		if declared == nil || declared.Headers == nil || declared.Headers.GetOrZero(h) == nil {
			c.fail("%s → %d: header %s is not documented", what, status, h)
		}
	}
}

func validationText(errs any) string {
	return strings.ReplaceAll(fmt.Sprintf("%+v", errs), "\n", " ")
}

// report returns the problems seen and, after a complete run, the
// documented operations no test exercised.
func (c *contract) report(complete bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.problems)
	if complete {
		for _, op := range c.operations() {
			if !c.seen[op] {
				out = append(out, "documented but never exercised: "+op)
			}
		}
	}
	return out
}
