package dynamo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/subject"
)

// Single-table layout. Every key names the tenant first (after TOKEN# in the
// token function's partitions), so no query can cross tenants. Each IAM
// subject has one partition holding everything that decides what it may do.
//
//	item             PK                          SK                        GSI1PK               GSI1SK
//	tenant           T#<t>                       TENANT
//	owner count      T#<t>                       OWNERS                                                                         (count)
//	listing counts   T#<t>                       COUNTS                                                                         (clients, groups)
//	grants           T#<t>#S#<subjectId>         A!GRANTS                                                                       (a:<action> sets, memberOf, complete, grantsVersion)
//	client           T#<t>#S#client-<id>         A#CLIENT                  T#<t>#CLIENTS        <lower(name)>\x01<id>
//	client secret    T#<t>#S#client-<id>         A#SECRET#<secretId>
//	client key       T#<t>#S#client-<id>         A#KEY#<sha256(kid)>                                                           (id, kid, jwk)
//	group            T#<t>#S#group-<id>          A#GROUP                   T#<t>#GROUPS         <lower(name)>\x01<id>
//	policy           T#<t>#S#<subjectId>         P#<action>#<scope>        T#<t>#POLICIES       <subjectId>#<action>#<scope>
//	membership       T#<t>#S#<subjectId>         M#<groupId>
//	group member     T#<t>#S#group-<id>          X#MEMBER#<subjectId>
//	registered API   T#<t>#APIS                  API#<apiId>                                                                    (spec JSON, version)
//	API identifier   T#<t>#APIS                  I#<sha256(identifier)>                                                         (apiId)
//	API scope name   T#<t>#APIS                  S#<scope>                                                                      (apiId, kept for good)
//	API action name  T#<t>#APIS                  N#<action>                                                                     (apiId, kept for good)
//
// A tenant's APIs share one partition: every decision and every catalog
// lookup reads all API# items with one Query. A name item reserves a scope
// or action for the API that first held it, and outlives it, so a policy
// naming it never grants anything through another API.
//
// What the token function writes lives in partitions of its own, one per
// tenant and presented client id (the lockout key: the id, or a digest of
// a malformed one), whose keys start with TOKEN#. IAM lets the token
// function write under that prefix only (dynamodb:LeadingKeys in
// template.yaml), so it can touch no client, secret, policy or membership:
//
//	auth attempts    TOKEN#<t>#<key>             #ATTEMPTS#<windowStart>   (total, a:<address>…, ttl)
//	learned tags     TOKEN#<t>#<clientId>        #LEARNEDTAGS              (t:<secretId>…, ttl)
//	revocation count TOKEN#<t>#<clientId>        #REVOCATIONS              (revocations, spanCount, spanEnd, ttl)
//	revoked token    TOKEN#<t>#<clientId>        R#<jti>                   (ttl)
//	used assertion   TOKEN#<t>#<clientId>        U#<sha256(jti)>           (ttl)
//
// The token endpoint reads a client's A# items (the client, its secrets and
// keys) with one Query, and with another, at the same time, its token
// partition from the current window's #ATTEMPTS# key to #REVOCATIONS: the
// current count, the tags learned for secrets stored without one
// (secret.Tagger), and the revocation count. Windows sort oldest first, so
// older ones (kept until their TTL passes) are outside that range, and
// revoked tokens and used assertions sort after it. An authorization
// decision reads a subject's grants item and its own item, which sort next
// to each other (A!GRANTS up to its A# item), with one Query, its groups'
// grants items with one BatchGetItem (see grants.go), and whether the
// caller's token was revoked with one GetItem; member lists (X#) stay out
// of decisions. A subject without a complete grants item (written by an
// older release) is read as before: its items from A# to X (its A# item,
// memberships and policies) with one Query, each of its groups likewise.
//
// Older releases kept attempt counts (#THROTTLE#…) and revoked tokens (R#…)
// in the client's own partition and used assertions under
// T#<t>#ASSERTION#<clientId>. Decisions still read revoked tokens there for
// a client without a grants item (they lie inside the A#–X range read
// then), and building its grants item copies them to its token partition.
// An assertion is still refused when it is found there, until all of them
// have expired: see docs/deploy.md.
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
	skGroup            = "A#GROUP"
	skPolicyPrefix     = "P#"
	skMembershipPrefix = "M#"
	skRevokedPrefix    = "R#"
	skMemberPrefix     = "X#MEMBER#"
	// skDecisionStart and skDecisionEnd bound the items an authorization
	// decision reads.
	skDecisionStart = "A#"
	skDecisionEnd   = "X"
	// skCredentialsPrefix holds a client and its secrets.
	skCredentialsPrefix = "A#"
)

// tokenPrefix starts the partition key of every item the token function
// writes; template.yaml allows the token function no other.
const tokenPrefix = "TOKEN#"

// Sort keys in a token partition.
const (
	skAttemptsPrefix = "#ATTEMPTS#"
	skRevocations    = "#REVOCATIONS"
	// Between the current window's #ATTEMPTS# key and #REVOCATIONS, so
	// the token endpoint's read of its partition returns it too.
	skLearnedTags         = "#LEARNEDTAGS"
	skUsedAssertionPrefix = "U#"
	// skLastUsedPrefix, then a credential's own sort key, keeps when the
	// credential last authenticated; it sorts between the attempt counts
	// and the revocation count, so the token endpoint's one read of its
	// partition finds it.
	skLastUsedPrefix = "#LASTUSED#"
)

// tokenPK is the partition of what the token function keeps about a
// presented client id (its lockout key) in a tenant.
func tokenPK(tenant, key string) string { return tokenPrefix + tenant + "#" + key }

// attemptsSK is the key of a window's attempt count, fixed width so that
// windows sort by start.
func attemptsSK(window time.Time) string {
	return fmt.Sprintf("%s%011d", skAttemptsPrefix, window.Unix())
}

const skAPIPrefix = "API#"

// skAPICount is the item that counts a tenant's APIs (apiCount).
const skAPICount = "#APICOUNT"

func apisPK(tenant string) string              { return "T#" + tenant + "#APIS" }
func apiSK(id string) string                   { return skAPIPrefix + id }
func apiIdentifierSK(identifier string) string { return "I#" + digest(identifier) }
func apiScopeSK(name string) string            { return "S#" + name }
func apiActionSK(name string) string           { return "N#" + name }

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

// legacyAssertionPK is where older releases kept used assertions.
func legacyAssertionPK(tenant, clientID string) string {
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
