package httpapi

import (
	"errors"
	"net/http"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// HandlerFunc is a management API handler: it writes its success response,
// or returns the error that Handle writes as a problem document.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to http.Handler, writing h's error, if any, as a problem.
func Handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteProblem(w, r, err)
		}
	})
}

// Fields collects what is wrong with a request's fields (JSON members or
// query parameters) for a 400 problem: every handler validates into one.
type Fields map[string][]string

// Add records problem with field name.
func (f Fields) Add(name, problem string) { f[name] = append(f[name], problem) }

// Required records "is required" for name unless present, and reports
// present.
func (f Fields) Required(name string, present bool) bool {
	if !present {
		f.Add(name, "is required")
	}
	return present
}

// Merge records what a domain validation found (nil for nothing).
func (f Fields) Merge(found map[string][]string) {
	for name, problems := range found {
		f[name] = append(f[name], problems...)
	}
}

// Err is nil when nothing was recorded, else the 400 problem listing it.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f)
}

// about says what a store error is about, for the caller's detail.
type about struct {
	err    error
	noun   string
	detail string
	only   error // the sentinel detail is for
}

func (a *about) Error() string { return a.err.Error() }
func (a *about) Unwrap() error { return a.err }

// About returns err (nil stays nil) marked as being about a noun ("client",
// "group", ...), which Problem names in the detail of a store error.
func About(err error, noun string) error {
	if err == nil {
		return nil
	}
	return &about{err: err, noun: noun}
}

// Detailed returns err with the detail the caller should read should it be
// the store's sentinel: Problem still decides the status.
func Detailed(err, sentinel error, detail string) error {
	if err == nil {
		return nil
	}
	return &about{err: err, detail: detail, only: sentinel}
}

// Problem is the one mapping from what handlers return to the problem the
// caller reads: an *Error as it is; each store error by its meaning (not
// found 404, If-Match mismatch 412, limit or existing item or last owner
// 409, missing subject 400), worded for what it is about; a failed
// dependency 503; anything else a 500, whose cause is only logged.
func Problem(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	noun, detail := "resource", ""
	var a *about
	if errors.As(err, &a) {
		if a.noun != "" {
			noun = a.noun
		}
		if errors.Is(err, a.only) {
			detail = a.detail
		}
	}
	pick := func(fallback string) string {
		if detail != "" {
			return detail
		}
		return fallback
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return NotFound(pick("No " + noun + " with that id exists."))
	case errors.Is(err, store.ErrVersionMismatch):
		return PreconditionFailed(pick("The " + noun + " has changed since the version named in If-Match."))
	case errors.Is(err, store.ErrLastOwner):
		return LastOwner(pick("The change would leave the tenant without a client holding owner on / by a policy of its own; give another client owner on / first."))
	case errors.Is(err, store.ErrLimitExceeded):
		return Conflict(pick("The " + noun + " has reached a limit."))
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Type: TypeBlank, Detail: pick("The " + noun + " exists already.")}
	case errors.Is(err, store.ErrSubjectNotFound):
		return BadRequest(pick("A subject the request names does not exist in this tenant."))
	case errors.Is(err, fault.ErrUnavailable):
		return Unavailable(err)
	}
	return &Error{Status: http.StatusInternalServerError, Type: TypeBlank,
		Detail: "The server could not complete the request.", cause: err}
}
