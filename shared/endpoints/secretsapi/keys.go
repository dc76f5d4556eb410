package secretsapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/audit"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// toKeyResponse is k on the wire.
func (s *Service) toKeyResponse(k clientkey.Key) wire.Key {
	out := wire.Key{ID: k.ID, Kid: k.Kid, Alg: k.Alg, Description: k.Description,
		CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339), Expired: k.ExpiredAt(s.Now())}
	out.Expiration, out.LastUsedAt = wireTime(k.Expiration), wireTime(k.LastUsedAt)
	return out
}

func (s *Service) listKeys(w http.ResponseWriter, r *http.Request) error {
	return writeCredentials(w, r, s.Secrets.ListKeys, s.toKeyResponse)
}

func (s *Service) createKey(w http.ResponseWriter, r *http.Request) error {
	cid, req, err := readCreate[wire.KeyRequest](w, r)
	if err != nil {
		return err
	}
	f := httpapi.Fields{}
	f.Required("jwk", len(req.JWK) > 0 && string(req.JWK) != "null")
	f.Required("description", req.Description != nil)
	exp := expiration(f, req.Expiration)
	if err := f.Err(); err != nil {
		return err
	}
	k, problems := clientkey.Spec{JWK: req.JWK, Description: *req.Description, Expiration: exp}.Parse(s.Now())
	f.Merge(problems)
	if err := f.Err(); err != nil {
		return err
	}
	if err := s.mayCreateCredential(r, cid); err != nil {
		return err
	}
	k.ID, k.CreatedAt = id.New(), s.Now().UTC().Truncate(time.Second)
	err = s.Secrets.CreateKey(r.Context(), access.TenantOf(r), cid, k, clientkey.MaxPerClient)
	switch {
	case errors.Is(err, store.ErrLimitExceeded):
		return httpapi.Detailed(err, store.ErrLimitExceeded, "A client may have at most "+strconv.Itoa(clientkey.MaxPerClient)+" keys; delete one first.")
	case errors.Is(err, store.ErrConflict):
		return httpapi.Detailed(err, store.ErrConflict, "The client has a key with this kid already.")
	case err != nil:
		return httpapi.About(err, "client")
	}
	audit.Note(r.Context(), ActionCreate, "/clients/"+cid+"/keys/"+k.ID)
	w.Header().Set("Location", "/v1/clients/"+cid+"/keys/"+k.ID)
	httpapi.WriteJSON(w, http.StatusCreated, s.toKeyResponse(k))
	return nil
}

func (s *Service) deleteKey(w http.ResponseWriter, r *http.Request) error {
	return s.deleteCredential(w, r, "keyId", "No key with that id exists for that client.", s.Secrets.DeleteKey)
}
