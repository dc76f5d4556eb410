// Package subject names IAM subjects: anything that can hold permissions.
// A subject id is "<kind>-<raw id>": client-<clientId>, group-<groupId>, or
// user-<uuid> for a person of an external identity provider. Group and
// user ids are lower-case UUIDs; a client id is a generated UUID or one
// chosen at creation (ValidClientID).
package subject

import (
	"errors"
	"fmt"
	"strings"

	"github.com/machine-iam/machine-iam/shared/iam/id"
)

// Kind is the kind of a subject, as the wire names it.
type Kind string

// The kinds.
const (
	Client Kind = "Client"
	Group  Kind = "Group"
	User   Kind = "User"
)

var prefixes = map[Kind]string{Client: "client-", Group: "group-", User: "user-"}

// ID returns the subject id of the kind's raw id.
func ID(k Kind, raw string) string { return prefixes[k] + raw }

// Bounds of a chosen client id.
const (
	MinClientIDLength = 3
	MaxClientIDLength = 128
)

// CheckClientID says what is wrong with a client id chosen at creation, or
// "". It is 3 to 128 characters of RFC 3986's unreserved set (letters,
// digits, . _ ~ -), starting with a letter or digit, so that it is the same
// in a URL path, a form body, a subject id and a resource scope
// (/clients/{id}) without escaping, and is never a "." or ".." segment. It
// must not start with a subject kind's prefix (client-, group-, user-, in
// any case): "client-group-1" is unambiguous to Parse, but a client id that
// reads as a subject id invites pasting one for the other.
func CheckClientID(raw string) string {
	if n := len(raw); n < MinClientIDLength || n > MaxClientIDLength {
		return fmt.Sprintf("must be %d to %d characters", MinClientIDLength, MaxClientIDLength)
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return "must start with a letter or digit"
		}
		if !alnum && c != '.' && c != '_' && c != '~' && c != '-' {
			return "must hold only letters, digits and . _ ~ -"
		}
	}
	lower := strings.ToLower(raw)
	for _, p := range prefixes {
		if strings.HasPrefix(lower, p) {
			return "must not start with client-, group- or user-, which begin subject ids"
		}
	}
	return ""
}

// ValidClientID reports whether raw can be a client id: one the service
// generated, or one CheckClientID accepts. Handlers answer 404 for
// anything else without asking the database.
func ValidClientID(raw string) bool { return id.Valid(raw) || CheckClientID(raw) == "" }

var errSubject = errors.New("must be client- followed by a client id, or group- or user- followed by a lower-case UUID")

// Parse splits a subject id into its kind and raw id.
func Parse(subjectID string) (Kind, string, error) {
	for k, p := range prefixes {
		if raw, ok := strings.CutPrefix(subjectID, p); ok {
			if k == Client && !ValidClientID(raw) || k != Client && !id.Valid(raw) {
				return "", "", errSubject
			}
			return k, raw, nil
		}
	}
	return "", "", errSubject
}
