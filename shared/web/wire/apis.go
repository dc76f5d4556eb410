package wire

// APIScope is an OAuth scope of an API.
type APIScope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// APIAction is an IAM action of an API; Parent is absent (or null) for an
// action directly under the root.
type APIAction struct {
	Action      string  `json:"action"`
	Parent      *string `json:"parent,omitempty"`
	Description string  `json:"description"`
}

// APIRequest is the body that registers or replaces an API. On a replace
// the identifier may be left out; if given it must be the API's.
type APIRequest struct {
	Identifier   *string      `json:"identifier"`
	Name         *string      `json:"name"`
	Description  *string      `json:"description,omitempty"`
	Discoverable *bool        `json:"discoverable,omitempty"`
	Scopes       *[]APIScope  `json:"scopes,omitempty"`
	Actions      *[]APIAction `json:"actions,omitempty"`
	// Provenance, on a create, is the path it comes through (absent for
	// the API); the server records the creator beside it.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// API is a registered API, or one the deployment declares (builtin, with
// a fixed id and no times).
type API struct {
	APIID        string      `json:"apiId"`
	Identifier   string      `json:"identifier"`
	Name         string      `json:"name"`
	Description  string      `json:"description"`
	Discoverable bool        `json:"discoverable"`
	Scopes       []APIScope  `json:"scopes"`
	Actions      []APIAction `json:"actions"`
	Builtin      bool        `json:"builtin"`
	Provenance   *Provenance `json:"provenance,omitempty"`
	CreatedAt    string      `json:"createdAt,omitempty"`
	UpdatedAt    string      `json:"updatedAt,omitempty"`
}

// APIList is the APIs listing (envelope A).
type APIList struct {
	Items    []API        `json:"items"`
	Metadata PageMetadata `json:"metadata"`
	Links    Links        `json:"links"`
}

// DecisionRequest asks whether a token's subject, or a subject, may do
// each of Checks.
type DecisionRequest struct {
	Token   *string          `json:"token,omitempty"`
	Subject *string          `json:"subject,omitempty"`
	Checks  *[]DecisionCheck `json:"checks"`
}

// DecisionCheck is one action on one resource scope.
type DecisionCheck struct {
	Action *string `json:"action"`
	Scope  *string `json:"scope"`
}

// DecisionAnswer is the answer to one check, in the order asked.
type DecisionAnswer struct {
	Action  string `json:"action"`
	Scope   string `json:"scope"`
	Allowed bool   `json:"allowed"`
}

// Decisions answers a DecisionRequest. TTL is how many seconds the answer
// may be cached. For an active token it also gives the token's aud, scope,
// client_id and exp (aud always as an array).
type Decisions struct {
	Subject   string           `json:"subject,omitempty"`
	Active    bool             `json:"active"`
	Decisions []DecisionAnswer `json:"decisions"`
	TTL       int64            `json:"ttl"`
	Aud       []string         `json:"aud,omitempty"`
	Scope     string           `json:"scope,omitempty"`
	ClientID  string           `json:"client_id,omitempty"`
	Exp       int64            `json:"exp,omitempty"`
}
