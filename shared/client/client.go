// Package client holds the domain model of an OAuth client (a machine
// identity): its fields, the rules a create or replace request must follow,
// and the subject id under which IAM knows it. It has no wire or storage
// form; those live with the API and the store.
package client

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/machine-iam/machine-iam/shared/oauthscope"
)

// Grant types a client may be allowed.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
)

// SubjectPrefix starts the IAM subject id of every client.
const SubjectPrefix = "client-"

// Limits on the fields of a client.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 1000
	MaxRedirectURIs      = 20
	MaxRedirectURILength = 2000
)

// Client is a registered machine identity of one tenant.
type Client struct {
	Tenant       string
	ID           string
	Name         string
	Description  string
	GrantTypes   []string
	Scopes       []string
	RedirectURIs []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Version counts writes; it is the client's ETag and the guard of
	// conditional updates.
	Version int64
}

// SubjectID is the client's IAM subject id.
func (c Client) SubjectID() string { return SubjectPrefix + c.ID }

// AllowsGrant reports whether the client may use grant type g.
func (c Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// Spec is what a caller sets on create and replace; every field is required.
type Spec struct {
	Name         string
	Description  string
	GrantTypes   []string
	Scopes       []string
	RedirectURIs []string
}

// Validate checks s against the rules of api.md and returns, per JSON field
// name, what is wrong; nil means valid.
func (s Spec) Validate(scopes *oauthscope.Catalog) map[string][]string {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }

	checkText(add, "name", s.Name, MaxNameLength)
	checkText(add, "description", s.Description, MaxDescriptionLength)

	if len(s.GrantTypes) == 0 {
		add("allowedGrantTypes", "must name at least one grant type")
	}
	for i, g := range s.GrantTypes {
		if g != GrantClientCredentials && g != GrantAuthorizationCode {
			add("allowedGrantTypes", fmt.Sprintf("[%d] must be %q or %q", i, GrantClientCredentials, GrantAuthorizationCode))
		} else if slices.Index(s.GrantTypes, g) != i {
			add("allowedGrantTypes", fmt.Sprintf("[%d] %q is listed twice", i, g))
		}
	}

	for i, sc := range s.Scopes {
		if !scopes.Has(sc) {
			add("allowedScopes", fmt.Sprintf("[%d] %q is not a scope of this deployment", i, sc))
		} else if slices.Index(s.Scopes, sc) != i {
			add("allowedScopes", fmt.Sprintf("[%d] %q is listed twice", i, sc))
		}
	}

	if len(s.RedirectURIs) > MaxRedirectURIs {
		add("redirectUris", fmt.Sprintf("must hold at most %d URIs", MaxRedirectURIs))
	}
	for i, u := range s.RedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			add("redirectUris", fmt.Sprintf("[%d] %s", i, msg))
		} else if slices.Index(s.RedirectURIs, u) != i {
			add("redirectUris", fmt.Sprintf("[%d] is listed twice", i))
		}
	}
	if slices.Contains(s.GrantTypes, GrantAuthorizationCode) && len(s.RedirectURIs) == 0 {
		add("redirectUris", "must not be empty when authorization_code is allowed")
	}

	if len(errs) == 0 {
		return nil
	}
	return errs
}

func checkText(add func(string, string), field, v string, max int) {
	switch n := utf8.RuneCountInString(v); {
	case strings.TrimSpace(v) == "":
		add(field, "must not be empty")
	case n > max:
		add(field, fmt.Sprintf("must be at most %d characters", max))
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }) {
		add(field, "must not contain control characters")
	}
}

// checkRedirectURI applies RFC 6749 §3.1.2 (absolute, no fragment) and the
// product rule: https everywhere, plain http only for a loopback host name.
func checkRedirectURI(raw string) string {
	if len(raw) > MaxRedirectURILength {
		return fmt.Sprintf("must be at most %d characters", MaxRedirectURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && u.Hostname() == "localhost":
		return ""
	default:
		return "must use https (plain http only for localhost)"
	}
}
