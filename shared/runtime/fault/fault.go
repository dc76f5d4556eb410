// Package fault marks errors that come from a dependency being down or slow
// (DynamoDB, KMS), so the HTTP layer can answer 503 with Retry-After instead
// of 500, whatever package the failure came from.
package fault

import "errors"

// ErrUnavailable is matched with errors.Is by every error that Unavailable
// returns.
var ErrUnavailable = errors.New("dependency unavailable")

// Unavailable wraps err, which happened during op, as a dependency failure.
// The wrapped text is for logs only; writers never show it to callers.
func Unavailable(op string, err error) error {
	return &unavailableError{op: op, err: err}
}

type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string { return e.op + ": " + e.err.Error() }

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }
