// Package operator creates a tenant with its first administrator (a client
// allowed the services.iam scope, holding owner on the tenant root /, with
// one generated secret), and recovers a tenant with a fresh one. Tenants are
// never created, nor owners restored, over HTTP; operators run this through
// iamctl (and `make run` does it for the default tenant).
package operator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// Store is what bootstrapping writes to.
type Store interface {
	store.Tenants
	store.Clients
	store.Secrets
	store.Policies
}

// Result is what an operator needs to start using the tenant. It is the one
// place, besides a secret's creation response, that shows a secret value.
type Result struct {
	// BaseURL, Tenant, ClientID and ClientSecret make Result an iamctl
	// profile.
	BaseURL       string `json:"baseUrl"`
	Tenant        string `json:"tenant"`
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"tokenEndpoint"`
}

// ErrTenantExists is returned when the tenant was bootstrapped before.
var ErrTenantExists = errors.New("tenant exists already")

// Operator is what operator commands act with: the table (with AWS
// credentials, not through the API), the hasher of the secrets they make,
// the issuer base URL their results name, and the time.
type Operator struct {
	Store      Store
	Hasher     secret.Hasher
	IssuerBase string
	Now        time.Time
}

// Bootstrap creates tenant name and its admin client. The tenant record is
// written last and conditionally, so a crash or a concurrent run never leaves
// a tenant whose admin credentials nobody received; an admin client left by
// such a failure has a secret nobody knows.
func (o Operator) Bootstrap(ctx context.Context, name string) (Result, error) {
	st := o.Store
	if !tenant.Valid(name) {
		return Result{}, fmt.Errorf("tenant name %q must be 1-63 characters of a-z, 0-9 and '-'", name)
	}
	if tenant.Reserved(name) {
		return Result{}, fmt.Errorf("tenant name %q is reserved: it is a path word of the service (reserved: %s); choose another name",
			name, strings.Join(tenant.ReservedWords, ", "))
	}
	if exists, err := st.TenantExists(ctx, name); err != nil {
		return Result{}, err
	} else if exists {
		return Result{}, ErrTenantExists
	}
	res, err := o.newOwner(ctx, name, "Tenant administrator", "Created by iamctl bootstrap; holds the tenant's management rights.")
	if err != nil {
		return Result{}, err
	}
	if err := st.CreateTenant(ctx, name); err != nil {
		_ = st.DeleteClient(ctx, name, res.ClientID)
		if errors.Is(err, store.ErrConflict) {
			return Result{}, ErrTenantExists
		}
		return Result{}, err
	}
	return res, nil
}

// ErrNoTenant is returned when recovering a tenant that was never created.
var ErrNoTenant = errors.New("no such tenant")

// Recover gives an existing tenant a fresh owner client, for an operator
// whose tenant lost its last usable owner (a leaked or forgotten secret, a
// deleted admin client's successor removed): the way back that the HTTP API
// deliberately does not offer. Nothing else of the tenant changes.
func (o Operator) Recover(ctx context.Context, name string) (Result, error) {
	if exists, err := o.Store.TenantExists(ctx, name); err != nil {
		return Result{}, err
	} else if !exists {
		return Result{}, ErrNoTenant
	}
	return o.newOwner(ctx, name, "Recovered administrator", "Created by iamctl recover; holds the tenant's management rights.")
}

// newOwner creates a client allowed services.iam, holding owner on /, with
// one generated secret, and returns its credentials.
func (o Operator) newOwner(ctx context.Context, ten, name, description string) (Result, error) {
	st, hasher, issuerBase, now := o.Store, o.Hasher, o.IssuerBase, o.Now.UTC().Truncate(time.Second)
	admin := client.Client{
		Tenant: ten, ID: id.New(),
		Spec: client.Spec{Name: name, Description: description, GrantTypes: []string{client.GrantClientCredentials},
			Scopes: []string{oauthscope.IAM}, RedirectURIs: []string{}},
		CreatedAt: now, UpdatedAt: now, Version: 1,
		Provenance: provenance.Record{CreatedBy: provenance.Operator, Label: provenance.Label{Via: provenance.ViaOperator}},
	}
	if err := st.CreateClient(ctx, admin); err != nil {
		return Result{}, err
	}
	// 26 characters of base32, 130 bits: inside the API's 8-32 limit.
	value := rand.Text()
	hash, err := hasher.Hash(value)
	if err != nil {
		return Result{}, err
	}
	sec := secret.Hashed{Secret: secret.Secret{ID: id.New(), Description: "Generated secret", CreatedAt: now}, Hash: hash}
	if err := st.CreateSecret(ctx, ten, admin.ID, sec, secret.MaxPerClient); err != nil {
		return Result{}, err
	}
	owner := policy.Policy{Subject: admin.SubjectID(), Action: action.Owner, Scope: resource.Root, CreatedAt: now}
	if _, _, err := st.PutPolicy(ctx, ten, owner); err != nil {
		return Result{}, err
	}
	iss := tenant.Issuer(issuerBase, ten)
	return Result{BaseURL: strings.TrimSuffix(issuerBase, "/"), Tenant: ten, ClientID: admin.ID, ClientSecret: value, Issuer: iss, TokenEndpoint: tenant.TokenEndpoint(iss)}, nil
}
