// Package provenance records how a client or group came to be: which
// subject created it (read from that subject's verified token, never from a
// request) and through which path (the API, an apply of a desired-state
// document, a CloudFormation stack). Provisioning decides what it manages
// from this record, never from a name or description that any client with
// the right to rename could write.
package provenance

import (
	"fmt"
	"regexp"
	"sync"
	"unicode/utf8"
)

// Paths an object is created through.
const (
	ViaAPI   = "api"
	ViaApply = "apply"
	ViaStack = "stack"
	// ViaOperator is an operator command with AWS credentials (bootstrap,
	// recover); CreatedBy is then Operator.
	ViaOperator = "operator"
)

// Operator is the CreatedBy of what operator commands create.
const Operator = "operator"

// Label is what a creator says of the path it creates through. It is
// trusted only together with the CreatedBy the server records beside it:
// anyone may send any label, but only under its own subject.
type Label struct {
	Via string
	// Document and Name: the desired-state document's name and the name
	// the object is declared under there (Via apply).
	Document string
	Name     string
	// StackID and LogicalID: the CloudFormation resource (Via stack).
	StackID   string
	LogicalID string
}

// Record is a Label with the subject that created the object.
type Record struct {
	Label
	CreatedBy string
}

// Limits of a label's fields.
const (
	MaxDocumentLength = 200
	MaxNameLength     = 200
	MaxStackIDLength  = 1024
	MaxLogicalLength  = 255
)

var (
	// stackIDPattern is compiled on first use (only stack-made objects
	// need it), not at every start-up.
	stackIDPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:[a-z-]+:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/[A-Za-z][A-Za-z0-9-]*/[A-Za-z0-9-]+$`)
	})
	logicalID = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Validate returns, per JSON field under "provenance", what is wrong with
// l; nil means valid. An empty Via means the API.
func (l Label) Validate() map[string][]string {
	errs := map[string][]string{}
	add := func(field, msg string) { errs["provenance."+field] = append(errs["provenance."+field], msg) }
	text := func(field, v string, max int) {
		if v == "" || utf8.RuneCountInString(v) > max {
			add(field, fmt.Sprintf("must be 1 to %d characters", max))
		}
	}
	unused := func(field, v string) {
		if v != "" {
			add(field, "is not used with via "+l.Via)
		}
	}
	switch l.Via {
	case "", ViaAPI:
		unused("document", l.Document)
		unused("name", l.Name)
		unused("stackId", l.StackID)
		unused("logicalId", l.LogicalID)
	case ViaApply:
		text("document", l.Document, MaxDocumentLength)
		text("name", l.Name, MaxNameLength)
		unused("stackId", l.StackID)
		unused("logicalId", l.LogicalID)
	case ViaStack:
		if len(l.StackID) > MaxStackIDLength || !stackIDPattern().MatchString(l.StackID) {
			add("stackId", "must be a CloudFormation stack ARN")
		}
		if len(l.LogicalID) > MaxLogicalLength || !logicalID.MatchString(l.LogicalID) {
			add("logicalId", "must be a CloudFormation logical id (letters and digits)")
		}
		unused("document", l.Document)
		unused("name", l.Name)
	default:
		add("via", fmt.Sprintf("must be %q, %q or %q", ViaAPI, ViaApply, ViaStack))
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Made returns the record of an object created by subject with label l.
func Made(subject string, l Label) Record {
	if l.Via == "" {
		l.Via = ViaAPI
	}
	return Record{Label: l, CreatedBy: subject}
}

// Applied reports whether r is the record of an object that subject
// created by applying document, declared there as name.
func (r Record) Applied(subject, document, name string) bool {
	return r.CreatedBy == subject && r.Via == ViaApply && r.Document == document && r.Name == name
}

// Stacked reports whether r is the record of an object that subject
// created for the CloudFormation resource logicalID of stackID.
func (r Record) Stacked(subject, stackID, logicalID string) bool {
	return r.CreatedBy == subject && r.Via == ViaStack && r.StackID == stackID && r.LogicalID == logicalID
}

// String describes r for a plan: who created the object and how.
func (r Record) String() string {
	switch {
	case r.CreatedBy == "":
		return "created before provenance was recorded"
	case r.Via == ViaApply:
		return fmt.Sprintf("created by %s applying document %q as %q", r.CreatedBy, r.Document, r.Name)
	case r.Via == ViaStack:
		return fmt.Sprintf("created by %s for %s of stack %s", r.CreatedBy, r.LogicalID, r.StackID)
	case r.Via == ViaOperator:
		return "created by an operator"
	default:
		return "created by " + r.CreatedBy + " through the API"
	}
}
