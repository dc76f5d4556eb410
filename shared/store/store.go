// Package store declares what the service needs from storage, as small
// interfaces per aggregate, and the sentinel errors every implementation
// returns. Implementations: store/dynamo. Any other failure of an
// implementation wraps fault.ErrUnavailable.
package store

import (
	"context"
	"errors"

	"github.com/machine-iam/machine-iam/shared/client"
	"github.com/machine-iam/machine-iam/shared/secret"
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
)

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
	// ReplaceClient overwrites the fields of an existing client and returns
	// it with its new version. When ifVersion is not 0 the write happens
	// only if the stored version is ifVersion, else ErrVersionMismatch.
	// ErrNotFound.
	ReplaceClient(ctx context.Context, c client.Client, ifVersion int64) (client.Client, error)
	// DeleteClient deletes a client and everything in its partition. It is
	// crash-safe and idempotent: the client stops existing for every reader
	// (and every token request) in the first write, and a repeated call
	// finishes a cascade an earlier one left half done. ErrNotFound when
	// nothing is left to delete.
	DeleteClient(ctx context.Context, tenant, id string) error
	// ListClients returns every client of a tenant, ordered by name
	// (case-insensitively) and then id.
	ListClients(ctx context.Context, tenant string) ([]client.Client, error)
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

// Credentials is what the token endpoint reads.
type Credentials interface {
	// GetCredentials returns a client with its hashed secrets in one
	// strongly consistent read; ErrNotFound.
	GetCredentials(ctx context.Context, tenant, clientID string) (client.Client, []secret.Hashed, error)
}
