package access

import (
	"context"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

// APIReader is the storage a tenant's catalogs are read from.
type APIReader interface {
	ListAPIs(ctx context.Context, tenant string) ([]apis.API, error)
}

// Catalogs gives each tenant what it knows: the deployment's declared APIs
// and the APIs the tenant registered, read afresh on each call (one Query),
// so a change to an API takes effect on the next request.
type Catalogs struct {
	declaration *apis.Declaration
	builtin     *apis.Registry
	store       APIReader
}

// NewCatalogs returns the catalogs of d and the APIs s holds.
func NewCatalogs(d *apis.Declaration, s APIReader) *Catalogs {
	b, err := apis.NewRegistry(d, nil)
	if err != nil {
		panic("access: the declaration is invalid: " + err.Error()) // ParseDeclaration checked it
	}
	return &Catalogs{declaration: d, builtin: b, store: s}
}

// Declaration is the deployment's own APIs.
func (c *Catalogs) Declaration() *apis.Declaration { return c.declaration }

// Builtin is the registry of a tenant without APIs of its own.
func (c *Catalogs) Builtin() *apis.Registry { return c.builtin }

// For returns tenant's registry.
func (c *Catalogs) For(ctx context.Context, tenant string) (*apis.Registry, error) {
	registered, err := c.store.ListAPIs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return apis.NewRegistry(c.declaration, registered)
}

// Actions returns an action catalog that knows every one of names in
// tenant: the declared catalog, without a read, when it holds them all.
func (c *Catalogs) Actions(ctx context.Context, tenant string, names ...string) (*action.Catalog, error) {
	if c.declared(names) {
		return c.builtin.Actions, nil
	}
	r, err := c.For(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return r.Actions, nil
}

func (c *Catalogs) declared(names []string) bool {
	for _, n := range names {
		if !c.builtin.Actions.Has(n) {
			return false
		}
	}
	return true
}

// Scopes returns a scope catalog that knows every one of names in tenant
// that it knows at all: the declared catalog, without a read, when it holds
// them all.
func (c *Catalogs) Scopes(ctx context.Context, tenant string, names ...string) (*oauthscope.Catalog, error) {
	declared := true
	for _, n := range names {
		declared = declared && c.builtin.Scopes.Has(n)
	}
	if declared {
		return c.builtin.Scopes, nil
	}
	r, err := c.For(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return r.Scopes, nil
}
