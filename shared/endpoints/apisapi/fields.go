package apisapi

import "github.com/machine-iam/machine-iam/shared/iam/policy"

// DecisionFields classifies the members of the decision request and answer
// for the no-escalation rule: a decision reads and changes nothing, so none
// bears a right. The caller's permission to ask is the route's
// (iam.decision.check, and iam.client.read by subject).
var DecisionFields = map[string]policy.FieldClass{
	"Token":     policy.Neutral,
	"Subject":   policy.Neutral,
	"Checks":    policy.Neutral,
	"Action":    policy.Neutral,
	"Scope":     policy.Neutral,
	"Allowed":   policy.ServerSet,
	"Active":    policy.ServerSet,
	"Decisions": policy.ServerSet,
	"TTL":       policy.ServerSet,
	"Audiences": policy.ServerSet,
	"ClientID":  policy.ServerSet,
	"Expiry":    policy.ServerSet,
}
