package tokenapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// attemptWindow is where an authentication attempt is counted.
type attemptWindow struct {
	at       store.Attempts
	now, end time.Time
}

// attempt reads, in the one storage read of an authentication, the
// presented of the presented client id and the attempts counted in the
// current window; an address that spent its attempts gets its 429 here.
func (s *Service) attempt(ctx context.Context, ten, address, clientID string) (attemptWindow, store.CredentialRecord, error) {
	a := attemptWindow{at: store.Attempts{Tenant: ten, Key: lockout.CounterKey(clientID), Address: address}, now: s.Now()}
	a.at.Window, a.end = s.Lockout.WindowAt(a.now)
	rec, err := s.Credentials.GetCredentials(ctx, ten, a.at.Key, address, a.at.Window)
	if err != nil {
		return a, rec, err
	}
	if rec.Client != nil {
		audit.NoteTarget(ctx, clientID)
	}
	if s.Lockout.AddressExhausted(rec.Attempts) {
		audit.NoteReason(ctx, "the address is past its lockout threshold for this client id")
		return a, rec, throttled(a.now, a.end)
	}
	return a, rec, nil
}

// throttled is the 429 of a client id and address past the lockout.
func throttled(now, end time.Time) error {
	seconds := int(math.Ceil(end.Sub(now).Seconds()))
	return &httpapi.OAuthError{Code: httpapi.CodeTemporarilyUnavailable, Status: http.StatusTooManyRequests,
		Description: "Too many failed authentications for this client; retry later.",
		Header:      http.Header{"Retry-After": {strconv.Itoa(max(1, seconds))}}}
}
