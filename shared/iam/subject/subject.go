// Package subject names IAM subjects: anything that can hold permissions.
// A subject id is "<kind>-<uuid>": client-<clientId>, group-<groupId>, or
// user-<uuid> for a person of an external identity provider.
package subject

import (
	"errors"
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

// Parse splits a subject id into its kind and raw id.
func Parse(subjectID string) (Kind, string, error) {
	for k, p := range prefixes {
		if raw, ok := strings.CutPrefix(subjectID, p); ok {
			if !id.Valid(raw) {
				return "", "", errors.New("must be client-, group- or user- followed by a lower-case UUID")
			}
			return k, raw, nil
		}
	}
	return "", "", errors.New("must be client-, group- or user- followed by a lower-case UUID")
}
