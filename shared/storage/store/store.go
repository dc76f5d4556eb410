// Package store declares what the service needs from storage, as small
// interfaces per aggregate, and the sentinel errors every implementation
// returns. Implementations: store/dynamo. Any other failure of an
// implementation wraps fault.ErrUnavailable.
package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
)

// Sentinel errors, tested with errors.Is.
var (
	// ErrNotFound: the item, or the client it belongs to, does not exist
	// (a client being deleted counts as not existing).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the item to create exists already.
	ErrConflict = errors.New("store: already exists")
	// ErrVersionMismatch: a conditional write found another version.
	ErrVersionMismatch = errors.New("store: version mismatch")
	// ErrLimitExceeded: the write would pass a per-parent limit.
	ErrLimitExceeded = errors.New("store: limit exceeded")
	// ErrSubjectLimitExceeded: the subject a membership would add to is in
	// group.MaxPerSubject groups already.
	ErrSubjectLimitExceeded = errors.New("store: subject limit exceeded")
	// ErrSubjectNotFound: the client or group a write names as its subject
	// does not exist (or is being deleted).
	ErrSubjectNotFound = errors.New("store: subject not found")
	// ErrBadPosition: a listing position that no page of it gave.
	ErrBadPosition = errors.New("store: not a position of this listing")
	// ErrLastOwner: the change would leave the tenant without a client
	// holding owner on / directly (see Policies).
	ErrLastOwner = errors.New("store: last owner")
)

// ReplaceCondition is what a replace requires of the stored client.
type ReplaceCondition struct {
	// Version, when not 0, must be the stored version, else
	// ErrVersionMismatch.
	Version int64
	// NotRootOwner refuses, with ErrLastOwner, a client that holds owner
	// on / by a policy of its own, in the same write: such a client must
	// stay able to use the management API.
	NotRootOwner bool
}

// Tenants records which tenants exist.
type Tenants interface {
	// CreateTenant records name; ErrConflict if it exists.
	CreateTenant(ctx context.Context, name string) error
	// TenantExists reports whether name was created.
	TenantExists(ctx context.Context, name string) (bool, error)
}

// Clients stores clients.
type Clients interface {
	// CreateClient stores c, version 1; ErrConflict if its id is taken.
	CreateClient(ctx context.Context, c client.Client) error
	// GetClient returns a client; ErrNotFound.
	GetClient(ctx context.Context, tenant, id string) (client.Client, error)
	// ReplaceClient overwrites the fields a caller sets of an existing
	// client (client.Spec) and returns it with its new version, under
	// cond. ErrNotFound.
	ReplaceClient(ctx context.Context, c client.Client, cond ReplaceCondition) (client.Client, error)
	// RenameClient sets only the neutral fields of an existing client (its
	// name and description, client.Fields) and returns it with its new
	// version, whatever version it was at, when its rights-bearing fields
	// are stored exactly as c has them: a write that changes no right
	// needs no version, and cannot undo a concurrent change of them.
	// ErrNotFound; ErrVersionMismatch when the stored rights are not c's
	// (or not stored in the same form: the caller then reads and compares).
	RenameClient(ctx context.Context, c client.Client) (client.Client, error)
	// DeleteClient deletes a client with its secrets, policies and group
	// memberships; ErrLastOwner when it is the tenant's last owner. It is crash-safe and idempotent: the client stops
	// existing for every reader, every token request and every
	// authorization decision in the first write, and a repeated call
	// finishes a cascade an earlier one left half done. ErrNotFound when
	// nothing is left to delete.
	DeleteClient(ctx context.Context, tenant, id string) error
	// ListClients returns a page of a tenant's clients, ordered by name
	// (case-insensitively) and then id; its cost is that of the items it
	// reads (Skip, Limit, and with a search at most ScanLimit).
	ListClients(ctx context.Context, tenant string, q PageQuery) (Page[client.Client], error)
	// CountClients returns how many clients a tenant has: a count kept in
	// the transactions that create and delete them.
	CountClients(ctx context.Context, tenant string) (int, error)
}

// PageQuery asks for part of a listing. Positions are the First and Last of
// earlier pages.
type PageQuery struct {
	// After starts the page after this position; Before ends it before
	// this position (reading backward). At most one is set.
	After, Before string
	// Last asks for the final Limit items.
	Last bool
	// Skip passes over that many items (matches, with Search) first.
	Skip int
	// Limit is the most items the page holds.
	Limit int
	// Search keeps the items whose name contains it, case-insensitively.
	Search string
	// ScanLimit bounds the items a search reads; 0 is no bound.
	ScanLimit int
}

// Page is part of a listing.
type Page[T any] struct {
	Items []T
	// First is the position of the first item. Last is where reading
	// stopped: the last item, or, for a search that reached ScanLimit, the
	// last item read.
	First, Last string
	// More reports whether the listing may go on past the page (before it,
	// when reading backward).
	More bool
	// Matched counts, for a search, the matches from the page's start up to
	// where reading stopped (the page's and those after it, within
	// ScanLimit): all of them when More is false.
	Matched int
	// Skipped is how many of Skip were passed over (fewer when a search's
	// ScanLimit or the listing's end came first).
	Skipped int
}

// Secrets stores client secrets.
type Secrets interface {
	// ListSecrets returns a client's secrets, oldest first; ErrNotFound if
	// the client does not exist.
	ListSecrets(ctx context.Context, tenant, clientID string) ([]secret.Secret, error)
	// CreateSecret adds s to a client that has fewer than max secrets;
	// ErrNotFound, ErrLimitExceeded.
	CreateSecret(ctx context.Context, tenant, clientID string, s secret.Hashed, max int) error
	// DeleteSecret removes one secret; ErrNotFound.
	DeleteSecret(ctx context.Context, tenant, clientID, secretID string) error
}

// Credentials is what the token endpoint reads and writes.
type Credentials interface {
	// GetCredentials returns, in one strongly consistent read, what the
	// token endpoint needs about the client stored under key (a
	// lockout.Key): the client and its hashed secrets, if it exists, and
	// the attempts counted for the key in the window starting at window,
	// in all and from address (a lockout.Address), whether the client
	// exists or not. No number of counted attempts, in this window or any
	// other, can push the client or its secrets out of that read.
	GetCredentials(ctx context.Context, tenant, key, address string, window time.Time) (CredentialRecord, error)
	// CountAttempt counts n authentication attempts at at, atomically, when
	// the address has room for them under p.Threshold and the key under
	// p.Ceiling. Else it returns ErrLimitExceeded: having counted nothing if
	// the address had no room, and the address's n attempts alone if only
	// the ceiling was reached (a refused attempt still spends its address's
	// budget). The counts may be forgotten after expires.
	CountAttempt(ctx context.Context, at Attempts, n int, p lockout.Limits, expires time.Time) error
	// UncountAttempt gives back n attempts CountAttempt counted at at.
	UncountAttempt(ctx context.Context, at Attempts, n int) error
	// TagSecret remembers tag (secret.Tagger) for a secret of the client
	// under at's key that is stored without one (or with one of a replaced
	// key); GetCredentials then returns the secret with it.
	TagSecret(ctx context.Context, at Attempts, secretID, tag string) error
}

// Uses keeps when each credential last authenticated its client, which
// GetCredentials, GetFederationRecord and the Secrets, Keys and federated
// credentials listings return as LastUsedAt.
type Uses interface {
	// RecordUse notes that a credential of clientID authenticated at at,
	// unless a use within UseGranularity before at is noted already.
	RecordUse(ctx context.Context, tenant, clientID string, used Credential, at time.Time) error
}

// UseGranularity is how precisely a credential's last use is kept: at most
// one write per credential per this time, so the token endpoint stays one
// read in the common case.
const UseGranularity = time.Hour

// Credential names one credential of a client: a secret by its id, a
// public key by its kid, or a federated credential by its id.
type Credential struct {
	SecretID, KeyKid, FederatedID string
}

// Lockouts lifts the throttle on failed authentications (lockout).
type Lockouts interface {
	// Unlock forgets the attempts counted for a lockout key of a tenant,
	// in every window kept: those from address (a lockout.Address), given
	// back to the key's total too, or, for "", all of them.
	Unlock(ctx context.Context, tenant, key, address string) error
}

// Attempts is where authentication attempts are counted: for a lockout key
// (lockout.Key of the presented client id) of a tenant, from an address (a
// lockout.Address), in the window that starts at Window.
type Attempts struct {
	Tenant, Key, Address string
	Window               time.Time
}

// CredentialRecord is what GetCredentials read.
type CredentialRecord struct {
	// Client is nil when no client exists under the key (or it is being
	// deleted); Secrets and Keys are then empty.
	Client  *client.Client
	Secrets []secret.Hashed
	Keys    []clientkey.Key
	// Federated are its federated credentials.
	Federated []federation.Credential
	Attempts  lockout.Counts
	// Revocations counts the tokens of the client under the key that
	// RevokeToken revoked, for as long as any of them may be live; it only
	// grows while it is kept. Token reuse hands a remembered token out
	// again only while it is what it was when the token was minted.
	Revocations int64
}

// Keys stores clients' public keys (private_key_jwt).
type Keys interface {
	// ListKeys returns a client's keys, oldest first; ErrNotFound if the
	// client does not exist.
	ListKeys(ctx context.Context, tenant, clientID string) ([]clientkey.Key, error)
	// CreateKey adds k to a client that has fewer than max keys and none
	// with k's kid; ErrNotFound, ErrLimitExceeded, ErrConflict.
	CreateKey(ctx context.Context, tenant, clientID string, k clientkey.Key, max int) error
	// DeleteKey removes the key with id keyID; ErrNotFound.
	DeleteKey(ctx context.Context, tenant, clientID, keyID string) error
}

// FederatedCredentials stores clients' federated credentials.
type FederatedCredentials interface {
	// ListFederatedCredentials returns a client's federated credentials,
	// oldest first; ErrNotFound if the client does not exist.
	ListFederatedCredentials(ctx context.Context, tenant, clientID string) ([]federation.Credential, error)
	// CreateFederatedCredential adds c to a client that has fewer than max
	// of them; ErrNotFound, ErrLimitExceeded. A credential that trusts a
	// client of another tenant (c.TrustedTenant) is recorded with that
	// client too, in the same write, so that what its secrets confer can
	// be known there (TrustedBy).
	CreateFederatedCredential(ctx context.Context, tenant, clientID string, c federation.Credential, max int) error
	// TrustedBy names clients of other tenants ("tenant/client-id") with a
	// federated credential accepting clientID's tokens for one of
	// audiences: at most one per audience, which is all the no-escalation
	// rule needs to know, so the read stays bounded however many there are.
	TrustedBy(ctx context.Context, tenant, clientID string, audiences []string) ([]string, error)
	// DeleteFederatedCredential removes one, with its record at the
	// trusted client; ErrNotFound.
	DeleteFederatedCredential(ctx context.Context, tenant, clientID, credentialID string) error
	// GetFederationRecord is GetCredentials for a federated
	// authentication, whose failures are counted per address only: the
	// client and its credentials (the federated ones with LastUsedAt), and
	// the attempts counted under addressKey (lockout.AddressKey) in the
	// window.
	GetFederationRecord(ctx context.Context, tenant, clientID, addressKey, address string, window time.Time) (CredentialRecord, error)
}

// Revocations records revoked access tokens. Authorization decisions read
// the kill switch with the client (Policies.Grants) and single revoked
// tokens with TokenRevoked.
type Revocations interface {
	// RevokeToken revokes one token of clientID by its jti until it
	// expires, and counts it (CredentialRecord.Revocations). A client may
	// revoke at most limit.Max tokens in a span of limit.Span, which starts
	// with its first revocation after the previous span ended; past that, a
	// *LimitError (ErrLimitExceeded) that says when the span ends, and
	// nothing is revoked.
	RevokeToken(ctx context.Context, tenant, clientID, jti string, until time.Time, limit RevocationLimit) error
	// TokenRevoked reports whether RevokeToken revoked clientID's token jti
	// (strongly consistent).
	TokenRevoked(ctx context.Context, tenant, clientID, jti string) (bool, error)
	// RevokeTokens revokes every token of clientID issued up to at;
	// ErrNotFound.
	RevokeTokens(ctx context.Context, tenant, clientID string, at time.Time) error
}

// MaxRevocations is how many tokens a client may revoke one by one in a
// span of RevocationLimit.Span. A span is at least a token's longest life,
// so at most twice as many revoked tokens are kept for a client at once.
const MaxRevocations = 1000

// RevocationLimit bounds RevokeToken.
type RevocationLimit struct {
	Max  int
	Span time.Duration
	Now  time.Time
}

// LimitError is ErrLimitExceeded with the time the limit lifts.
type LimitError struct{ Until time.Time }

func (e *LimitError) Error() string {
	return ErrLimitExceeded.Error() + " until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes a LimitError ErrLimitExceeded.
func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// Assertions remembers client assertions that were used.
type Assertions interface {
	// UseAssertion records jti of clientID's assertion as used until
	// until (now is the time of use); ErrConflict when it was used before
	// (a replay).
	UseAssertion(ctx context.Context, tenant, clientID, jti string, until, now time.Time) error
}

// Policies stores policies, in their subject's partition. Every
// implementation keeps a tenant from locking itself out: it counts the live
// clients that hold owner on / by a policy of their own, and refuses with
// ErrLastOwner, atomically, a policy deletion or client deletion that would
// take the count to zero. Owners through groups do not count, so group
// changes never need the check.
type Policies interface {
	// PutPolicy stores p. When the triple exists already it returns the
	// stored policy and created false. ErrSubjectNotFound when p's subject
	// is a client or group that does not exist; ErrLimitExceeded when it
	// has policy.MaxPerSubject policies.
	PutPolicy(ctx context.Context, tenant string, p policy.Policy) (stored policy.Policy, created bool, err error)
	// DeletePolicy removes the policy with k's triple; ErrNotFound,
	// ErrLastOwner.
	DeletePolicy(ctx context.Context, tenant string, k policy.Triple) error
	// SubjectPolicies returns a subject's own policies.
	SubjectPolicies(ctx context.Context, tenant, subjectID string) ([]policy.Policy, error)
	// ListPolicies returns, in key order, the tenant's policies after
	// after (nil: from the first) that keep accepts: at most limit of them,
	// reading at most scanLimit policies. next is where a further call goes
	// on, nil when nothing is left. Eventually consistent.
	ListPolicies(ctx context.Context, tenant string, after *policy.Triple, limit, scanLimit int, keep func(policy.Policy) bool) (found []policy.Policy, next *policy.Triple, err error)
	// Grants returns the policies that apply to a subject, strongly
	// consistent: one read of the subject's policies and groups, one of
	// its groups' policies. ErrSubjectNotFound when the subject is a client or group
	// that does not exist or is being deleted; policies of groups being
	// deleted are left out.
	Grants(ctx context.Context, tenant, subjectID string) (policy.Grants, error)
}

// Groups stores groups and their members.
type Groups interface {
	// CreateGroup stores g; ErrConflict if its id is taken.
	CreateGroup(ctx context.Context, g group.Group) error
	// GetGroup returns a group; ErrNotFound.
	GetGroup(ctx context.Context, tenant, id string) (group.Group, error)
	// ListGroups returns a page of a tenant's groups by display name
	// (case-insensitively), then id; as ListClients.
	ListGroups(ctx context.Context, tenant string, q PageQuery) (Page[group.Group], error)
	// CountGroups returns how many groups a tenant has, kept as
	// CountClients.
	CountGroups(ctx context.Context, tenant string) (int, error)
	// DeleteGroup deletes a group with its policies and memberships,
	// crash-safe and idempotent like DeleteClient; ErrNotFound.
	DeleteGroup(ctx context.Context, tenant, id string) error
	// AddMember makes subjectID a member of a group that has fewer than max
	// members; adding a member again is a no-op. ErrNotFound for the group,
	// ErrSubjectNotFound for a client that does not exist,
	// ErrLimitExceeded for a full group, ErrSubjectLimitExceeded for a
	// subject in group.MaxPerSubject groups.
	AddMember(ctx context.Context, tenant, groupID, subjectID string, max int) error
	// RemoveMember ends a membership; removing a non-member is a no-op.
	RemoveMember(ctx context.Context, tenant, groupID, subjectID string) error
	// Members returns the subject ids of a group's members, sorted.
	Members(ctx context.Context, tenant, groupID string) ([]string, error)
	// Memberships returns the ids of the groups a subject belongs to.
	Memberships(ctx context.Context, tenant, subjectID string) ([]string, error)
}

// Subjects describes subjects for listings.
type Subjects interface {
	// DisplayNames returns the names of the clients and groups among
	// subjectIDs that exist; other ids are absent from the map.
	DisplayNames(ctx context.Context, tenant string, subjectIDs []string) (map[string]string, error)
}

// APIs stores a tenant's registered APIs. Every scope and action name an
// API ever held stays reserved to it after it drops the name or is deleted,
// so that a policy or client naming it never starts working again for
// another API.
type APIs interface {
	// CreateAPI stores a, version 1, with its identifier and names
	// reserved; a *NameConflict (ErrConflict) naming what another API of
	// the tenant holds or held.
	CreateAPI(ctx context.Context, a apis.API) error
	// GetAPI returns a registered API; ErrNotFound.
	GetAPI(ctx context.Context, tenant, id string) (apis.API, error)
	// ReplaceAPI overwrites an API's spec (its identifier stays) when it is
	// at version and returns it with its new version; ErrNotFound,
	// ErrVersionMismatch, *NameConflict.
	ReplaceAPI(ctx context.Context, a apis.API, version int64) (apis.API, error)
	// DeleteAPI removes an API and frees its identifier; its names stay
	// reserved. ErrNotFound.
	DeleteAPI(ctx context.Context, tenant, id string) error
	// ListAPIs returns all of a tenant's registered APIs by id, strongly
	// consistent, in one read.
	ListAPIs(ctx context.Context, tenant string) ([]apis.API, error)
}

// NameConflict is the ErrConflict of an API write: the names (as "scope
// x", "action y" or "identifier z") that another API holds.
type NameConflict struct{ Names []string }

func (e *NameConflict) Error() string {
	return ErrConflict.Error() + ": " + strings.Join(e.Names, ", ")
}

// Is makes a NameConflict ErrConflict.
func (e *NameConflict) Is(target error) bool { return target == ErrConflict }

// Store is all of the storage the functions use, as one implementation
// (store/dynamo) provides it.
type Store interface {
	Tenants
	Clients
	Secrets
	Keys
	FederatedCredentials
	Assertions
	Revocations
	Credentials
	Uses
	Lockouts
	Policies
	Groups
	Subjects
	APIs
}

// CreateWithNewID calls create with a fresh random id, and again with
// another one should the id already be taken (ErrConflict), which with
// 122 random bits only a broken random source would cause. It returns the id
// that was stored.
func CreateWithNewID(create func(id string) error) (string, error) {
	var err error
	for range 3 {
		newID := id.New()
		if err = create(newID); !errors.Is(err, ErrConflict) {
			return newID, err
		}
	}
	return "", fault.Unavailable("create", err)
}
