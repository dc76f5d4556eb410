// Package lockout throttles guessing of client secrets. Client
// authentications that need hash work are counted in fixed time windows per
// client id (known or not) and caller address, and per client id across all
// addresses. A request is counted before its secret is checked, by one
// conditional write that refuses past either limit, so concurrent guesses
// cannot overrun them; a success gives its count back. Past the per-address
// threshold that address gets 429 for the rest of the window. Past the much
// higher per-client ceiling no secret is checked any more, which bounds a
// distributed attacker; only a secret that a function instance verified
// before (no hash work) still gets in, and every other attempt still spends
// its address's budget. Guesses from one address never lock the real client
// out from another. The throttle only ever refuses: it never lets anything
// in.
package lockout

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
)

// Defaults, overridable by configuration.
const (
	DefaultThreshold = 10
	DefaultCeiling   = 100
	DefaultWindow    = 5 * time.Minute
)

// Limits are what one window allows.
type Limits struct {
	Threshold int // counted attempts per client id and address
	Ceiling   int // counted attempts per client id, all addresses together
	Window    time.Duration
}

// Counts are the attempts counted in the current window for one client id.
type Counts struct {
	FromAddress int // from the caller's address
	Total       int // from every address
}

// WindowAt returns the window holding now.
func (p Limits) WindowAt(now time.Time) (start, end time.Time) {
	start = now.Truncate(p.Window)
	return start, start.Add(p.Window)
}

// AddressExhausted reports whether c leaves the caller's address no
// attempt: it gets 429 whatever it presents.
func (p Limits) AddressExhausted(c Counts) bool { return c.FromAddress >= p.Threshold }

// CounterKey is the storage key of a presented client id: the id itself when it is
// one a client could have (generated or chosen), otherwise a digest, so
// arbitrary input never becomes a key and never collides with a real id.
func CounterKey(clientID string) string {
	if subject.ValidClientID(clientID) {
		return clientID
	}
	return Digest(clientID)
}

// LogKey is how a presented client id appears in the audit line before it
// is known to name a client: a generated id as it is, anything else as a
// digest, since a chosen id's form also fits many a secret pasted into the
// wrong field.
func LogKey(clientID string) string {
	if id.Valid(clientID) {
		return clientID
	}
	return Digest(clientID)
}

// Digest is the fixed-length stand-in for a presented client id.
func Digest(clientID string) string {
	sum := sha256.Sum256([]byte(clientID))
	return "x" + hex.EncodeToString(sum[:20])
}

// AddressKey is the storage key under which failed federated
// authentications from address (an Address) are counted: per address
// alone, whatever client they name, since a signed token cannot be guessed
// and counting toward the client would let anyone on a shared CI address
// lock it out. It never equals a CounterKey (an id, or "x" and a digest).
func AddressKey(address string) string {
	sum := sha256.Sum256([]byte(address))
	return "f" + hex.EncodeToString(sum[:20])
}

// Address is the throttling key of a caller address (API Gateway's
// requestContext.http.sourceIp, with or without a port): an IPv4 address
// as is, an IPv6 address by its /64 prefix, since one host usually holds a
// whole /64; "unknown" for anything unparsable.
func Address(remote string) string {
	a, err := netip.ParseAddr(remote)
	if err != nil {
		ap, perr := netip.ParseAddrPort(remote)
		if perr != nil {
			return "unknown"
		}
		a = ap.Addr()
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
