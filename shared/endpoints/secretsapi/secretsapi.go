// Package secretsapi is the http.Handler of the secrets function: list,
// create and delete the secrets of a client. A secret's value appears in
// exactly one response, the one that creates it; only its argon2id hash is
// stored.
package secretsapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// IAM actions of the routes.
const (
	ActionRead   = "iam.secret.read"
	ActionCreate = "iam.secret.create"
	ActionDelete = "iam.secret.delete"
	// ActionImport is the import of a value another server issued: its
	// own action, so that the 8-32 rule of ordinary secrets holds for
	// everyone not explicitly allowed to migrate.
	ActionImport = "iam.secret.import"
)

// Store is the storage the function uses.
type Store interface {
	store.Secrets
	store.Keys
	store.FederatedCredentials
}

// Service is what the secrets function needs: client secrets and client
// keys, the two kinds of client credential.
type Service struct {
	Secrets Store
	Hasher  secret.Hasher
	// Tags tags new secrets (nil: no tag key).
	Tags  *secret.Tagger
	Guard *access.Guard
	Now   func() time.Time
	// IssuerBase is the deployment's issuer base, which federated
	// credentials are checked against; AllowLocalIssuers admits http
	// issuers (local development only).
	IssuerBase        func(*http.Request) string
	AllowLocalIssuers bool
}

// New is the handler of the secrets function.
func New(d *app.Deps) *app.Handler {
	s := &Service{Secrets: d.Store, Hasher: d.Hasher, Tags: d.Tags, Guard: d.Guard(), Now: d.Now,
		IssuerBase: d.IssuerBase, AllowLocalIssuers: d.Config.Federation.AllowLocalIssuers}
	return d.Instrument(s.Handler())
}

// Handler returns the function's routes, each behind its permission.
func (s *Service) Handler() *httpapi.Router {
	owner := func(r *http.Request) string { return "/clients/" + r.PathValue("clientId") }
	guard := func(action string, h httpapi.HandlerFunc) http.Handler {
		return s.Guard.Require(action, owner, h)
	}
	rt := httpapi.NewRouter()
	rt.Route("/v1/clients/{clientId}/secrets", httpapi.Methods{
		http.MethodGet:  guard(ActionRead, s.list),
		http.MethodPost: guard(ActionCreate, s.create),
	})
	rt.Route("/v1/clients/{clientId}/secrets/import", httpapi.Methods{
		http.MethodPost: guard(ActionImport, s.importSecret),
	})
	rt.Route("/v1/clients/{clientId}/secrets/{secretId}", httpapi.Methods{
		http.MethodDelete: guard(ActionDelete, s.delete),
	})
	// A key is a credential: the same actions as secrets.
	rt.Route("/v1/clients/{clientId}/keys", httpapi.Methods{
		http.MethodGet:  guard(ActionRead, s.listKeys),
		http.MethodPost: guard(ActionCreate, s.createKey),
	})
	rt.Route("/v1/clients/{clientId}/keys/{keyId}", httpapi.Methods{
		http.MethodDelete: guard(ActionDelete, s.deleteKey),
	})
	// So is a federated credential.
	rt.Route("/v1/clients/{clientId}/federated-credentials", httpapi.Methods{
		http.MethodGet:  guard(ActionRead, s.listFederated),
		http.MethodPost: guard(ActionCreate, s.createFederated),
	})
	rt.Route("/v1/clients/{clientId}/federated-credentials/{credentialId}", httpapi.Methods{
		http.MethodDelete: guard(ActionDelete, s.deleteFederated),
	})
	return rt
}

// wireTime is t in RFC 3339, UTC; nil for nil.
func wireTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// toResponse is sec on the wire.
func (s *Service) toResponse(sec secret.Secret) wire.Secret {
	out := wire.Secret{ID: sec.ID, Description: sec.Description,
		CreatedAt: sec.CreatedAt.UTC().Format(time.RFC3339), Expired: sec.ExpiredAt(s.Now())}
	out.Expiration, out.LastUsedAt = wireTime(sec.Expiration), wireTime(sec.LastUsedAt)
	return out
}

// clientID reads {clientId}: a well-formed id, or ErrNotFound, as for any
// id that names no client.
func clientID(r *http.Request) (string, error) {
	cid := r.PathValue("clientId")
	if !subject.ValidClientID(cid) {
		return "", httpapi.About(store.ErrNotFound, "client")
	}
	return cid, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	return writeCredentials(w, r, s.Secrets.ListSecrets, s.toResponse)
}

// writeCredentials answers the list of one kind of credential of the
// path's client, read by read and shown by show.
func writeCredentials[T, W any](w http.ResponseWriter, r *http.Request, read func(ctx context.Context, tenant, clientID string) ([]T, error), show func(T) W) error {
	cid, err := clientID(r)
	if err != nil {
		return err
	}
	found, err := read(r.Context(), access.TenantOf(r), cid)
	if err != nil {
		return httpapi.About(err, "client")
	}
	items := make([]W, len(found))
	for i, c := range found {
		items[i] = show(c)
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.List[W]{Items: items})
	return nil
}

// readCreate reads a create request: the path's client and the body.
func readCreate[T any](w http.ResponseWriter, r *http.Request) (string, T, error) {
	var req T
	cid, err := clientID(r)
	if err != nil {
		return "", req, err
	}
	err = httpapi.DecodeJSON(w, r, &req)
	return cid, req, err
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	return s.addSecret(w, r, ActionCreate, secret.Spec.Validate)
}

// importSecret stores a value another server issued, so that a migrated
// client keeps working with the secret it has: the same as a create but
// for the longer values it accepts, under its own action and audit line.
// The value is not echoed back: the caller has it already.
func (s *Service) importSecret(w http.ResponseWriter, r *http.Request) error {
	return s.addSecret(w, r, ActionImport, secret.Spec.ValidateImported)
}

// addSecret creates a secret from the request body, checked by validate, and
// notes it in the audit line as action.
func (s *Service) addSecret(w http.ResponseWriter, r *http.Request, action string, validate func(secret.Spec, time.Time) map[string][]string) error {
	cid, req, err := readCreate[wire.SecretRequest](w, r)
	if err != nil {
		return err
	}
	spec, err := s.spec(req, validate)
	if err != nil {
		return err
	}
	if err := s.mayCreateCredential(r, cid); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(spec.Value)
	if err != nil {
		return err
	}
	sec := secret.Secret{ID: id.New(), Description: spec.Description, Expiration: spec.Expiration,
		CreatedAt: s.Now().UTC().Truncate(time.Second)}
	err = s.Secrets.CreateSecret(r.Context(), access.TenantOf(r), cid,
		secret.Hashed{Secret: sec, Hash: hash, Tag: s.Tags.Tag(access.TenantOf(r), cid, spec.Value)}, secret.MaxPerClient)
	if errors.Is(err, store.ErrLimitExceeded) {
		return httpapi.Detailed(err, store.ErrLimitExceeded, "A client may have at most "+strconv.Itoa(secret.MaxPerClient)+" secrets; delete one first.")
	}
	if err != nil {
		return httpapi.About(err, "client")
	}
	audit.Note(r.Context(), action, "/clients/"+cid+"/secrets/"+sec.ID)
	w.Header().Set("Location", "/v1/clients/"+cid+"/secrets/"+sec.ID)
	if action == ActionImport {
		httpapi.WriteJSON(w, http.StatusCreated, s.toResponse(sec))
		return nil
	}
	httpapi.WriteJSON(w, http.StatusCreated, wire.CreatedSecret{Secret: s.toResponse(sec), Value: spec.Value})
	return nil
}

// mayCreateCredential applies the no-escalation rule to a new credential:
// one for another client lets the caller act as that client, so the caller
// must hold everything that client holds. Every credential type (secrets,
// keys) goes through here.
func (s *Service) mayCreateCredential(r *http.Request, clientID string) error {
	target := subject.ID(subject.Client, clientID)
	return s.Guard.RequireHoldsSubject(r.Context(), "create a credential for "+target, target)
}

func (s *Service) spec(req wire.SecretRequest, validate func(secret.Spec, time.Time) map[string][]string) (secret.Spec, error) {
	f := httpapi.Fields{}
	f.Required("value", req.Value != nil)
	f.Required("description", req.Description != nil)
	exp := expiration(f, req.Expiration)
	if err := f.Err(); err != nil {
		return secret.Spec{}, err
	}
	spec := secret.Spec{Value: *req.Value, Description: *req.Description, Expiration: exp}
	f.Merge(validate(spec, s.Now()))
	return spec, f.Err()
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	return s.deleteCredential(w, r, "secretId", "No secret with that id exists for that client.", s.Secrets.DeleteSecret)
}

// deleteCredential deletes the credential (secret or key) the path names
// by param. Deleting another client's credential can take away its only
// way to use what it holds, so the caller must hold all of it.
func (s *Service) deleteCredential(w http.ResponseWriter, r *http.Request, param, notFound string,
	del func(ctx context.Context, tenant, clientID, credentialID string) error) error {
	cid, credID := r.PathValue("clientId"), r.PathValue(param)
	if !subject.ValidClientID(cid) || !id.Valid(credID) {
		return httpapi.Detailed(store.ErrNotFound, store.ErrNotFound, notFound)
	}
	target := subject.ID(subject.Client, cid)
	if err := s.Guard.RequireHoldsSubject(r.Context(), "delete a credential of "+target, target); err != nil {
		return err
	}
	if err := del(r.Context(), access.TenantOf(r), cid, credID); err != nil {
		return httpapi.Detailed(err, store.ErrNotFound, notFound)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// expiration reads a credential's optional expiration, recording in f what
// is wrong with it.
func expiration(f httpapi.Fields, raw *string) *time.Time {
	if raw == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339, *raw)
	if err != nil {
		f.Add("expiration", "must be an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z")
		return nil
	}
	t = t.UTC()
	return &t
}
