package tokenapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// discoveryDocument is the RFC 8414 / OIDC Discovery metadata. The OIDC
// members about ID tokens are present because common OIDC libraries require
// them; this service issues access tokens only.
type discoveryDocument struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionAuthMethods          []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationAuthMethods             []string `json:"revocation_endpoint_auth_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (s *Service) discovery(w http.ResponseWriter, r *http.Request) error {
	ten, ok := pathTenant(r)
	if !ok {
		return errNoTenant
	}
	if ten != tenant.Default {
		exists, err := s.Tenants.TenantExists(r.Context(), ten)
		if err != nil {
			return err
		}
		if !exists {
			return errNoTenant
		}
	}
	keys, err := s.Keys.Keys(r.Context())
	if err != nil {
		return err
	}
	algs := []string{}
	for _, k := range keys {
		if !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	reg, err := s.Catalogs.For(r.Context(), ten)
	if err != nil {
		return err
	}
	base := s.IssuerBase(r)
	iss := tenant.Issuer(base, ten)
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpapi.WriteJSON(w, http.StatusOK, discoveryDocument{
		Issuer:                            iss,
		TokenEndpoint:                     tenant.TokenEndpoint(iss),
		JWKSURI:                           strings.TrimSuffix(base, "/") + "/.well-known/jwks.json",
		ScopesSupported:                   reg.Discoverable(),
		GrantTypesSupported:               []string{client.GrantClientCredentials},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgs:      []string{"RS256", "PS256", "ES256"},
		IntrospectionEndpoint:             iss + "/connect/introspect",
		IntrospectionAuthMethods:          authMethods,
		RevocationEndpoint:                iss + "/connect/revocation",
		RevocationAuthMethods:             authMethods,
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  algs,
		ClaimsSupported:                   []string{"iss", "sub", "aud", "client_id", "scope", "tid", "iat", "nbf", "exp", "jti"},
	})
	return nil
}

func (s *Service) jwks(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.Keys.Keys(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpapi.WriteJSON(w, http.StatusOK, signer.JWKS(keys))
	return nil
}
