// Package apis holds the domain model of an API (an OAuth resource server):
// its identifier (the RFC 8707 resource and the aud of tokens for it), the
// OAuth scopes clients may put in tokens for it, and the tree of IAM actions
// its servers ask decisions about. The deployment declares its own APIs once
// for all tenants (builtin.json, with fixed ids); each tenant registers more.
// A tenant's catalogs of actions and scopes are the union (Registry).
package apis

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

// Limits. One change reserves every name of an API in a single storage
// transaction, and every decision reads all of a tenant's APIs, so both are
// bounded.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 1000
	MaxIdentifierLength  = 512
	MaxScopes            = 40
	MaxActions           = 50
	// MaxPerTenant bounds the APIs a tenant registers.
	MaxPerTenant = 50
)

// BuiltinPrefix starts the fixed id of every API the deployment declares;
// registered APIs get random ids, which never start with it.
const BuiltinPrefix = "builtin-"

// ReservedActionPrefix starts the actions of this service's management API:
// no registered API may name one, and decisions are not asked about them.
const ReservedActionPrefix = "iam."

// Scope is an OAuth scope of an API.
type Scope struct {
	Name        string
	Description string
}

// Action is an IAM action of an API. Parent is another action of the same
// API, or "" for one directly under the root action owner.
type Action struct {
	Name        string
	Parent      string
	Description string
}

// Spec is what a caller sets.
type Spec struct {
	Identifier  string
	Name        string
	Description string
	// Discoverable lists the API's scopes in the tenant's discovery
	// document, which anyone may read.
	Discoverable bool
	Scopes       []Scope
	Actions      []Action
}

// API is a registered (or declared) API of one tenant.
type API struct {
	Tenant string
	ID     string
	Spec
	// Builtin marks the deployment's declared APIs: read-only, in every
	// tenant.
	Builtin    bool
	Provenance provenance.Record
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int64
}

// Fields classifies every field of API and Spec for the no-escalation rule
// (policy.FieldClass). An API's actions extend the tree that policies are
// evaluated on (a policy on a parent covers a new child; removing an action
// withdraws it from every policy naming it), so changing them needs the
// caller to hold what it adds, moves or removes (ActionChanges). The
// identifier is immutable (it binds decisions to tokens' aud). A scope
// entry confers nothing by itself: a client gets a scope only through its
// allowedScopes, a change the client routes check against the caller's own.
var Fields = map[string]policy.FieldClass{
	"Tenant":       policy.ServerSet,
	"ID":           policy.ServerSet,
	"Identifier":   policy.RightsBearing,
	"Name":         policy.Neutral,
	"Description":  policy.Neutral,
	"Discoverable": policy.Neutral,
	"Scopes":       policy.Neutral,
	"Actions":      policy.RightsBearing,
	"Builtin":      policy.ServerSet,
	"Provenance":   policy.ServerSet,
	"CreatedAt":    policy.ServerSet,
	"UpdatedAt":    policy.ServerSet,
	"Version":      policy.ServerSet,
}

// ScopeNames lists the API's scope names.
func (s Spec) ScopeNames() []string {
	out := make([]string, len(s.Scopes))
	for i, sc := range s.Scopes {
		out[i] = sc.Name
	}
	return out
}

// ActionNames lists the API's action names.
func (s Spec) ActionNames() []string {
	out := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		out[i] = a.Name
	}
	return out
}

// Validate returns, per JSON field, what is wrong with s; nil means valid.
// The identifier must already be normalised (NormalizeIdentifier).
func (s Spec) Validate() map[string][]string {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }
	text := func(field, v string, required bool, max int) {
		switch {
		case required && strings.TrimSpace(v) == "":
			add(field, "must not be empty")
		case utf8.RuneCountInString(v) > max:
			add(field, fmt.Sprintf("must be at most %d characters", max))
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
			add(field, "must not contain control characters")
		}
	}
	text("name", s.Name, true, MaxNameLength)
	text("description", s.Description, false, MaxDescriptionLength)
	if len(s.Scopes) > MaxScopes {
		add("scopes", fmt.Sprintf("must hold at most %d scopes", MaxScopes))
	}
	seen := map[string]bool{}
	for i, sc := range s.Scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		switch {
		case !oauthscope.ValidName(sc.Name):
			add(field+".name", fmt.Sprintf("must be an RFC 6749 scope token of at most %d characters", oauthscope.MaxNameLength))
		case seen[sc.Name]:
			add(field+".name", "is listed twice")
		}
		seen[sc.Name] = true
		text(field+".description", sc.Description, false, MaxDescriptionLength)
	}
	if len(s.Actions) > MaxActions {
		add("actions", fmt.Sprintf("must hold at most %d actions", MaxActions))
	}
	parents := map[string]string{}
	for i, a := range s.Actions {
		field := fmt.Sprintf("actions[%d]", i)
		switch _, dup := parents[a.Name]; {
		case !action.ValidName(a.Name):
			add(field+".action", "must be a dot-notation action name such as orders.order.read")
		case a.Name == action.Owner || strings.HasPrefix(a.Name, ReservedActionPrefix):
			add(field+".action", "is reserved for this service's own actions")
		case dup:
			add(field+".action", "is listed twice")
		}
		parents[a.Name] = a.Parent
		text(field+".description", a.Description, false, MaxDescriptionLength)
	}
	for i, a := range s.Actions {
		if a.Parent == "" {
			continue
		}
		if _, ok := parents[a.Parent]; !ok {
			add(fmt.Sprintf("actions[%d].parent", i), "must be another action of this API, or absent")
			continue
		}
		// Walk up: a cycle never reaches an action without a parent.
		p, steps := a.Parent, 0
		for ; p != "" && steps <= len(s.Actions); steps++ {
			p = parents[p]
		}
		if p != "" {
			add(fmt.Sprintf("actions[%d].parent", i), "makes a cycle")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// SortedActions returns the actions parents first, keeping the given order
// otherwise: the order an action catalog is built in. s must be valid.
func (s Spec) SortedActions() []Action {
	placed := map[string]bool{}
	var out []Action
	for len(out) < len(s.Actions) {
		progress := false
		for _, a := range s.Actions {
			if !placed[a.Name] && (a.Parent == "" || placed[a.Parent]) {
				placed[a.Name], progress = true, true
				out = append(out, a)
			}
		}
		if !progress {
			break // a cycle, refused by Validate
		}
	}
	return out
}

var (
	schemeRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
	pctRE     = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
	unreserve = func(b byte) bool {
		return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~'
	}
)

// NormalizeIdentifier returns raw in the form identifiers are stored and
// compared in (RFC 3986 §6.2.2 and §6.2.3): scheme and host in lower case,
// percent-encodings in upper case and decoded where they stand for
// unreserved characters, dot segments removed, the path "/" of a URI with
// an authority and the scheme's default port dropped. It refuses what is
// not an absolute URI, and a fragment.
func NormalizeIdentifier(raw string) (string, error) {
	if len(raw) > MaxIdentifierLength {
		return "", fmt.Errorf("must be at most %d characters", MaxIdentifierLength)
	}
	if strings.ContainsAny(raw, " \t\r\n\\") || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
		return "", fmt.Errorf("must be an absolute URI (RFC 3986) without spaces or control characters")
	}
	if strings.Contains(raw, "#") {
		return "", fmt.Errorf("must not have a fragment")
	}
	raw = pctRE.ReplaceAllStringFunc(raw, func(p string) string {
		var b byte
		_, _ = fmt.Sscanf(p[1:], "%02X", &b)
		if unreserve(b) {
			return string(b)
		}
		return strings.ToUpper(p)
	})
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || !schemeRE.MatchString(u.Scheme) || u.Host == "" && u.Opaque == "" && u.Path == "" {
		return "", fmt.Errorf("must be an absolute URI (RFC 3986), such as https://api.example.com")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Opaque != "" {
		return u.Scheme + ":" + u.Opaque + query(u), nil
	}
	if u.User != nil {
		// user@host names the same host to most readers: no way around
		// the issuer-base rule, and no use in an audience.
		return "", fmt.Errorf("must not carry user information")
	}
	// The fully qualified form (a trailing dot) and a port with leading
	// zeros name the same authority: one spelling each.
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("must have a port from 1 to 65535")
		}
		if !(n == 443 && u.Scheme == "https" || n == 80 && u.Scheme == "http") {
			host += ":" + strconv.Itoa(n)
		}
	}
	p := u.EscapedPath()
	if p != "" {
		trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
		p = path.Clean("/" + p)
		if trailing && p != "/" {
			p += "/"
		}
	}
	if p == "/" && host != "" {
		// Equivalent to the empty path (RFC 3986 §6.2.3); kept in the form
		// audiences are usually written in.
		p = ""
	}
	if host != "" {
		return u.Scheme + "://" + host + p + query(u), nil
	}
	return u.Scheme + ":" + p + query(u), nil
}

func query(u *url.URL) string {
	if u.ForceQuery || u.RawQuery != "" {
		return "?" + u.RawQuery
	}
	return ""
}

// Within reports whether identifier (normalised) is base (a normalised
// issuer base URL) or under it: such an identifier would name one of this
// service's own issuers or management audiences.
func Within(identifier, base string) bool {
	base = strings.TrimSuffix(base, "/")
	rest, ok := strings.CutPrefix(identifier, base)
	return ok && (rest == "" || strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "?"))
}

// Need is an action a caller must hold on the root scope for a change of an
// API's actions: in the catalog as it is (After false) or as it would be.
type Need struct {
	Action string
	After  bool
}

// ActionChanges lists what a change of an API's actions from before to
// after needs the caller to hold on /: an added action and its parent (the
// root owner for a top-level one) as they would be; a removed action as
// it is; a moved action as it is and as it would be, with its new parent.
// A change that keeps every action where it was needs nothing.
func ActionChanges(before, after Spec) []Need {
	old := map[string]string{}
	for _, a := range before.Actions {
		old[a.Name] = a.Parent
	}
	kept := map[string]bool{}
	var out []Need
	add := func(n Need) {
		for _, have := range out {
			if have == n {
				return
			}
		}
		out = append(out, n)
	}
	parentOf := func(a Action) string {
		if a.Parent == "" {
			return action.Owner
		}
		return a.Parent
	}
	for _, a := range after.Actions {
		kept[a.Name] = true
		p, existed := old[a.Name]
		switch {
		case !existed:
			add(Need{a.Name, true})
			add(Need{parentOf(a), true})
		case p != a.Parent:
			add(Need{a.Name, false})
			add(Need{a.Name, true})
			add(Need{parentOf(a), true})
		}
	}
	for _, a := range before.Actions {
		if !kept[a.Name] {
			add(Need{a.Name, false})
		}
	}
	return out
}
