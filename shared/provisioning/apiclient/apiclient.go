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

	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/web/wire"
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

// request is one call of the API. Only method and path are required.
type request struct {
	method, path string
	query        url.Values
	// body, when not nil, is sent as JSON; the JSON answer is decoded into
	// out when not nil.
	body, out any
	header    http.Header
}

// get reads path into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: path, query: query, out: out})
	return err
}

// post sends body (nil for none) to path and reads the answer into out
// (nil to ignore it).
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: path, body: body, out: out})
	return err
}

// delete deletes path; body, when not nil, says what (a policy).
func (c *Client) delete(ctx context.Context, path string, body any) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path, body: body})
	return err
}

// do sends r and returns the answer's headers.
func (c *Client) do(ctx context.Context, r request) (http.Header, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range r.header {
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
	if r.out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, r.out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: unreadable answer: %w", r.method, r.path, err)
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

// ClientRecord is a stored client with the version it was read at.
type ClientRecord struct {
	wire.Client
	// ETag is the version the record was read at, for ReplaceClient;
	// listings carry none.
	ETag string `json:"-"`
}

// ListClients returns every client, or those whose name contains search,
// following the listing's next links.
func (c *Client) ListClients(ctx context.Context, search string) ([]ClientRecord, error) {
	q := url.Values{"pageSize": {"200"}}
	if search != "" {
		q.Set("searchText", search)
	}
	items, err := linked[wire.Client](ctx, c, "clients", "/v1/clients", q)
	if err != nil {
		return nil, err
	}
	all := make([]ClientRecord, len(items))
	for i, it := range items {
		all[i] = ClientRecord{Client: it}
	}
	return all, nil
}

// linked reads every page of an envelope-A listing, following its next
// links.
func linked[T any](ctx context.Context, c *Client, what, path string, q url.Values) ([]T, error) {
	var all []T
	for {
		var page struct {
			Items []T        `json:"items"`
			Links wire.Links `json:"links"`
		}
		if err := c.get(ctx, path, q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Links.Next == nil {
			return all, nil
		}
		next, err := url.Parse(*page.Links.Next)
		if err != nil {
			return nil, fmt.Errorf("listing %s: bad next link: %w", what, err)
		}
		path, q = next.Path, next.Query()
	}
}

// GetClient returns one client with its ETag.
func (c *Client) GetClient(ctx context.Context, id string) (ClientRecord, error) {
	var rec ClientRecord
	h, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/clients/" + esc(id), out: &rec.Client})
	if err == nil {
		rec.ETag = h.Get("ETag")
	}
	return rec, err
}

// CreateClient creates a client.
func (c *Client) CreateClient(ctx context.Context, create wire.ClientCreate) (ClientRecord, error) {
	var rec ClientRecord
	create.ClientSpec = withLists(create.ClientSpec)
	err := c.post(ctx, "/v1/clients", create, &rec.Client)
	return rec, err
}

// ReplaceClient replaces a client's fields; a non-empty etag makes the
// replace conditional on it (412 when another write came first).
func (c *Client) ReplaceClient(ctx context.Context, id string, spec wire.ClientSpec, etag string) (ClientRecord, error) {
	var h http.Header
	if etag != "" {
		h = http.Header{"If-Match": {etag}}
	}
	var rec ClientRecord
	spec.Provenance = nil
	_, err := c.do(ctx, request{method: http.MethodPut, path: "/v1/clients/" + esc(id), body: withLists(spec), out: &rec.Client, header: h})
	return rec, err
}

// withLists fills the lists the API requires present.
func withLists(s wire.ClientSpec) wire.ClientSpec {
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
	return c.delete(ctx, "/v1/clients/"+esc(id), nil)
}

// RevokeTokens revokes every token issued to a client so far.
func (c *Client) RevokeTokens(ctx context.Context, id string) error {
	return c.post(ctx, "/v1/clients/"+esc(id)+"/revoke-tokens", nil, nil)
}

// ListSecrets lists a client's secrets.
func (c *Client) ListSecrets(ctx context.Context, clientID string) ([]wire.Secret, error) {
	var list wire.List[wire.Secret]
	err := c.get(ctx, "/v1/clients/"+esc(clientID)+"/secrets", nil, &list)
	return list.Items, err
}

// CreateSecret adds a secret with value; expiration is optional.
func (c *Client) CreateSecret(ctx context.Context, clientID, value, description string, expiration *time.Time) (wire.CreatedSecret, error) {
	body := wire.SecretRequest{Value: &value, Description: &description, Expiration: rfc3339(expiration)}
	var s wire.CreatedSecret
	err := c.post(ctx, "/v1/clients/"+esc(clientID)+"/secrets", body, &s)
	return s, err
}

// ImportSecret stores a secret value another server issued (up to 512
// characters); the answer does not repeat it.
func (c *Client) ImportSecret(ctx context.Context, clientID, value, description string, expiration *time.Time) (wire.Secret, error) {
	body := wire.SecretRequest{Value: &value, Description: &description, Expiration: rfc3339(expiration)}
	var s wire.Secret
	err := c.post(ctx, "/v1/clients/"+esc(clientID)+"/secrets/import", body, &s)
	return s, err
}

// DeleteSecret removes a secret.
func (c *Client) DeleteSecret(ctx context.Context, clientID, secretID string) error {
	return c.delete(ctx, "/v1/clients/"+esc(clientID)+"/secrets/"+esc(secretID), nil)
}

// ListKeys lists a client's public keys.
func (c *Client) ListKeys(ctx context.Context, clientID string) ([]wire.Key, error) {
	var list wire.List[wire.Key]
	err := c.get(ctx, "/v1/clients/"+esc(clientID)+"/keys", nil, &list)
	return list.Items, err
}

// CreateKey adds a public JWK.
func (c *Client) CreateKey(ctx context.Context, clientID string, jwk json.RawMessage, description string, expiration *time.Time) (wire.Key, error) {
	body := wire.KeyRequest{JWK: jwk, Description: &description, Expiration: rfc3339(expiration)}
	var k wire.Key
	err := c.post(ctx, "/v1/clients/"+esc(clientID)+"/keys", body, &k)
	return k, err
}

// rfc3339 is an optional expiration on the wire.
func rfc3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// DeleteKey removes a public key.
func (c *Client) DeleteKey(ctx context.Context, clientID, keyID string) error {
	return c.delete(ctx, "/v1/clients/"+esc(clientID)+"/keys/"+esc(keyID), nil)
}

// ListFederatedCredentials lists a client's federated credentials.
func (c *Client) ListFederatedCredentials(ctx context.Context, clientID string) ([]wire.FederatedCredential, error) {
	var list wire.List[wire.FederatedCredential]
	err := c.get(ctx, "/v1/clients/"+esc(clientID)+"/federated-credentials", nil, &list)
	return list.Items, err
}

// CreateFederatedCredential adds a federated credential.
func (c *Client) CreateFederatedCredential(ctx context.Context, clientID string, body wire.FederatedCredentialRequest) (wire.FederatedCredential, error) {
	var fc wire.FederatedCredential
	err := c.post(ctx, "/v1/clients/"+esc(clientID)+"/federated-credentials", body, &fc)
	return fc, err
}

// DeleteFederatedCredential removes a federated credential.
func (c *Client) DeleteFederatedCredential(ctx context.Context, clientID, credentialID string) error {
	return c.delete(ctx, "/v1/clients/"+esc(clientID)+"/federated-credentials/"+esc(credentialID), nil)
}

// PolicyFilter selects policies; empty fields select all.
type PolicyFilter struct {
	Subject, Action, Scope string
	Inherited, Derived     bool
}

// ListPolicies returns the policies the filter selects, following cursors.
func (c *Client) ListPolicies(ctx context.Context, f PolicyFilter) ([]wire.Policy, error) {
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
	var all []wire.Policy
	for {
		var page wire.PolicyList
		if err := c.get(ctx, "/v1/policies", q, &page); err != nil {
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
func (c *Client) Grant(ctx context.Context, p wire.Policy) (wire.Policy, error) {
	var out wire.Policy
	err := c.post(ctx, "/v1/policies", p.Request(), &out)
	return out, err
}

// Revoke deletes a policy.
func (c *Client) Revoke(ctx context.Context, p wire.Policy) error {
	return c.delete(ctx, "/v1/policies", p.Request())
}

// Check asks whether subject may do action on scope.
func (c *Client) Check(ctx context.Context, subject, action, scope string) (wire.Decision, error) {
	var d wire.Decision
	err := c.post(ctx, "/v1/permissions/check", wire.Policy{Subject: subject, Action: action, Scope: scope}.Request(), &d)
	return d, err
}

// ListActions returns the action catalog.
func (c *Client) ListActions(ctx context.Context) ([]wire.Action, error) {
	var list wire.List[wire.Action]
	err := c.get(ctx, "/v1/actions", nil, &list)
	return list.Items, err
}

// ScopesSupported returns the OAuth scopes of the deployment, as the
// tenant's discovery document lists them (scopes_supported).
func (c *Client) ScopesSupported(ctx context.Context) ([]string, error) {
	var d struct {
		Scopes []string `json:"scopes_supported"`
	}
	path := strings.TrimPrefix(tenant.Issuer(c.base, c.tenant), c.base) + "/.well-known/openid-configuration"
	err := c.get(ctx, path, nil, &d)
	return d.Scopes, err
}

// Permissions returns a subject's effective permissions.
func (c *Client) Permissions(ctx context.Context, subject string) ([]wire.Permission, error) {
	return pages[wire.Permission](ctx, c, "/v1/subjects/"+esc(subject)+"/permissions")
}

// ListGroups returns every group.
func (c *Client) ListGroups(ctx context.Context) ([]wire.Group, error) {
	return pages[wire.Group](ctx, c, "/v1/subjects/groups")
}

// GetGroup returns one group, by id or group-<id>.
func (c *Client) GetGroup(ctx context.Context, id string) (wire.Group, error) {
	var g wire.Group
	err := c.get(ctx, "/v1/subjects/groups/"+esc(id), nil, &g)
	return g, err
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, displayName, description string, via *wire.Provenance) (wire.Group, error) {
	var g wire.Group
	body := wire.GroupRequest{DisplayName: &displayName, Description: &description, Provenance: via}
	err := c.post(ctx, "/v1/subjects/groups", body, &g)
	return g, err
}

// DeleteGroup deletes a group with its policies and memberships.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.delete(ctx, "/v1/subjects/groups/"+esc(id), nil)
}

// Members returns a group's members.
func (c *Client) Members(ctx context.Context, groupID string) ([]wire.Subject, error) {
	return pages[wire.Subject](ctx, c, "/v1/subjects/groups/"+esc(groupID)+"/members")
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
		chunk := ids[:n]
		body := wire.MembersRequest{SubjectIDs: &chunk}
		if _, err := c.do(ctx, request{method: method, path: "/v1/subjects/groups/" + esc(groupID) + "/members", body: body}); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// Memberships returns the groups a subject belongs to.
func (c *Client) Memberships(ctx context.Context, subject string) ([]wire.Group, error) {
	return pages[wire.Group](ctx, c, "/v1/subjects/"+esc(subject)+"/memberships")
}

// pages reads every page of an envelope B listing.
func pages[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	for page := 1; ; page++ {
		var env wire.Page[T]
		q := url.Values{"page": {strconv.Itoa(page)}, "pageSize": {"200"}}
		if err := c.get(ctx, path, q, &env); err != nil {
			return nil, err
		}
		all = append(all, env.Data...)
		if page >= env.TotalPages || len(env.Data) == 0 {
			return all, nil
		}
	}
}

// ListAPIs returns the tenant's APIs, the deployment's own first,
// following the listing's next links.
func (c *Client) ListAPIs(ctx context.Context) ([]wire.API, error) {
	return linked[wire.API](ctx, c, "APIs", "/v1/apis", url.Values{"pageSize": {"200"}})
}

// GetAPI returns one API.
func (c *Client) GetAPI(ctx context.Context, id string) (wire.API, error) {
	var a wire.API
	err := c.get(ctx, "/v1/apis/"+esc(id), nil, &a)
	return a, err
}

// CreateAPI registers an API.
func (c *Client) CreateAPI(ctx context.Context, req wire.APIRequest) (wire.API, error) {
	var a wire.API
	err := c.post(ctx, "/v1/apis", req, &a)
	return a, err
}

// ReplaceAPI replaces an API's fields.
func (c *Client) ReplaceAPI(ctx context.Context, id string, req wire.APIRequest) (wire.API, error) {
	var a wire.API
	_, err := c.do(ctx, request{method: http.MethodPut, path: "/v1/apis/" + esc(id), body: req, out: &a})
	return a, err
}

// DeleteAPI deletes an API; its names stay reserved to it.
func (c *Client) DeleteAPI(ctx context.Context, id string) error {
	return c.delete(ctx, "/v1/apis/"+esc(id), nil)
}
