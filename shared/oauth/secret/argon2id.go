package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Hasher turns secret values into stored hashes and checks values against
// them. Implementations must compare in constant time.
type Hasher interface {
	// Hash returns a self-describing hash (a PHC string) of value with a
	// fresh random salt.
	Hash(value string) (string, error)
	// Verify reports whether value hashes to phc. A malformed phc is an
	// error, never a match.
	Verify(phc, value string) (bool, error)
	// Decoy returns a well-formed hash with the current parameters that no
	// value matches; verifying against it costs what a real check costs.
	Decoy() string
}

// Argon2id hashes with argon2id (RFC 9106) and stores PHC strings, so the
// parameters travel with each hash and can be raised later without
// invalidating old secrets.
type Argon2id struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2id is OWASP's first recommended argon2id configuration
// (19 MiB, 2 passes, 1 lane): about 20 ms on one core of a Lambda.
var DefaultArgon2id = Argon2id{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

const (
	saltLength = 16
	keyLength  = 32
	// Hashes read from storage are bounded so a corrupt or hostile row
	// cannot make one verification exhaust a function's memory or time.
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
)

var b64 = base64.RawStdEncoding

// Hash implements Hasher.
func (a Argon2id) Hash(value string) (string, error) {
	salt := make([]byte, saltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(value), salt, a.Time, a.MemoryKiB, a.Threads, keyLength)
	return a.phc(salt, key), nil
}

func (a Argon2id) phc(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, a.MemoryKiB, a.Time, a.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decoy implements Hasher. Its all-zero key is the output of no known input.
func (a Argon2id) Decoy() string {
	return a.phc(make([]byte, saltLength), make([]byte, keyLength))
}

var errMalformed = errors.New("secret: malformed argon2id hash")

// Verify implements Hasher.
func (Argon2id) Verify(phc, value string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errMalformed
	}
	var p Argon2id
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, errMalformed
	}
	if p.Time == 0 || p.Time > maxTime || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB || p.Threads == 0 {
		return false, errMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errMalformed
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errMalformed
	}
	got := argon2.IDKey([]byte(value), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
