package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// MaxTokenLifetime is the longest accessTokenLifetime any deployment
// accepts; a deployment may set a shorter one (MAX_TOKEN_LIFETIME_SECONDS),
// which only the server knows.
const MaxTokenLifetime = 24 * time.Hour

// Mistakes is every value of a document the server would refuse, found
// before anything is written.
type Mistakes []string

func (m Mistakes) Error() string {
	return fmt.Sprintf("the document has %d mistake(s); nothing was planned or written:\n  - %s", len(m), strings.Join(m, "\n  - "))
}

// ValidateAgainst checks doc against the deployment's OAuth scopes and
// IAM actions, read through api.
func ValidateAgainst(ctx context.Context, api API, doc Document) error {
	names, err := api.ScopesSupported(ctx)
	if err != nil {
		return fmt.Errorf("reading the deployment's scopes: %w", err)
	}
	actions, err := api.ListActions(ctx)
	if err != nil {
		return fmt.Errorf("reading the deployment's actions: %w", err)
	}
	// Discovery lists only discoverable scopes: the tenant's other APIs
	// (when the applier may read them) and the document's own add theirs.
	if listed, err := api.ListAPIs(ctx); err == nil {
		for _, a := range listed {
			for _, sc := range a.Scopes {
				names = append(names, sc.Name)
			}
		}
	}
	owner := action.Owner
	for _, a := range doc.APIs {
		for _, sc := range a.Scopes {
			names = append(names, sc.Name)
		}
		for _, ac := range a.Actions {
			if !slices.ContainsFunc(actions, func(w wire.Action) bool { return w.Action == ac.Action }) {
				// Hung under owner: the check needs the names, not the tree.
				actions = append(actions, wire.Action{Action: ac.Action, Parent: &owner, Description: ac.Description})
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	scopes, acts, err := catalogs(names, actions)
	if err != nil {
		return err
	}
	if m := Validate(doc, scopes, acts, time.Now()); len(m) > 0 {
		return m
	}
	return nil
}

// catalogs makes the domain catalogs of what the API lists, so that the
// document is checked by the server's own rules.
func catalogs(names []string, actions []wire.Action) (*oauthscope.Catalog, *action.Catalog, error) {
	type scope struct {
		Name string `json:"name"`
	}
	sc := make([]scope, len(names))
	for i, n := range names {
		sc[i] = scope{n}
	}
	raw, _ := json.Marshal(map[string]any{"scopes": sc})
	scopes, err := oauthscope.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the deployment's scopes: %w", err)
	}
	raw, _ = json.Marshal(map[string]any{"actions": actions})
	acts, err := action.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the deployment's actions: %w", err)
	}
	return scopes, acts, nil
}

// Validate lists every value of doc that the API would refuse, with the
// server's own rules (client.Spec, group.Spec, clientkey.Spec, the action
// catalog), each as "client NAME: field: what is wrong".
func Validate(doc Document, scopes *oauthscope.Catalog, actions *action.Catalog, now time.Time) Mistakes {
	var m Mistakes
	fields := func(owner string, errs map[string][]string) {
		for _, f := range slices.Sorted(maps.Keys(errs)) {
			for _, msg := range errs[f] {
				m = append(m, fmt.Sprintf("%s: %s %s", owner, f, msg))
			}
		}
	}
	grants := func(owner string, gs []Grant) {
		for _, g := range gs {
			if !actions.Has(g.Action) {
				m = append(m, fmt.Sprintf("%s: policy %s: %q is not an action of this deployment (iamctl actions lists them)", owner, g, g.Action))
			}
		}
	}
	for _, g := range doc.Groups {
		owner := fmt.Sprintf("group %q", g.Name)
		fields(owner, group.Spec{DisplayName: g.Name, Description: g.Description}.Validate())
		grants(owner, g.Policies)
		for _, u := range g.Users {
			if k, _, err := subject.Parse(u); err != nil || k != subject.User {
				m = append(m, fmt.Sprintf("%s: users: %q must be user- followed by a lower-case UUID", owner, u))
			}
		}
	}
	for _, c := range doc.Clients {
		owner := fmt.Sprintf("client %q", c.Name)
		spec := client.Spec{Name: c.Name, Description: c.Description, GrantTypes: c.GrantTypes, Scopes: c.Scopes,
			RedirectURIs: c.RedirectURIs, Audiences: c.Audiences, TokenClaims: c.TokenClaims}
		if c.AccessTokenLifetime > int(MaxTokenLifetime/time.Second) {
			spec.TokenLifetime = MaxTokenLifetime + time.Second // refused, without overflowing
		} else {
			spec.TokenLifetime = time.Duration(c.AccessTokenLifetime) * time.Second
		}
		fields(owner, renamed(spec.Validate(scopes, MaxTokenLifetime)))
		if c.ClientID != "" {
			if msg := subject.CheckClientID(c.ClientID); msg != "" {
				m = append(m, fmt.Sprintf("%s: clientId %s", owner, msg))
			}
		}
		for _, k := range c.PublicKeys {
			if k.JWK == nil {
				continue // a jwkFile not read here: ResolveFiles reports it
			}
			desc := k.Description
			if desc == "" {
				desc = "Declared in the desired state"
			}
			if _, errs := (clientkey.Spec{JWK: k.JWK, Description: desc}).Parse(now); len(errs) > 0 {
				fields(fmt.Sprintf("%s: public key %q", owner, k.Kid()), errs)
			}
		}
		grants(owner, c.Policies)
	}
	return m
}

// documentField is the document's name for each API field of a client.
var documentField = map[string]string{
	"allowedGrantTypes": "grantTypes", "allowedScopes": "scopes", "allowedAudiences": "audiences",
}

func renamed(errs map[string][]string) map[string][]string {
	out := make(map[string][]string, len(errs))
	for f, msgs := range errs {
		if d, ok := documentField[f]; ok {
			f = d
		}
		out[f] = append(out[f], msgs...)
	}
	return out
}
