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
	"slices"
	"strings"

	"github.com/pb33f/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/machine-iam/machine-iam/shared/iam/resource"
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
	Policies            []Grant           `json:"policies,omitempty"`
	Groups              []string          `json:"groups,omitempty"`
}

// PublicKey is a public JWK for private_key_jwt, identified by its kid.
type PublicKey struct {
	Description string          `json:"description,omitempty"`
	JWK         json.RawMessage `json:"jwk"`
}

// Kid is the key's kid.
func (k PublicKey) Kid() string {
	var v struct{ Kid string }
	_ = json.Unmarshal(k.JWK, &v)
	return v.Kid
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
	kids := map[string]bool{}
	for _, k := range c.PublicKeys {
		if kids[k.Kid()] {
			errs = append(errs, fmt.Errorf("client %q: kid %q is declared twice", c.Name, k.Kid()))
		}
		kids[k.Kid()] = true
	}
	errs = append(errs, normalizeGrants(&c.Policies, "client "+c.Name)...)
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
