// Package lockout slows down guessing of client secrets. Failed client
// authentications are counted per client id (known or not) in fixed time
// windows; once a window holds Threshold failures, the token endpoint
// refuses that client id with 429 until the window ends, without checking
// the secret. A guessed client id can therefore be slowed down by whoever
// guesses it, but never unlocked: the lockout only ever refuses.
package lockout

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/machine-iam/machine-iam/shared/id"
)

// Defaults, overridable by configuration.
const (
	DefaultThreshold = 10
	DefaultWindow    = 5 * time.Minute
)

// Policy is a threshold of failures per window.
type Policy struct {
	Threshold int
	Window    time.Duration
}

// Count is the number of failures recorded in the window starting at Start.
type Count struct {
	Start time.Time
	N     int
}

// WindowAt returns the window holding now.
func (p Policy) WindowAt(now time.Time) (start, end time.Time) {
	start = now.Truncate(p.Window)
	return start, start.Add(p.Window)
}

// Locked reports whether counts lock the client id at now, and for how long.
func (p Policy) Locked(counts []Count, now time.Time) (bool, time.Duration) {
	start, end := p.WindowAt(now)
	for _, c := range counts {
		if c.Start.Equal(start) && c.N >= p.Threshold {
			return true, end.Sub(now)
		}
	}
	return false, 0
}

// Key is the storage key of a presented client id: the id itself when it is
// one this service could have issued, otherwise a digest, so arbitrary input
// never becomes a key and never collides with a real id.
func Key(clientID string) string {
	if id.Valid(clientID) {
		return clientID
	}
	sum := sha256.Sum256([]byte(clientID))
	return "x" + hex.EncodeToString(sum[:20])
}
