package dynamo

import (
	"fmt"
	"time"

	"github.com/machine-iam/machine-iam/shared/subject"
)

// Single-table layout. Every key starts with the tenant, so no query can
// cross tenants. Each IAM subject has one partition holding everything that
// decides what it may do.
//
//	item             PK                          SK                        GSI1PK               GSI1SK
//	tenant           T#<t>                       TENANT
//	owner count      T#<t>                       OWNERS                                                                         (count)
//	client           T#<t>#S#client-<id>         A#CLIENT                  T#<t>#CLIENTS        <id>
//	client secret    T#<t>#S#client-<id>         A#SECRET#<secretId>
//	auth attempts    T#<t>#S#client-<key>        B#THROTTLE#<inverted windowStart>                                              (total, a:<address>…, ttl)
//	group            T#<t>#S#group-<id>          A#GROUP                   T#<t>#GROUPS         <id>
//	policy           T#<t>#S#<subjectId>         P#<action>#<scope>        T#<t>#POLICIES       <subjectId>#<action>#<scope>
//	membership       T#<t>#S#<subjectId>         M#<groupId>
//	group member     T#<t>#S#group-<id>          X#MEMBER#<subjectId>
//
// The token endpoint reads a client's A# items (the client and its secrets)
// and the attempt count of the current window with one Query: the range
// runs from A# to the current window's B#THROTTLE# key, and windows sort
// newest first, so older windows (kept until their TTL passes) are outside
// it and the counts can never push the credentials off the Query's page.
// Attempts with unknown client ids are counted under a partition of the
// same shape. An authorization decision reads a subject's items below X (its
// A# item, the B# counts, memberships and policies) with one Query, and
// the same range of each of its groups with one Query each; member lists
// (X#) stay out of decisions.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"

	indexGSI1 = "GSI1"

	skTenant           = "TENANT"
	skOwners           = "OWNERS"
	skClient           = "A#CLIENT"
	skSecretPrefix     = "A#SECRET#"
	skThrottlePrefix   = "B#THROTTLE#"
	skGroup            = "A#GROUP"
	skPolicyPrefix     = "P#"
	skMembershipPrefix = "M#"
	skMemberPrefix     = "X#MEMBER#"
	// skDecisionEnd bounds the items an authorization decision reads.
	skDecisionEnd = "X"
	// skCredentialsPrefix holds a client and its secrets.
	skCredentialsPrefix = "A#"
)

// throttleSK is the key of a window's attempt count. Windows sort newest
// first: the key holds the start's distance to a far-future instant.
func throttleSK(window time.Time) string {
	return fmt.Sprintf("%s%011d", skThrottlePrefix, throttleEpochEnd-window.Unix())
}

// throttleEpochEnd is later than any window start (year 5138).
const throttleEpochEnd = 99_999_999_999

func tenantPK(tenant string) string             { return "T#" + tenant }
func subjectPK(tenant, subjectID string) string { return "T#" + tenant + "#S#" + subjectID }
func clientPK(tenant, clientID string) string {
	return subjectPK(tenant, subject.ID(subject.Client, clientID))
}
func groupPK(tenant, groupID string) string {
	return subjectPK(tenant, subject.ID(subject.Group, groupID))
}
func clientsGSI1PK(tenant string) string   { return "T#" + tenant + "#CLIENTS" }
func groupsGSI1PK(tenant string) string    { return "T#" + tenant + "#GROUPS" }
func policiesGSI1PK(tenant string) string  { return "T#" + tenant + "#POLICIES" }
func secretSK(secretID string) string      { return skSecretPrefix + secretID }
func policySK(action, scope string) string { return skPolicyPrefix + action + "#" + scope }
func membershipSK(groupID string) string   { return skMembershipPrefix + groupID }
func memberSK(subjectID string) string     { return skMemberPrefix + subjectID }
func policyGSI1SK(subjectID, action, scope string) string {
	return subjectID + "#" + action + "#" + scope
}
