package apis

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

//go:embed builtin.json
var builtinJSON []byte

// ManagementAPI is the fixed id of this service's own management API, whose
// identifier is each tenant's management audience.
const ManagementAPI = BuiltinPrefix + "iam"

// Declaration is the deployment's own APIs, declared once for all tenants,
// with the names taken out of them for good.
type Declaration struct {
	APIs []API
	// RetiredActions and RetiredScopes left the declaration: policies and
	// clients naming them stay, inert, and no API may take them again.
	RetiredActions []string
	RetiredScopes  []string
}

// Builtin returns the declaration shipped in builtin.json.
func Builtin() *Declaration {
	d, err := ParseDeclaration(builtinJSON)
	if err != nil {
		panic("apis: embedded builtin.json is invalid: " + err.Error())
	}
	return d
}

// ParseDeclaration reads and validates a declaration document: fixed ids
// starting with BuiltinPrefix, valid APIs, names unique across them. The
// management API alone may hold iam.* actions and has no identifier of its
// own.
func ParseDeclaration(doc []byte) (*Declaration, error) {
	var file struct {
		APIs []struct {
			APIID        string `json:"apiId"`
			Identifier   string `json:"identifier"`
			Name         string `json:"name"`
			Description  string `json:"description"`
			Discoverable bool   `json:"discoverable"`
			Scopes       []struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			} `json:"scopes"`
			Actions []struct {
				Action      string `json:"action"`
				Parent      string `json:"parent"`
				Description string `json:"description"`
			} `json:"actions"`
		} `json:"apis"`
		Retired struct {
			Actions []string `json:"actions"`
			Scopes  []string `json:"scopes"`
		} `json:"retired"`
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, err
	}
	d := &Declaration{RetiredActions: file.Retired.Actions, RetiredScopes: file.Retired.Scopes}
	for _, f := range file.APIs {
		a := API{ID: f.APIID, Builtin: true, Spec: Spec{Identifier: f.Identifier, Name: f.Name, Description: f.Description, Discoverable: f.Discoverable}}
		for _, s := range f.Scopes {
			a.Scopes = append(a.Scopes, Scope(s))
		}
		for _, x := range f.Actions {
			a.Actions = append(a.Actions, Action{Name: x.Action, Parent: x.Parent, Description: x.Description})
		}
		if !strings.HasPrefix(a.ID, BuiltinPrefix) || len(a.ID) == len(BuiltinPrefix) {
			return nil, fmt.Errorf("api %q: a declared API's id starts with %s", a.ID, BuiltinPrefix)
		}
		check := a.Spec
		if a.ID == ManagementAPI {
			if a.Identifier != "" {
				return nil, fmt.Errorf("%s has no identifier: it is each tenant's management audience", ManagementAPI)
			}
			check.Actions = nil
		} else {
			id, err := NormalizeIdentifier(a.Identifier)
			if err != nil || id != a.Identifier {
				return nil, fmt.Errorf("api %s: identifier %q must be a normalised absolute URI", a.ID, a.Identifier)
			}
		}
		if errs := check.Validate(); errs != nil {
			return nil, fmt.Errorf("api %s: %v", a.ID, errs)
		}
		d.APIs = append(d.APIs, a)
	}
	if _, err := NewRegistry(d, nil); err != nil {
		return nil, err
	}
	return d, nil
}

// Registry is what one tenant knows: the declared APIs, then its own, and
// the catalogs of actions and scopes they make together. Top-level actions
// of every API hang under the root action owner.
type Registry struct {
	APIs    []API
	Actions *action.Catalog
	Scopes  *oauthscope.Catalog
	owner   map[string]int // action name → index in APIs
	builtin int            // how many of APIs are declared ones
}

// NewRegistry composes d and a tenant's registered APIs. Names are unique
// across them (the store reserves them); a registered API's name that
// collides with the declaration anyway (a deployment that declared it
// later) is left to the declaration.
func NewRegistry(d *Declaration, registered []API) (*Registry, error) {
	r := &Registry{owner: map[string]int{}, builtin: len(d.APIs)}
	actions := []action.Action{{Name: action.Owner, Description: "Everything: every action below on the scope."}}
	var scopes []oauthscope.Scope
	taken := map[string]bool{}
	for _, n := range d.RetiredActions {
		taken["a:"+n] = true
	}
	for _, n := range d.RetiredScopes {
		taken["s:"+n] = true
	}
	for i, a := range append(append([]API(nil), d.APIs...), registered...) {
		builtin := i < len(d.APIs)
		kept := a
		kept.Scopes, kept.Actions = nil, nil
		for _, s := range a.Scopes {
			if taken["s:"+s.Name] {
				if builtin {
					return nil, fmt.Errorf("scope %q is declared twice or retired", s.Name)
				}
				continue
			}
			taken["s:"+s.Name] = true
			kept.Scopes = append(kept.Scopes, s)
			scopes = append(scopes, oauthscope.Scope{Name: s.Name, Description: s.Description})
		}
		for _, x := range a.SortedActions() {
			if at, ok := r.owner[x.Parent]; taken["a:"+x.Name] || x.Parent != "" && (!ok || at != len(r.APIs)) {
				if builtin {
					return nil, fmt.Errorf("action %q is declared twice or retired", x.Name)
				}
				continue
			}
			taken["a:"+x.Name] = true
			r.owner[x.Name] = len(r.APIs)
			kept.Actions = append(kept.Actions, x)
			parent := x.Parent
			if parent == "" {
				parent = action.Owner
			}
			actions = append(actions, action.Action{Name: x.Name, Parent: parent, Description: x.Description})
		}
		if !builtin {
			kept = a // listed as registered; the catalogs hold what counts
		}
		r.APIs = append(r.APIs, kept)
	}
	var err error
	if r.Actions, err = action.New(actions, d.RetiredActions); err != nil {
		return nil, err
	}
	if r.Scopes, err = oauthscope.New(scopes); err != nil {
		return nil, err
	}
	return r, nil
}

// Declared lists the deployment's declared APIs.
func (r *Registry) Declared() []API { return r.APIs[:r.builtin] }

// Registered lists the tenant's own APIs.
func (r *Registry) Registered() []API { return r.APIs[r.builtin:] }

// OwnerOf returns the API that owns action a; false for an action of no
// API (unknown, retired, or of a removed API).
func (r *Registry) OwnerOf(a string) (API, bool) {
	i, ok := r.owner[a]
	if !ok {
		return API{}, false
	}
	return r.APIs[i], true
}

// Discoverable lists the scope names the tenant's discovery document
// advertises: those of the APIs that say so.
func (r *Registry) Discoverable() []string {
	var out []string
	for _, a := range r.APIs {
		if a.Discoverable {
			for _, s := range a.Scopes {
				if r.Scopes.Has(s.Name) {
					out = append(out, s.Name)
				}
			}
		}
	}
	return out
}

// Taken reports which of names (prefixed "a:" for actions, "s:" for
// scopes) the declaration holds or retired: a registered API may not take
// them.
func (d *Declaration) Taken(spec Spec) []string {
	var out []string
	held := map[string]bool{}
	for _, a := range d.APIs {
		for _, s := range a.Scopes {
			held["s:"+s.Name] = true
		}
		for _, x := range a.Actions {
			held["a:"+x.Name] = true
		}
	}
	for _, n := range d.RetiredActions {
		held["a:"+n] = true
	}
	for _, n := range d.RetiredScopes {
		held["s:"+n] = true
	}
	for _, s := range spec.Scopes {
		if held["s:"+s.Name] {
			out = append(out, "scope "+s.Name)
		}
	}
	for _, x := range spec.Actions {
		if held["a:"+x.Name] {
			out = append(out, "action "+x.Name)
		}
	}
	return out
}
