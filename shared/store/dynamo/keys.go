package dynamo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
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
//	listing counts   T#<t>                       COUNTS                                                                         (clients, groups)
//	client           T#<t>#S#client-<id>         A#CLIENT                  T#<t>#CLIENTS        <lower(name)>\x01<id>
//	client secret    T#<t>#S#client-<id>         A#SECRET#<secretId>
//	client key       T#<t>#S#client-<id>         A#KEY#<sha256(kid)>                                                           (id, kid, jwk)
//	used assertion   T#<t>#ASSERTION#<clientId>  <sha256(jti)>                                                                 (ttl)
//	auth attempts    T#<t>#S#client-<key>        #THROTTLE#<windowStart>                                                        (total, a:<address>…, ttl)
//	group            T#<t>#S#group-<id>          A#GROUP                   T#<t>#GROUPS         <lower(name)>\x01<id>
//	policy           T#<t>#S#<subjectId>         P#<action>#<scope>        T#<t>#POLICIES       <subjectId>#<action>#<scope>
//	membership       T#<t>#S#<subjectId>         M#<groupId>
//	revoked token    T#<t>#S#client-<id>         R#<jti>                                                                       (ttl)
//	group member     T#<t>#S#group-<id>          X#MEMBER#<subjectId>
//
// The token endpoint reads, with one Query, the current window's attempt
// count and a client's A# items (the client and its secrets): the range
// runs from the current window's #THROTTLE# key to the end of A#. Counts
// sort before everything else of the partition, oldest window first, so
// older windows (kept until their TTL passes) are outside the range and can
// never push the credentials off the Query's page. Attempts with unknown
// client ids are counted under a partition of the same shape. An
// authorization decision reads a subject's items from A# to X (its A# item,
// memberships and policies; never the counts) with one Query, and the same
// range of each of its groups with one Query each; member lists (X#) stay
// out of decisions.
//
// Listings of clients and groups read GSI1 in name order, a page at a time
// (keyset: a position is the GSI1SK of an item); a tombstoned client or
// group leaves the index at once (its GSI1 keys are removed). Their totals
// are counts kept in the same transactions that create and tombstone.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"

	indexGSI1 = "GSI1"

	skTenant           = "TENANT"
	skOwners           = "OWNERS"
	skCounts           = "COUNTS"
	skClient           = "A#CLIENT"
	skSecretPrefix     = "A#SECRET#"
	skKeyPrefix        = "A#KEY#"
	skThrottlePrefix   = "#THROTTLE#"
	skGroup            = "A#GROUP"
	skPolicyPrefix     = "P#"
	skMembershipPrefix = "M#"
	skRevokedPrefix    = "R#"
	skMemberPrefix     = "X#MEMBER#"
	// skDecisionStart and skDecisionEnd bound the items an authorization
	// decision reads.
	skDecisionStart = "A#"
	skDecisionEnd   = "X"
	// skCredentialsEnd is above every A# key.
	skCredentialsEnd = "A$"
	// skCredentialsPrefix holds a client and its secrets.
	skCredentialsPrefix = "A#"
)

// throttleSK is the key of a window's attempt count, fixed width so that
// windows sort by start.
func throttleSK(window time.Time) string {
	return fmt.Sprintf("%s%011d", skThrottlePrefix, window.Unix())
}

func tenantPK(tenant string) string             { return "T#" + tenant }
func subjectPK(tenant, subjectID string) string { return "T#" + tenant + "#S#" + subjectID }
func clientPK(tenant, clientID string) string {
	return subjectPK(tenant, subject.ID(subject.Client, clientID))
}
func groupPK(tenant, groupID string) string {
	return subjectPK(tenant, subject.ID(subject.Group, groupID))
}

// nameKeySeparator sorts before every character a name may hold (control
// characters are refused), so that "ab" sorts before "abc" whatever the ids.
const nameKeySeparator = "\x01"

// nameKey is the GSI1SK of a client or group: listings run in name order,
// case-insensitively, then by id.
func nameKey(name, id string) string { return strings.ToLower(name) + nameKeySeparator + id }

// idOfNameKey returns the id a nameKey ends with.
func idOfNameKey(k string) string {
	_, id, _ := strings.Cut(k, nameKeySeparator)
	return id
}

func clientsGSI1PK(tenant string) string  { return "T#" + tenant + "#CLIENTS" }
func groupsGSI1PK(tenant string) string   { return "T#" + tenant + "#GROUPS" }
func policiesGSI1PK(tenant string) string { return "T#" + tenant + "#POLICIES" }
func secretSK(secretID string) string     { return skSecretPrefix + secretID }
func keySK(kid string) string             { return skKeyPrefix + digest(kid) }
func assertionPK(tenant, clientID string) string {
	return "T#" + tenant + "#ASSERTION#" + clientID
}

// digest keys items by values of any length and alphabet.
func digest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}
func policySK(action, scope string) string { return skPolicyPrefix + action + "#" + scope }
func membershipSK(groupID string) string   { return skMembershipPrefix + groupID }
func memberSK(subjectID string) string     { return skMemberPrefix + subjectID }
func policyGSI1SK(subjectID, action, scope string) string {
	return subjectID + "#" + action + "#" + scope
}
