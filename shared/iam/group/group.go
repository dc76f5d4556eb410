// Package group holds the domain model of an IAM group: a named set of
// subjects whose members hold every policy granted to the group. Groups do
// not nest.
package group

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
)

// Limits.
const (
	MaxDisplayNameLength = 200
	MaxDescriptionLength = 1000
	// MaxMembers bounds a group, so listing it and deleting it stay cheap.
	MaxMembers = 1000
	// MaxMembersPerRequest bounds one add or remove request.
	MaxMembersPerRequest = 100
	// MaxPerSubject bounds the groups one client or user belongs to: an
	// authorization decision reads each of them.
	MaxPerSubject = 10
)

// Group is a group of one tenant.
type Group struct {
	Tenant      string
	ID          string
	DisplayName string
	Description string
	// Provenance is how the group came to be; written once, at creation.
	Provenance provenance.Record
	CreatedAt  time.Time
}

// Fields classifies every field of Group and Spec for the no-escalation
// rule (policy.FieldClass). A group's rights are its policies and members,
// which their own routes change under the rule; its fields confer nothing.
var Fields = map[string]policy.FieldClass{
	"Tenant":      policy.ServerSet,
	"ID":          policy.ServerSet,
	"DisplayName": policy.Neutral,
	"Description": policy.Neutral,
	"Provenance":  policy.ServerSet,
	"CreatedAt":   policy.ServerSet,
}

// Spec is what a caller sets on creation.
type Spec struct {
	DisplayName string
	Description string
}

// Validate returns, per JSON field, what is wrong with s; nil means valid.
func (s Spec) Validate() map[string][]string {
	errs := map[string][]string{}
	switch n := utf8.RuneCountInString(s.DisplayName); {
	case strings.TrimSpace(s.DisplayName) == "":
		errs["displayName"] = append(errs["displayName"], "must not be empty")
	case n > MaxDisplayNameLength:
		errs["displayName"] = append(errs["displayName"], fmt.Sprintf("must be at most %d characters", MaxDisplayNameLength))
	}
	if strings.ContainsFunc(s.DisplayName, unicode.IsControl) {
		// A name is one line wherever it is shown (a plan, a table).
		errs["displayName"] = append(errs["displayName"], "must not contain line breaks or tabs")
	}
	if utf8.RuneCountInString(s.Description) > MaxDescriptionLength {
		errs["description"] = append(errs["description"], fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	for field, v := range map[string]string{"displayName": s.DisplayName, "description": s.Description} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
			errs[field] = append(errs[field], "must not contain control characters")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
