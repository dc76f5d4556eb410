package oauthscope

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// IAM is the scope a token must hold to call the management API.
const IAM = "services.iam"

// Scope is one entry of the catalog.
type Scope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Catalog is the set of scopes a deployment knows.
type Catalog struct {
	scopes []Scope
	names  map[string]bool
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
var scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

// Parse reads a catalog document.
func Parse(doc []byte) (*Catalog, error) {
	var file struct {
		Scopes []Scope `json:"scopes"`
	}
	if err := json.Unmarshal(doc, &file); err != nil {
		return nil, err
	}
	return New(file.Scopes)
}

// New validates a catalog: RFC 6749 scope tokens, each listed once.
func New(scopes []Scope) (*Catalog, error) {
	c := &Catalog{names: map[string]bool{}}
	for _, s := range scopes {
		if !ValidName(s.Name) {
			return nil, fmt.Errorf("scope %q is not an RFC 6749 scope token", s.Name)
		}
		if c.names[s.Name] {
			return nil, fmt.Errorf("scope %q is listed twice", s.Name)
		}
		c.names[s.Name] = true
		c.scopes = append(c.scopes, s)
	}
	return c, nil
}

// ValidName reports whether name is an RFC 6749 scope token of at most
// MaxNameLength characters.
func ValidName(name string) bool { return len(name) <= MaxNameLength && scopeToken.MatchString(name) }

// MaxNameLength bounds scope names, which end up in storage keys and tokens.
const MaxNameLength = 200

// Has reports whether name is in the catalog.
func (c *Catalog) Has(name string) bool { return c.names[name] }

// Scopes lists the catalog in file order.
func (c *Catalog) Scopes() []Scope { return slices.Clone(c.scopes) }

// Names lists the scope names in file order.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.scopes))
	for i, s := range c.scopes {
		names[i] = s.Name
	}
	return names
}

// ParseRequest splits an RFC 6749 §3.3 scope parameter into its distinct
// tokens in first-seen order. ok is false when a token has characters the
// RFC does not allow.
func ParseRequest(param string) (scopes []string, ok bool) {
	for _, s := range strings.Split(param, " ") {
		if s == "" {
			continue
		}
		if !scopeToken.MatchString(s) {
			return nil, false
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes, true
}
