package secretsapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// toFederatedResponse is c on the wire.
func toFederatedResponse(c federation.Credential) wire.FederatedCredential {
	return wire.FederatedCredential{ID: c.ID, Type: c.Type, Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience,
		Claims: c.Claims, JWKS: c.JWKS, Principal: c.Principal, RoleID: c.RoleID, Description: c.Description,
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339), LastUsedAt: wireTime(c.LastUsedAt)}
}

func (s *Service) listFederated(w http.ResponseWriter, r *http.Request) error {
	return writeCredentials(w, r, s.Secrets.ListFederatedCredentials, toFederatedResponse)
}

func (s *Service) createFederated(w http.ResponseWriter, r *http.Request) error {
	cid, req, err := readCreate[wire.FederatedCredentialRequest](w, r)
	if err != nil {
		return err
	}
	f := httpapi.Fields{}
	f.Required("type", req.Type != nil)
	f.Required("description", req.Description != nil)
	if err := f.Err(); err != nil {
		return err
	}
	spec := federation.Spec{Type: *req.Type, Issuer: req.Issuer, Subject: req.Subject, Audience: req.Audience,
		Claims: req.Claims, JWKS: req.JWKS, Principal: req.Principal, RoleID: req.RoleID, Description: *req.Description}
	d := federation.Deployment{IssuerBase: s.IssuerBase(r), Tenant: access.TenantOf(r), AllowLocalIssuers: s.AllowLocalIssuers}
	c, problems := spec.Parse(d)
	f.Merge(problems)
	if err := f.Err(); err != nil {
		return err
	}
	if err := s.mayCreateCredential(r, cid); err != nil {
		return err
	}
	c.ID, c.CreatedAt = id.New(), s.Now().UTC().Truncate(time.Second)
	err = s.Secrets.CreateFederatedCredential(r.Context(), d.Tenant, cid, c, federation.MaxPerClient)
	switch {
	case errors.Is(err, store.ErrLimitExceeded):
		return httpapi.Detailed(err, store.ErrLimitExceeded, "A client may have at most "+strconv.Itoa(federation.MaxPerClient)+" federated credentials; delete one first.")
	case err != nil:
		return httpapi.About(err, "client")
	}
	audit.Note(r.Context(), ActionCreate, "/clients/"+cid+"/federated-credentials/"+c.ID)
	w.Header().Set("Location", "/v1/clients/"+cid+"/federated-credentials/"+c.ID)
	httpapi.WriteJSON(w, http.StatusCreated, toFederatedResponse(c))
	return nil
}

func (s *Service) deleteFederated(w http.ResponseWriter, r *http.Request) error {
	return s.deleteCredential(w, r, "credentialId", "No federated credential with that id exists for that client.", s.Secrets.DeleteFederatedCredential)
}
