// Package apiclient is a Go client of the service's HTTP API (docs/openapi.yaml),
// authenticated as a client of one tenant by the client_credentials grant.
// iamctl and the CloudFormation provisioning function use it, so everything
// they do passes the same authorization checks as any other caller.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// Credentials name the service and the client to act as.
type Credentials struct {
	// BaseURL is the service's base URL (the issuer base, without the
	// tenant), e.g. https://id.example.com.
	BaseURL      string `json:"baseUrl"`
	Tenant       string `json:"tenant"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// TokenEndpoint is the tenant's token endpoint.
func (c Credentials) TokenEndpoint() string {
	return tenant.TokenEndpoint(tenant.Issuer(c.BaseURL, c.Tenant))
}

// Check reports the first missing field.
func (c Credentials) Check() error {
	for _, f := range []struct{ name, value string }{
		{"base URL", c.BaseURL}, {"tenant", c.Tenant}, {"client id", c.ClientID}, {"client secret", c.ClientSecret},
	} {
		if f.value == "" {
			return fmt.Errorf("no %s", f.name)
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base URL %q is not an http(s) URL", c.BaseURL)
	}
	return nil
}

// Client calls the API. It fetches an access token with the services.iam
// scope on first use and again shortly before it expires.
type Client struct {
	base    string
	tenant  string
	subject string
	http    *http.Client
}

// New returns a Client acting as creds. hc carries timeouts and transport; nil
// means a client with a 30 s timeout.
func New(ctx context.Context, creds Credentials, hc *http.Client) (*Client, error) {
	if err := creds.Check(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	cc := clientcredentials.Config{
		ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		TokenURL: creds.TokenEndpoint(), Scopes: []string{"services.iam"},
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	authed := cc.Client(ctx)
	authed.Timeout = hc.Timeout
	return &Client{base: strings.TrimSuffix(creds.BaseURL, "/"), tenant: creds.Tenant, subject: subject.ID(subject.Client, creds.ClientID),
		http: authed}, nil
}

// Tenant is the tenant the client acts in.
func (c *Client) Tenant() string { return c.tenant }

// Subject is the subject id of the client it acts as: the creator the
// server records for what it creates.
func (c *Client) Subject() string { return c.subject }

// Error is an answer other than success: a problem+json document, or the
// OAuth error of the token endpoint when the credentials were refused.
type Error struct {
	Status int
	Type   string
	Title  string
	Detail string
	// Fields holds the messages of a validation problem, by field.
	Fields map[string][]string
}

func (e *Error) Error() string {
	msg := e.Title
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	for _, f := range slices.Sorted(maps.Keys(e.Fields)) {
		msg += fmt.Sprintf("; %s: %s", f, strings.Join(e.Fields[f], ", "))
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

// StatusOf returns the HTTP status of an *Error in err's chain, else 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// call sends a JSON body (when in is not nil) and decodes a JSON answer into
// out (when not nil). It returns the answer's headers.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any, header http.Header) (http.Header, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return resp.Header, problemOf(resp, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: unreadable answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func problemOf(resp *http.Response, raw []byte) error {
	e := &Error{Status: resp.StatusCode}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); strings.HasSuffix(mt, "json") {
		var p struct {
			Type, Title, Detail string
			Errors              map[string][]string
			Error               string `json:"error"`
			Description         string `json:"error_description"`
		}
		if json.Unmarshal(raw, &p) == nil {
			e.Type, e.Title, e.Detail, e.Fields = p.Type, p.Title, p.Detail, p.Errors
			if p.Error != "" {
				e.Title, e.Detail = p.Error, p.Description
			}
		}
	}
	return e
}

// esc escapes one path segment; dots too, so that no id can be "." or ".."
// and step out of the path it belongs to.
func esc(s string) string { return strings.ReplaceAll(url.PathEscape(s), ".", "%2E") }

// ClientSpec is a client's create and replace body.
type ClientSpec struct {
	Name                string            `json:"name"`
	Description         string            `json:"description"`
	AllowedGrantTypes   []string          `json:"allowedGrantTypes"`
	AllowedScopes       []string          `json:"allowedScopes"`
	RedirectURIs        []string          `json:"redirectUris"`
	AllowedAudiences    []string          `json:"allowedAudiences,omitempty"`
	AccessTokenLifetime int               `json:"accessTokenLifetime,omitempty"`
	TokenClaims         map[string]string `json:"tokenClaims,omitempty"`
	// Provenance, on a create, is the path it comes through (the server
	// records the creator itself); on a record, how the client was made.
	// Replaces never send it.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Provenance is how a client or group was made: CreatedBy is the subject
// whose token created it, recorded by the server; Via is "api", "apply",
// "stack" or "operator", with the document and declared name of an apply
// or the stack and logical id of a stack.
type Provenance struct {
	CreatedBy string `json:"createdBy,omitempty"`
	Via       string `json:"via,omitempty"`
	Document  string `json:"document,omitempty"`
	Name      string `json:"name,omitempty"`
	StackID   string `json:"stackId,omitempty"`
	LogicalID string `json:"logicalId,omitempty"`
}

// Record is p as the provenance package holds it; the zero record for an
// object made before provenance was recorded.
func (p *Provenance) Record() provenance.Record {
	if p == nil {
		return provenance.Record{}
	}
	return provenance.Record{CreatedBy: p.CreatedBy, Label: provenance.Label{Via: p.Via, Document: p.Document, Name: p.Name,
		StackID: p.StackID, LogicalID: p.LogicalID}}
}

// ClientRecord is a stored client.
type ClientRecord struct {
	ClientSpec
	ClientID  string `json:"clientId"`
	SubjectID string `json:"subjectId"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	// ETag is the version the record was read at, for ReplaceClient.
	ETag string `json:"-"`
}

// ListClients returns every client, or those whose name contains search,
// following the listing's next links.
func (c *Client) ListClients(ctx context.Context, search string) ([]ClientRecord, error) {
	q := url.Values{"pageSize": {"200"}}
	if search != "" {
		q.Set("searchText", search)
	}
	var all []ClientRecord
	path := "/v1/clients"
	for {
		var page struct {
			Items []ClientRecord
			Links struct{ Next *string }
		}
		if _, err := c.call(ctx, http.MethodGet, path, q, nil, &page, nil); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Links.Next == nil {
			return all, nil
		}
		next, err := url.Parse(*page.Links.Next)
		if err != nil {
			return nil, fmt.Errorf("listing clients: bad next link: %w", err)
		}
		path, q = next.Path, next.Query()
	}
}

// GetClient returns one client with its ETag.
func (c *Client) GetClient(ctx context.Context, id string) (ClientRecord, error) {
	var rec ClientRecord
	h, err := c.call(ctx, http.MethodGet, "/v1/clients/"+esc(id), nil, nil, &rec, nil)
	if err == nil {
		rec.ETag = h.Get("ETag")
	}
	return rec, err
}

// CreateClient creates a client.
func (c *Client) CreateClient(ctx context.Context, spec ClientSpec) (ClientRecord, error) {
	var rec ClientRecord
	_, err := c.call(ctx, http.MethodPost, "/v1/clients", nil, spec.wire(), &rec, nil)
	return rec, err
}

// ReplaceClient replaces a client's fields; a non-empty etag makes the
// replace conditional on it (412 when another write came first).
func (c *Client) ReplaceClient(ctx context.Context, id string, spec ClientSpec, etag string) (ClientRecord, error) {
	var h http.Header
	if etag != "" {
		h = http.Header{"If-Match": {etag}}
	}
	var rec ClientRecord
	spec.Provenance = nil
	_, err := c.call(ctx, http.MethodPut, "/v1/clients/"+esc(id), nil, spec.wire(), &rec, h)
	return rec, err
}

// wire fills the lists the API requires present.
func (s ClientSpec) wire() ClientSpec {
	for _, l := range []*[]string{&s.AllowedGrantTypes, &s.AllowedScopes, &s.RedirectURIs} {
		if *l == nil {
			*l = []string{}
		}
	}
	return s
}

// DeleteClient deletes a client with its secrets, keys, policies and
// memberships.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	_, err := c.call(ctx, http.MethodDelete, "/v1/clients/"+esc(id), nil, nil, nil, nil)
	return err
}

// RevokeTokens revokes every token issued to a client so far.
func (c *Client) RevokeTokens(ctx context.Context, id string) error {
	_, err := c.call(ctx, http.MethodPost, "/v1/clients/"+esc(id)+"/revoke-tokens", nil, nil, nil, nil)
	return err
}

// Secret is a client secret as listed; Value is set only in CreateSecret's
// answer.
type Secret struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	Expiration  *string `json:"expiration"`
	CreatedAt   string  `json:"createdAt"`
	Expired     bool    `json:"expired"`
	Value       string  `json:"value,omitempty"`
}

// ListSecrets lists a client's secrets.
func (c *Client) ListSecrets(ctx context.Context, clientID string) ([]Secret, error) {
	var list struct{ Items []Secret }
	_, err := c.call(ctx, http.MethodGet, "/v1/clients/"+esc(clientID)+"/secrets", nil, nil, &list, nil)
	return list.Items, err
}

// CreateSecret adds a secret with value; expiration is optional.
func (c *Client) CreateSecret(ctx context.Context, clientID, value, description string, expiration *time.Time) (Secret, error) {
	body := map[string]string{"value": value, "description": description}
	if expiration != nil {
		body["expiration"] = expiration.UTC().Format(time.RFC3339)
	}
	var s Secret
	_, err := c.call(ctx, http.MethodPost, "/v1/clients/"+esc(clientID)+"/secrets", nil, body, &s, nil)
	return s, err
}

// DeleteSecret removes a secret.
func (c *Client) DeleteSecret(ctx context.Context, clientID, secretID string) error {
	_, err := c.call(ctx, http.MethodDelete, "/v1/clients/"+esc(clientID)+"/secrets/"+esc(secretID), nil, nil, nil, nil)
	return err
}

// Key is a client's public key (private_key_jwt).
type Key struct {
	ID          string  `json:"id"`
	Kid         string  `json:"kid"`
	Alg         string  `json:"alg,omitempty"`
	Description string  `json:"description"`
	Expiration  *string `json:"expiration"`
	CreatedAt   string  `json:"createdAt"`
	Expired     bool    `json:"expired"`
}

// ListKeys lists a client's public keys.
func (c *Client) ListKeys(ctx context.Context, clientID string) ([]Key, error) {
	var list struct{ Items []Key }
	_, err := c.call(ctx, http.MethodGet, "/v1/clients/"+esc(clientID)+"/keys", nil, nil, &list, nil)
	return list.Items, err
}

// CreateKey adds a public JWK.
func (c *Client) CreateKey(ctx context.Context, clientID string, jwk json.RawMessage, description string, expiration *time.Time) (Key, error) {
	body := map[string]any{"jwk": jwk, "description": description}
	if expiration != nil {
		body["expiration"] = expiration.UTC().Format(time.RFC3339)
	}
	var k Key
	_, err := c.call(ctx, http.MethodPost, "/v1/clients/"+esc(clientID)+"/keys", nil, body, &k, nil)
	return k, err
}

// DeleteKey removes a public key.
func (c *Client) DeleteKey(ctx context.Context, clientID, keyID string) error {
	_, err := c.call(ctx, http.MethodDelete, "/v1/clients/"+esc(clientID)+"/keys/"+esc(keyID), nil, nil, nil, nil)
	return err
}

// Policy grants Subject Action on Scope.
type Policy struct {
	Subject   string `json:"subject"`
	Action    string `json:"action"`
	Scope     string `json:"scope"`
	Tenant    string `json:"tenant,omitempty"`
	CreatedAt string `json:"createdAt,omitempty"`
}

// PolicyFilter selects policies; empty fields select all.
type PolicyFilter struct {
	Subject, Action, Scope string
	Inherited, Derived     bool
}

// ListPolicies returns the policies the filter selects, following cursors.
func (c *Client) ListPolicies(ctx context.Context, f PolicyFilter) ([]Policy, error) {
	q := url.Values{"pageSize": {"200"}}
	for k, v := range map[string]string{"subject": f.Subject, "action": f.Action, "scope": f.Scope} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Inherited {
		q.Set("includeInherited", "true")
	}
	if f.Derived {
		q.Set("includeDerived", "true")
	}
	var all []Policy
	for {
		var page struct {
			Items  []Policy
			Cursor string
		}
		if _, err := c.call(ctx, http.MethodGet, "/v1/policies", q, nil, &page, nil); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Cursor == "" {
			return all, nil
		}
		q.Set("cursor", page.Cursor)
	}
}

// Grant creates a policy (a no-op when it exists).
func (c *Client) Grant(ctx context.Context, p Policy) (Policy, error) {
	var out Policy
	_, err := c.call(ctx, http.MethodPost, "/v1/policies", nil, Policy{Subject: p.Subject, Action: p.Action, Scope: p.Scope}, &out, nil)
	return out, err
}

// Revoke deletes a policy.
func (c *Client) Revoke(ctx context.Context, p Policy) error {
	_, err := c.call(ctx, http.MethodDelete, "/v1/policies", nil, Policy{Subject: p.Subject, Action: p.Action, Scope: p.Scope}, nil, nil)
	return err
}

// Decision is a permission check's answer.
type Decision struct {
	Allowed   bool     `json:"allowed"`
	GrantedBy []Policy `json:"grantedBy"`
}

// Check asks whether subject may do action on scope.
func (c *Client) Check(ctx context.Context, subject, action, scope string) (Decision, error) {
	var d Decision
	_, err := c.call(ctx, http.MethodPost, "/v1/permissions/check", nil, Policy{Subject: subject, Action: action, Scope: scope}, &d, nil)
	return d, err
}

// Action is an entry of the action catalog.
type Action struct {
	Action      string  `json:"action"`
	Parent      *string `json:"parent"`
	Description string  `json:"description"`
}

// ListActions returns the action catalog.
func (c *Client) ListActions(ctx context.Context) ([]Action, error) {
	var list struct{ Items []Action }
	_, err := c.call(ctx, http.MethodGet, "/v1/actions", nil, nil, &list, nil)
	return list.Items, err
}

// Permission is one of a subject's effective permissions.
type Permission struct {
	Action    string   `json:"action"`
	Scope     string   `json:"scope"`
	GrantedBy []Policy `json:"grantedBy"`
}

// Permissions returns a subject's effective permissions.
func (c *Client) Permissions(ctx context.Context, subject string) ([]Permission, error) {
	return pages[Permission](ctx, c, "/v1/subjects/"+esc(subject)+"/permissions")
}

// Group is a group of subjects.
type Group struct {
	ID          string `json:"id"`
	SubjectID   string `json:"subjectId"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
	Tenant      string `json:"tenant"`
	Type        string `json:"type"`
	CreatedAt   string `json:"createdAt"`
	// Provenance is how the group was made (see ClientSpec).
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Subject is a client, group or user as listings show it.
type Subject struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Tenant      string `json:"tenant"`
	SubjectID   string `json:"subjectId"`
	Type        string `json:"type"`
}

// ListGroups returns every group.
func (c *Client) ListGroups(ctx context.Context) ([]Group, error) {
	return pages[Group](ctx, c, "/v1/subjects/groups")
}

// GetGroup returns one group, by id or group-<id>.
func (c *Client) GetGroup(ctx context.Context, id string) (Group, error) {
	var g Group
	_, err := c.call(ctx, http.MethodGet, "/v1/subjects/groups/"+esc(id), nil, nil, &g, nil)
	return g, err
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, displayName, description string, via *Provenance) (Group, error) {
	var g Group
	body := struct {
		DisplayName string      `json:"displayName"`
		Description string      `json:"description"`
		Provenance  *Provenance `json:"provenance,omitempty"`
	}{displayName, description, via}
	_, err := c.call(ctx, http.MethodPost, "/v1/subjects/groups", nil, body, &g, nil)
	return g, err
}

// DeleteGroup deletes a group with its policies and memberships.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	_, err := c.call(ctx, http.MethodDelete, "/v1/subjects/groups/"+esc(id), nil, nil, nil, nil)
	return err
}

// Members returns a group's members.
func (c *Client) Members(ctx context.Context, groupID string) ([]Subject, error) {
	return pages[Subject](ctx, c, "/v1/subjects/groups/"+esc(groupID)+"/members")
}

// AddMembers adds subjects to a group.
func (c *Client) AddMembers(ctx context.Context, groupID string, subjectIDs ...string) error {
	return c.members(ctx, http.MethodPost, groupID, subjectIDs)
}

// RemoveMembers removes subjects from a group.
func (c *Client) RemoveMembers(ctx context.Context, groupID string, subjectIDs ...string) error {
	return c.members(ctx, http.MethodDelete, groupID, subjectIDs)
}

// maxMembersPerCall is the API's limit on subjectIds in one body.
const maxMembersPerCall = 100

func (c *Client) members(ctx context.Context, method, groupID string, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), maxMembersPerCall)
		body := map[string][]string{"subjectIds": ids[:n]}
		if _, err := c.call(ctx, method, "/v1/subjects/groups/"+esc(groupID)+"/members", nil, body, nil, nil); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// Memberships returns the groups a subject belongs to.
func (c *Client) Memberships(ctx context.Context, subject string) ([]Group, error) {
	return pages[Group](ctx, c, "/v1/subjects/"+esc(subject)+"/memberships")
}

// pages reads every page of an envelope B listing.
func pages[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	for page := 1; ; page++ {
		var env struct {
			TotalPages int
			Data       []T
		}
		q := url.Values{"page": {strconv.Itoa(page)}, "pageSize": {"200"}}
		if _, err := c.call(ctx, http.MethodGet, path, q, nil, &env, nil); err != nil {
			return nil, err
		}
		all = append(all, env.Data...)
		if page >= env.TotalPages || len(env.Data) == 0 {
			return all, nil
		}
	}
}
