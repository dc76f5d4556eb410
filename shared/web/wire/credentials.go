package wire

import "encoding/json"

// Secret is a client secret as listed: it has no member for the value's
// hash, and the value itself appears only in CreatedSecret.
type Secret struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	Expiration  *string `json:"expiration"`
	CreatedAt   string  `json:"createdAt"`
	Expired     bool    `json:"expired"`
	// LastUsedAt is when the secret last authenticated its client (to
	// within an hour); null when it has not since it was created.
	LastUsedAt *string `json:"lastUsedAt"`
}

// CreatedSecret is the one answer that carries a secret's value.
type CreatedSecret struct {
	Secret
	Value string `json:"value"`
}

// SecretRequest is a secret's create body; expiration is optional.
type SecretRequest struct {
	Value       *string `json:"value"`
	Description *string `json:"description"`
	Expiration  *string `json:"expiration,omitempty"`
}

// Key is a client's registered public key (private_key_jwt).
type Key struct {
	ID          string  `json:"id"`
	Kid         string  `json:"kid"`
	Alg         string  `json:"alg,omitempty"`
	Description string  `json:"description"`
	Expiration  *string `json:"expiration"`
	CreatedAt   string  `json:"createdAt"`
	Expired     bool    `json:"expired"`
	// LastUsedAt is when the key last authenticated its client (to within
	// an hour); null when it has not since it was created.
	LastUsedAt *string `json:"lastUsedAt"`
}

// KeyRequest is a key's create body: a public JWK; expiration is optional.
type KeyRequest struct {
	JWK         json.RawMessage `json:"jwk"`
	Description *string         `json:"description"`
	Expiration  *string         `json:"expiration,omitempty"`
}

// FederatedCredential is a client's federated credential: an OIDC issuer's
// tokens or AWS callers it accepts instead of a secret. Members of the
// other type are absent.
type FederatedCredential struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	Issuer      string            `json:"issuer,omitempty"`
	Subject     string            `json:"subject,omitempty"`
	Audience    string            `json:"audience,omitempty"`
	Claims      map[string]string `json:"claims,omitempty"`
	JWKS        json.RawMessage   `json:"jwks,omitempty"`
	Principal   string            `json:"principal,omitempty"`
	RoleID      string            `json:"roleId,omitempty"`
	Description string            `json:"description"`
	CreatedAt   string            `json:"createdAt"`
	// LastUsedAt is when the credential last authenticated its client (to
	// within an hour); null when it has not since it was created.
	LastUsedAt *string `json:"lastUsedAt"`
}

// FederatedCredentialRequest is a federated credential's create body.
type FederatedCredentialRequest struct {
	Type        *string           `json:"type"`
	Issuer      string            `json:"issuer,omitempty"`
	Subject     string            `json:"subject,omitempty"`
	Audience    string            `json:"audience,omitempty"`
	Claims      map[string]string `json:"claims,omitempty"`
	JWKS        json.RawMessage   `json:"jwks,omitempty"`
	Principal   string            `json:"principal,omitempty"`
	RoleID      string            `json:"roleId,omitempty"`
	Description *string           `json:"description"`
}
