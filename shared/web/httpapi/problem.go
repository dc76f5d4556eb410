package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// Problem types. Each is documented in docs/errors.md; clients may switch on
// them. Statuses without a more specific meaning use "about:blank" as RFC 9457
// §4.2.1 recommends.
const (
	TypeBlank              = "about:blank"
	TypeValidation         = "urn:machine-iam:problem:validation"
	TypeMalformedJSON      = "urn:machine-iam:problem:malformed-json"
	TypeLimitExceeded      = "urn:machine-iam:problem:limit-exceeded"
	TypeLastOwner          = "urn:machine-iam:problem:last-owner"
	TypePreconditionFailed = "urn:machine-iam:problem:precondition-failed"
	TypeInvalidToken       = "urn:machine-iam:problem:invalid-token"
	TypeUnavailable        = "urn:machine-iam:problem:unavailable"
	TypeNameTaken          = "urn:machine-iam:problem:name-taken"
)

// RetryAfterSeconds is what a 503 asks callers to wait before trying again.
const RetryAfterSeconds = 1

// Error is the one error value of the management API. It carries what the
// writer needs (status, problem type, safe detail, field errors, extra
// headers) and, separately, the cause, which goes to the log and never to
// the caller.
type Error struct {
	Status int
	Type   string
	Detail string
	// Fields maps a JSON field name (or query parameter) to what is wrong
	// with it; it is written as the problem's "errors" member.
	Fields map[string][]string
	Header http.Header
	cause  error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return http.StatusText(e.Status) + ": " + e.Detail + ": " + e.cause.Error()
	}
	return http.StatusText(e.Status) + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.cause }

// BadRequest is a 400 whose detail says what was wrong with the request.
func BadRequest(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeValidation, Detail: detail}
}

// Invalid is a 400 validation problem listing what is wrong with each field.
func Invalid(fields map[string][]string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeValidation,
		Detail: "One or more fields are invalid.", Fields: fields}
}

// NotFound is a 404 problem.
func NotFound(detail string) *Error {
	return &Error{Status: http.StatusNotFound, Type: TypeBlank, Detail: detail}
}

// Conflict is a 409 problem: the request is valid but clashes with the
// current state, for example a limit that is already reached.
func Conflict(detail string) *Error {
	return &Error{Status: http.StatusConflict, Type: TypeLimitExceeded, Detail: detail}
}

// NameTaken is a 409 problem: an API's identifier, scope or action name is
// held (or was once held) by another API.
func NameTaken(detail string) *Error {
	return &Error{Status: http.StatusConflict, Type: TypeNameTaken, Detail: detail}
}

// LastOwner is a 409 problem: the change would leave the tenant with no
// client holding owner on /.
func LastOwner(detail string) *Error {
	return &Error{Status: http.StatusConflict, Type: TypeLastOwner, Detail: detail}
}

// PreconditionFailed is a 412 problem for an If-Match that no longer holds.
func PreconditionFailed(detail string) *Error {
	return &Error{Status: http.StatusPreconditionFailed, Type: TypePreconditionFailed, Detail: detail}
}

// Unauthorized is a 401 problem with the RFC 6750 challenge that tells a
// client its bearer token was missing or not acceptable.
func Unauthorized(detail string) *Error {
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+detail+`"`)
	return &Error{Status: http.StatusUnauthorized, Type: TypeInvalidToken, Detail: detail, Header: h}
}

// Forbidden is a 403 problem: the caller is known but not allowed.
func Forbidden(detail string) *Error {
	return &Error{Status: http.StatusForbidden, Type: TypeBlank, Detail: detail}
}

// Unavailable is a 503 problem asking the caller to retry shortly. cause is
// logged only.
func Unavailable(cause error) *Error {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeUnavailable,
		Detail: "A service this request depends on is unavailable; retry shortly.", Header: h, cause: cause}
}

// problemDocument is the RFC 9457 wire form.
type problemDocument struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Errors    map[string][]string `json:"errors,omitempty"`
	RequestID string              `json:"requestId,omitempty"`
}

// WriteProblem writes err as application/problem+json, as Problem maps it.
// The text of a 5xx's cause is logged, never written.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	e := Problem(err)
	if errors.Is(err, store.ErrLastOwner) {
		metric.Refused(metric.RuleLastOwner)
	}
	if e.Status >= 500 && Abandoned(r) {
		logAbandoned(r, e)
		e = abandonedError(e)
	}
	if e.Status >= 500 {
		slog.ErrorContext(r.Context(), "request failed", "status", e.Status,
			"requestId", RequestID(r.Context()), "error", e.Error())
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(problemDocument{
		Type: e.Type, Title: http.StatusText(e.Status), Status: e.Status,
		Detail: e.Detail, Errors: e.Fields, RequestID: RequestID(r.Context()),
	})
}

// WriteJSON writes v as application/json with the given status. Unless the
// handler set its own Cache-Control, the response is marked no-store:
// management responses describe credentials and permissions.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Links and URIs are data, not HTML: keep '&' readable.
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	body := buf.Bytes()
	if err != nil {
		// Only our own response types reach here; failing to encode one is a
		// programming error, reported without leaking the value.
		http.Error(w, `{"title":"Internal Server Error","status":500}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the gateway's request id, which problem
// documents and log lines repeat so an operator can find the request.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id set by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
