package dynamo

import (
	"context"
	"errors"

	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// CreateTenant implements store.Tenants.
func (s *Store) CreateTenant(ctx context.Context, name string) error {
	return s.putNew(ctx, key(tenantPK(name), skTenant))
}

// TenantExists implements store.Tenants.
func (s *Store) TenantExists(ctx context.Context, name string) (bool, error) {
	_, err := s.getLive(ctx, tenantPK(name), skTenant)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
