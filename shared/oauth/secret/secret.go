// Package secret holds client secrets: their metadata, the rules for creating
// one, the argon2id hashing that is the only form a value is ever stored in,
// and the verifier the token endpoint uses, with its warm cache and its
// equal-work rule.
package secret

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// Limits of the API (docs/openapi.yaml).
const (
	MinValueLength       = 8
	MaxValueLength       = 32
	MaxDescriptionLength = 200
	MaxPerClient         = 20
)

// Secret is what anyone may know about a client secret after its creation.
// It has, by construction, neither the value nor its hash.
type Secret struct {
	ID          string
	Description string
	// Expiration is nil for a secret that never expires.
	Expiration *time.Time
	CreatedAt  time.Time
	// LastUsedAt is when the secret last authenticated its client, to
	// within store.UseGranularity; nil when it has not since it was created.
	LastUsedAt *time.Time
}

// ExpiredAt reports whether the secret no longer authenticates at now. A
// secret stops working at the instant of its expiration.
func (s Secret) ExpiredAt(now time.Time) bool {
	return s.Expiration != nil && !now.Before(*s.Expiration)
}

// Fields classifies every field of Secret, Hashed and Spec for the
// no-escalation rule (policy.FieldClass). A secret is a credential: it is
// created and deleted whole, under the rule for credentials of another
// client, and never changed.
var Fields = map[string]policy.FieldClass{
	"ID":          policy.ServerSet,
	"Description": policy.Neutral,
	"Expiration":  policy.RightsBearing,
	"CreatedAt":   policy.ServerSet,
	"LastUsedAt":  policy.ServerSet,
	"Hash":        policy.RightsBearing,
	"Tag":         policy.RightsBearing,
	"Value":       policy.RightsBearing,
}

// Hashed is a secret with the PHC string of its value's hash and the
// value's tag (see Tagger; "" for none). Only the store and the Verifier
// handle it; no response type can hold one.
type Hashed struct {
	Secret
	Hash string
	Tag  string
}

// Spec is a request to create a secret.
type Spec struct {
	Value       string
	Description string
	Expiration  *time.Time
}

// Validate checks s against the API's rules at now and returns, per JSON field name,
// what is wrong; nil means valid. Messages never repeat the value.
func (s Spec) Validate(now time.Time) map[string][]string {
	errs := map[string][]string{}
	switch n := utf8.RuneCountInString(s.Value); {
	case n < MinValueLength || n > MaxValueLength:
		errs["value"] = append(errs["value"], fmt.Sprintf("must be %d to %d characters", MinValueLength, MaxValueLength))
	case strings.ContainsFunc(s.Value, isControl):
		errs["value"] = append(errs["value"], "must not contain control characters")
	}
	switch n := utf8.RuneCountInString(s.Description); {
	case strings.TrimSpace(s.Description) == "":
		errs["description"] = append(errs["description"], "must not be empty")
	case n > MaxDescriptionLength:
		errs["description"] = append(errs["description"], fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	case strings.ContainsFunc(s.Description, isControl):
		errs["description"] = append(errs["description"], "must not contain control characters")
	}
	if s.Expiration != nil && !s.Expiration.After(now) {
		errs["expiration"] = append(errs["expiration"], "must be in the future")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
