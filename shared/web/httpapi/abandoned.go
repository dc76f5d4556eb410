package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// StatusAbandoned is the status recorded for a request whose caller went
// away before it was answered (nginx's 499): nobody receives it, and the
// audit line says "abandoned" instead of a server error. Whatever the
// request wrote may have committed; its caller learns so by reading.
const StatusAbandoned = 499

// Abandoned reports whether r's caller went away: its context was
// canceled, not timed out by the request's own budget (which is a
// dependency failure).
func Abandoned(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

// logAbandoned notes an abandoned request at INFO: it is no failure of
// the service, and must trip no 5xx alarm.
func logAbandoned(r *http.Request, cause error) {
	slog.InfoContext(r.Context(), "request abandoned by its caller", "requestId", RequestID(r.Context()), "error", cause.Error())
}

// abandonedError is the error written for an abandoned request in place
// of e, a 5xx that the cancellation caused.
func abandonedError(e *Error) *Error {
	return &Error{Status: StatusAbandoned, Type: TypeBlank, Detail: "The caller went away before the answer.", cause: e}
}
