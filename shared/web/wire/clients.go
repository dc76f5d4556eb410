package wire

// ClientSpec is a client's fields: what a create or replace sends, and the
// body of a Client.
type ClientSpec struct {
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	AllowedGrantTypes []string `json:"allowedGrantTypes"`
	AllowedScopes     []string `json:"allowedScopes"`
	RedirectURIs      []string `json:"redirectUris"`
	// Optional, beyond Aritma's shape (api.md "Tokens for resource
	// servers"): present only when set, so Aritma-shaped clients read as
	// before.
	AllowedAudiences    []string          `json:"allowedAudiences,omitempty"`
	AccessTokenLifetime int               `json:"accessTokenLifetime,omitempty"`
	TokenClaims         map[string]string `json:"tokenClaims,omitempty"`
	// Provenance, on a create, is the path it comes through (absent for
	// the API); on a client, how it was made (absent for clients created
	// before it was recorded). Replaces never send it.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Client is a client as the API answers it.
type Client struct {
	ClientID  string `json:"clientId"`
	SubjectID string `json:"subjectId"`
	ClientSpec
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// ClientCreate is a create body as clients send it: the client's fields
// and, optionally, the id to create it under (generated when absent).
type ClientCreate struct {
	ClientID string `json:"clientId,omitempty"`
	ClientSpec
}

// ClientRequest is a create or replace body as the server reads it:
// ClientCreate with pointers, since every member but the optional ones is
// required. An optional member absent on a replace means none; provenance
// is accepted on a create only, and clientId on a replace only when it is
// the client's own. TestRequestsMatchWhatIsSent keeps the two alike.
type ClientRequest struct {
	ClientID            *string           `json:"clientId,omitempty"`
	Name                *string           `json:"name"`
	Description         *string           `json:"description"`
	AllowedGrantTypes   *[]string         `json:"allowedGrantTypes"`
	AllowedScopes       *[]string         `json:"allowedScopes"`
	RedirectURIs        *[]string         `json:"redirectUris"`
	AllowedAudiences    []string          `json:"allowedAudiences,omitempty"`
	AccessTokenLifetime *int              `json:"accessTokenLifetime,omitempty"`
	TokenClaims         map[string]string `json:"tokenClaims,omitempty"`
	Provenance          *Provenance       `json:"provenance,omitempty"`
}

// ClientList is the clients listing (envelope A of api.md).
type ClientList struct {
	Items    []Client     `json:"items"`
	Metadata PageMetadata `json:"metadata"`
	Links    Links        `json:"links"`
}

// PageMetadata is where a page of envelope A stands.
type PageMetadata struct {
	Page       int `json:"page"`
	PageSize   int `json:"pageSize"`
	TotalCount int `json:"totalCount"`
}

// Links are envelope A's links to other pages; null where there is none.
type Links struct {
	First    *string `json:"first"`
	Previous *string `json:"previous"`
	Next     *string `json:"next"`
	Last     *string `json:"last"`
}

// UnlockRequest is an unlock's optional body: the address whose failed
// authentications are forgotten (all addresses' when absent).
type UnlockRequest struct {
	Address *string `json:"address,omitempty"`
}
