// Package audit writes one structured log line for every request that is
// not a GET (every management change, whatever its outcome) and every token
// issuance or refusal: request id, tenant, caller subject,
// action, target and outcome. Handlers note what they know as the request
// goes; the function's outer middleware writes the line when it ends. No
// value of a secret or hash is ever given to it.
package audit

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// Record is what one request did.
type Record struct {
	Tenant string
	Caller string
	Action string
	Target string
	// Reason is why a request was refused, for the operator alone (a
	// failed client authentication: unknown client, wrong secret, ...);
	// the response never says it.
	Reason string
	// External is the outside identity a federated client authenticated
	// with ("<issuer> <subject>"), when it did.
	External string
}

type recordKey struct{}

// Start returns ctx carrying an empty Record the handlers fill in.
func Start(ctx context.Context) (context.Context, *Record) {
	r := &Record{}
	return context.WithValue(ctx, recordKey{}, r), r
}

// Note sets the action and target of the request in ctx.
func Note(ctx context.Context, action, target string) {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.Action, r.Target = action, target
	}
}

// NoteTarget sets the target of the request in ctx, once a handler knows
// it is safe to log.
func NoteTarget(ctx context.Context, target string) {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.Target = target
	}
}

// NoteReason sets why the request in ctx was refused.
func NoteReason(ctx context.Context, reason string) {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.Reason = reason
	}
}

// Noted wraps next so the request's action and target are noted before it
// runs.
func Noted(action, target string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Note(r.Context(), action, target)
		next.ServeHTTP(w, r)
	})
}

// NoteCaller sets the tenant and the caller's subject.
func NoteCaller(ctx context.Context, tenant, subject string) {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.Tenant, r.Caller = tenant, subject
	}
}

// NoteExternal sets the outside identity the caller authenticated with.
func NoteExternal(ctx context.Context, issuer, subject string) {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.External = strings.ToValidUTF8(issuer+" "+subject, "?")
	}
}

// RequestTarget describes a request that no route named: its method and
// path, cut to a length a log line can carry and to valid UTF-8.
func RequestTarget(r *http.Request) string {
	const max = 256
	t := r.Method + " " + r.URL.EscapedPath()
	if len(t) > max {
		t = t[:max]
	}
	return strings.ToValidUTF8(t, "?")
}

// Outcome names what a response status means.
func Outcome(status int) string {
	switch {
	case status < 300:
		return "success"
	case status == http.StatusUnauthorized:
		return "unauthenticated"
	case status == http.StatusForbidden:
		return "denied"
	case status == http.StatusTooManyRequests:
		return "throttled"
	case status == httpapi.StatusAbandoned:
		// The caller went away; what it asked may have committed.
		return "abandoned"
	case status < 500:
		return "rejected"
	default:
		return "error"
	}
}

// Write logs r with its outcome as one JSON line (the logger's handler
// decides the format; functions use slog's JSON handler).
func Write(ctx context.Context, log *slog.Logger, requestID string, r *Record, status int) {
	attrs := []slog.Attr{slog.String("requestId", requestID), slog.String("tenant", r.Tenant), slog.String("caller", r.Caller),
		slog.String("action", r.Action), slog.String("target", r.Target),
		slog.String("outcome", Outcome(status)), slog.Int("status", status)}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
	}
	if r.External != "" {
		attrs = append(attrs, slog.String("external", r.External))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}
