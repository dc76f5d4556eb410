// Package provision reconciles a tenant with a desired state: the clients,
// groups, policies and memberships a document declares. Plan reads the
// tenant through the HTTP API and lists the changes; Apply makes them, in an
// order that never leaves a subject with fewer rights than both states give
// it. The document is YAML (or JSON) checked against the published JSON
// Schema, desired-state.schema.json; secrets never appear in it.
package provision

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pb33f/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// Schema is the published JSON Schema of a Document.
//
//go:embed desired-state.schema.json
var Schema []byte

// Document is a tenant's desired state.
type Document struct {
	Version int    `json:"version"`
	Tenant  string `json:"tenant,omitempty"`
	// Name is recorded with what an apply of the document creates, so
	// that it manages only that (DefaultName when absent).
	Name    string   `json:"name,omitempty"`
	Clients []Client `json:"clients,omitempty"`
	Groups  []Group  `json:"groups,omitempty"`
	APIs    []OwnAPI `json:"apis,omitempty"`
}

// DefaultName is the name of a document that gives none.
const DefaultName = "default"

// Client is a desired client, identified by the name it is declared under
// (see Plan), or by ID to take over a client the applier did not create.
type Client struct {
	Name                string            `json:"name"`
	ID                  string            `json:"id,omitempty"`
	Description         string            `json:"description"`
	GrantTypes          []string          `json:"grantTypes,omitempty"`
	Scopes              []string          `json:"scopes,omitempty"`
	RedirectURIs        []string          `json:"redirectUris,omitempty"`
	Audiences           []string          `json:"audiences,omitempty"`
	AccessTokenLifetime int               `json:"accessTokenLifetime,omitempty"`
	TokenClaims         map[string]string `json:"tokenClaims,omitempty"`
	PublicKeys          []PublicKey       `json:"publicKeys,omitempty"`
	// FederatedCredentials are the outside identities it accepts instead
	// of a secret.
	FederatedCredentials []FederatedCredential `json:"federatedCredentials,omitempty"`
	Policies             []Grant               `json:"policies,omitempty"`
	Groups               []string              `json:"groups,omitempty"`
	// ClientID is the id a create registers the client under (a client
	// moved from another server keeps its client_id).
	ClientID string `json:"clientId,omitempty"`
	// ImportSecrets are values another server issued, imported when the
	// client is created: where to read each, never the value.
	ImportSecrets []ImportSecret `json:"importSecrets,omitempty"`
}

// ImportSecret names where an imported secret's value is read: an
// environment variable or a file.
type ImportSecret struct {
	Description string `json:"description"`
	FromEnv     string `json:"fromEnv,omitempty"`
	FromFile    string `json:"fromFile,omitempty"`
}

// Source says where the value is read, for plans and messages.
func (s ImportSecret) Source() string {
	if s.FromEnv != "" {
		return "environment variable " + s.FromEnv
	}
	return "file " + s.FromFile
}

// Read returns the value, or why it cannot be read; a file's one trailing
// newline is not part of it.
func (s ImportSecret) Read() (string, error) {
	if s.FromEnv != "" {
		v, ok := os.LookupEnv(s.FromEnv)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", s.FromEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(s.FromFile)
	if err != nil {
		return "", fmt.Errorf("reading the secret: %w", err)
	}
	v := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(v, "\r"), nil
}

// ResolveFiles takes the relative paths of d (imported secrets' fromFile,
// public keys' jwkFile) as relative to dir, the document's directory, so
// that a document and the files it names move together, and reads each
// jwkFile. It returns every file it could not read.
func (d *Document) ResolveFiles(dir string) error {
	abs := func(f *string) {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	var errs []error
	for i := range d.Clients {
		c := &d.Clients[i]
		for j := range c.ImportSecrets {
			abs(&c.ImportSecrets[j].FromFile)
		}
		for j := range c.PublicKeys {
			k := &c.PublicKeys[j]
			if k.JWKFile == "" {
				continue
			}
			shown := k.JWKFile
			abs(&k.JWKFile)
			b, err := os.ReadFile(k.JWKFile)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("client %q: jwkFile %s: %w (iamctl keys generate --public-out writes one)", c.Name, shown, err))
			case !json.Valid(b):
				errs = append(errs, fmt.Errorf("client %q: jwkFile %s does not hold JSON", c.Name, shown))
			default:
				k.JWK = b
			}
		}
		errs = append(errs, c.checkKids())
	}
	return errors.Join(errs...)
}

// PublicKey is a public JWK for private_key_jwt, identified by its kid:
// given in the document, or in a file it names (JWKFile, read by
// ResolveFiles), as iamctl keys generate --public-out writes it.
type PublicKey struct {
	Description string          `json:"description,omitempty"`
	JWK         json.RawMessage `json:"jwk,omitempty"`
	JWKFile     string          `json:"jwkFile,omitempty"`
}

// Kid is the key's kid.
func (k PublicKey) Kid() string {
	var v struct{ Kid string }
	_ = json.Unmarshal(k.JWK, &v)
	return v.Kid
}

// FederatedCredential is a federated credential, identified by what it
// trusts: every member but the description (a credential is never
// changed, only added and deleted). An absent audience is the one the
// server gives, the tenant's issuer.
type FederatedCredential struct {
	Type        string            `json:"type"`
	Issuer      string            `json:"issuer,omitempty"`
	Subject     string            `json:"subject,omitempty"`
	Audience    string            `json:"audience,omitempty"`
	Claims      map[string]string `json:"claims,omitempty"`
	JWKS        json.RawMessage   `json:"jwks,omitempty"`
	Principal   string            `json:"principal,omitempty"`
	RoleID      string            `json:"roleId,omitempty"`
	Description string            `json:"description,omitempty"`
}

// Matches reports whether have is the credential f declares.
func (f FederatedCredential) Matches(have wire.FederatedCredential) bool {
	return f.Type == have.Type && f.Issuer == have.Issuer && f.Subject == have.Subject &&
		(f.Audience == "" || f.Audience == have.Audience) && maps.Equal(f.Claims, have.Claims) &&
		f.Principal == have.Principal && f.RoleID == have.RoleID && sameJSON(f.JWKS, have.JWKS)
}

// String names f in a plan.
func (f FederatedCredential) String() string {
	if f.Type == "aws" {
		return "aws " + f.Principal
	}
	return f.Type + " " + f.Issuer + " " + f.Subject
}

// sameJSON compares two JSON documents by value (either may be absent).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

// Group is a desired group, identified as a client is.
type Group struct {
	Name        string   `json:"name"`
	ID          string   `json:"id,omitempty"`
	Description string   `json:"description,omitempty"`
	Policies    []Grant  `json:"policies,omitempty"`
	Users       []string `json:"users,omitempty"`
}

// Grant is a policy of the subject it is declared under.
type Grant struct {
	Action string `json:"action"`
	Scope  string `json:"scope"`
}

func (g Grant) String() string { return g.Action + " on " + g.Scope }

var schema = func() *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		panic(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("desired-state.schema.json", doc); err != nil {
		panic(err)
	}
	return c.MustCompile("desired-state.schema.json")
}()

// MaxDocument bounds what Parse reads.
const MaxDocument = 4 << 20

// Parse reads a YAML or JSON document, checks it against Schema and the
// rules a schema cannot say (unique names, groups that exist), and returns it
// with defaults filled and scopes normalised.
func Parse(r io.Reader) (Document, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxDocument+1))
	if err != nil {
		return Document{}, err
	}
	if len(raw) > MaxDocument {
		return Document{}, fmt.Errorf("document larger than %d bytes", MaxDocument)
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return Document{}, fmt.Errorf("not YAML: %w", err)
	}
	// JSON is the schema's data model: YAML-only forms (non-string keys,
	// timestamps) fail here with a clear message rather than later.
	asJSON, err := json.Marshal(tree)
	if err != nil {
		return Document{}, fmt.Errorf("not representable as JSON: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(asJSON))
	if err != nil {
		return Document{}, err
	}
	if err := schema.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return Document{}, schemaError(ve)
		}
		return Document{}, err
	}
	var doc Document
	if err := json.Unmarshal(asJSON, &doc); err != nil {
		return Document{}, err
	}
	return doc, doc.normalize()
}

var english = message.NewPrinter(language.English)

// schemaError lists the leaves of a validation error, one per line, each with
// its location in the document.
func schemaError(ve *jsonschema.ValidationError) error {
	var lines []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			lines = append(lines, fmt.Sprintf("  at /%s: %s", strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(english)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(lines)
	return fmt.Errorf("document does not match the desired-state schema:\n%s", strings.Join(slices.Compact(lines), "\n"))
}

func (d *Document) normalize() error {
	if d.Name == "" {
		d.Name = DefaultName
	}
	var errs []error
	clientNames := map[string]bool{}
	groupNames := map[string]bool{}
	for i := range d.Groups {
		g := &d.Groups[i]
		if groupNames[g.Name] {
			errs = append(errs, fmt.Errorf("group %q is declared twice", g.Name))
		}
		groupNames[g.Name] = true
		errs = append(errs, normalizeGrants(&g.Policies, "group "+g.Name)...)
		slices.Sort(g.Users)
	}
	errs = append(errs, normalizeAPIs(d.APIs))
	for i := range d.Clients {
		c := &d.Clients[i]
		if clientNames[c.Name] {
			errs = append(errs, fmt.Errorf("client %q is declared twice", c.Name))
		}
		clientNames[c.Name] = true
		errs = append(errs, c.Normalize())
	}
	return errors.Join(errs...)
}

// Normalize fills c's defaults, sorts its lists and normalises its
// policies' scopes, as Parse does for every client of a document.
func (c *Client) Normalize() error {
	var errs []error
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"client_credentials"}
	}
	for _, l := range [][]string{c.GrantTypes, c.Scopes, c.RedirectURIs, c.Audiences, c.Groups} {
		slices.Sort(l)
	}
	errs = append(errs, c.checkKids())
	errs = append(errs, normalizeGrants(&c.Policies, "client "+c.Name)...)
	return errors.Join(errs...)
}

// checkKids refuses a kid declared twice; keys still in files (not yet
// read) are checked when they are.
func (c *Client) checkKids() error {
	var errs []error
	kids := map[string]bool{}
	for _, k := range c.PublicKeys {
		if k.JWK == nil {
			continue
		}
		if kids[k.Kid()] {
			errs = append(errs, fmt.Errorf("client %q: kid %q is declared twice", c.Name, k.Kid()))
		}
		kids[k.Kid()] = true
	}
	return errors.Join(errs...)
}

func normalizeGrants(grants *[]Grant, owner string) []error {
	var errs []error
	for i, g := range *grants {
		s, err := resource.Normalize(g.Scope)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: policy %s: %w", owner, g, err))
			continue
		}
		(*grants)[i].Scope = s
	}
	slices.SortFunc(*grants, compareGrants)
	*grants = slices.Compact(*grants)
	return errs
}

func compareGrants(a, b Grant) int {
	if c := strings.Compare(a.Action, b.Action); c != 0 {
		return c
	}
	return strings.Compare(a.Scope, b.Scope)
}
