package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// OwnAPI is a desired API of the tenant (a resource server), identified as a
// client is: by the name it is declared under, or by ID to take over one the
// applier did not create. Its identifier never changes.
type OwnAPI struct {
	Name         string      `json:"name"`
	ID           string      `json:"id,omitempty"`
	Identifier   string      `json:"identifier"`
	Description  string      `json:"description,omitempty"`
	Discoverable bool        `json:"discoverable,omitempty"`
	Scopes       []APIScope  `json:"scopes,omitempty"`
	Actions      []APIAction `json:"actions,omitempty"`
}

// APIScope is an OAuth scope of a desired API.
type APIScope struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// APIAction is an IAM action of a desired API.
type APIAction struct {
	Action      string `json:"action"`
	Parent      string `json:"parent,omitempty"`
	Description string `json:"description,omitempty"`
}

// normalize puts the identifier in the form the server stores it in and
// sorts the lists, so that a plan compares like with like.
func (a *OwnAPI) normalize() error {
	id, err := apis.NormalizeIdentifier(a.Identifier)
	if err != nil {
		return fmt.Errorf("api %q: identifier %w", a.Name, err)
	}
	a.Identifier = id
	slices.SortFunc(a.Scopes, func(x, y APIScope) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(a.Actions, func(x, y APIAction) int { return strings.Compare(x.Action, y.Action) })
	return nil
}

// normalizeAPIs normalises each API of a document; a name declared twice
// is an error.
func normalizeAPIs(list []OwnAPI) error {
	var errs []error
	seen := map[string]bool{}
	for i := range list {
		if seen[list[i].Name] {
			errs = append(errs, fmt.Errorf("api %q is declared twice", list[i].Name))
		}
		seen[list[i].Name] = true
		errs = append(errs, list[i].normalize())
	}
	return errors.Join(errs...)
}

// request is a's create or replace body; via labels a create.
func (a OwnAPI) request(via *wire.Provenance) wire.APIRequest {
	req := wire.APIRequest{Identifier: &a.Identifier, Name: &a.Name, Description: &a.Description, Discoverable: &a.Discoverable,
		Scopes: &[]wire.APIScope{}, Actions: &[]wire.APIAction{}, Provenance: via}
	for _, s := range a.Scopes {
		*req.Scopes = append(*req.Scopes, wire.APIScope(s))
	}
	for _, x := range a.Actions {
		w := wire.APIAction{Action: x.Action, Description: x.Description}
		if x.Parent != "" {
			w.Parent = &x.Parent
		}
		*req.Actions = append(*req.Actions, w)
	}
	return req
}

// declaredAs is what the server holds of an API, in a document's terms.
func declaredAs(have wire.API) OwnAPI {
	a := OwnAPI{Name: have.Name, Identifier: have.Identifier, Description: have.Description, Discoverable: have.Discoverable}
	for _, s := range have.Scopes {
		a.Scopes = append(a.Scopes, APIScope(s))
	}
	for _, x := range have.Actions {
		p := ""
		if x.Parent != nil {
			p = *x.Parent
		}
		a.Actions = append(a.Actions, APIAction{Action: x.Action, Parent: p, Description: x.Description})
	}
	_ = a.normalize() // stored identifiers are normalised already
	return a
}

func apiObject(a wire.API) object {
	return object{id: a.APIID, name: a.Name, prov: a.Provenance.Record()}
}

// planAPIs matches the document's APIs to the tenant's registered ones by
// provenance, and plans their creation, change and (with Prune) deletion.
// A document without APIs does not read them, so an applier without
// iam.api.read plans clients and groups as before.
func (p *Plan) planAPIs(ctx context.Context, api API, doc Document, mt matcher, opts Options) error {
	if len(doc.APIs) == 0 && !opts.Prune {
		return nil
	}
	listed, err := api.ListAPIs(ctx)
	if err != nil {
		if len(doc.APIs) == 0 {
			p.Notes = append(p.Notes, "APIs were not read ("+err.Error()+"); --prune leaves them alone")
			return nil
		}
		return fmt.Errorf("listing APIs: %w", err)
	}
	registered := slices.DeleteFunc(listed, func(a wire.API) bool { return a.Builtin })
	objs := objects(registered, apiObject)
	var decls []declared
	for _, a := range doc.APIs {
		decls = append(decls, declared{a.Name, a.ID})
	}
	apiFor, err := mt.match("api", decls, objs)
	if err != nil {
		return err
	}
	for _, want := range doc.APIs {
		m := apiFor[want.Name]
		var have *wire.API
		if m.index >= 0 {
			have = &registered[m.index]
			p.apiIDs[want.Name] = have.APIID
		}
		if err := p.planAPI(want, have, m.takeover); err != nil {
			return err
		}
	}
	managed := slices.Collect(maps.Values(p.apiIDs))
	for _, o := range objs {
		if o.prov.CreatedBy == api.Subject() && o.prov.Via == provenance.ViaApply && o.prov.Document == p.document && !slices.Contains(managed, o.id) {
			p.unlisted(opts, "api", o, phaseDeleteAPIs, func(ctx context.Context, api API) error { return api.DeleteAPI(ctx, o.id) })
		}
	}
	return nil
}

func (p *Plan) planAPI(want OwnAPI, have *wire.API, takeover bool) error {
	ch := Change{Kind: "api", Name: want.Name}
	if have == nil {
		ch.Op = Create
		ch.Details = apiLines(OwnAPI{}, want, true)
		p.add(ch, step{phaseAPIs, func(ctx context.Context, r *run) error {
			if _, err := r.api.CreateAPI(ctx, want.request(p.label(want.Name))); err != nil {
				return fmt.Errorf("registering api %q: %w", want.Name, err)
			}
			return nil
		}})
		return nil
	}
	cur := declaredAs(*have)
	if cur.Identifier != want.Identifier {
		return fmt.Errorf("api %q: its identifier is %s, the document says %s; an identifier never changes: declare another API", want.Name, cur.Identifier, want.Identifier)
	}
	ch.Op, ch.ID = Update, have.APIID
	if takeover {
		ch.Details = append(ch.Details, "~ takeover     "+have.Provenance.Record().String())
	}
	ch.Details = append(ch.Details, apiLines(cur, want, false)...)
	if len(ch.Details) == 0 {
		return nil
	}
	id := have.APIID
	p.add(ch, step{phaseAPIs, func(ctx context.Context, r *run) error {
		if _, err := r.api.ReplaceAPI(ctx, id, want.request(nil)); err != nil && !apiclient.IsNotFound(err) {
			return fmt.Errorf("changing api %q: %w", want.Name, err)
		}
		return nil
	}})
	return nil
}

// apiLines describes how an API changes from have to want; with all, every
// field of want is shown (a create).
func apiLines(have, want OwnAPI, all bool) []string {
	var lines []string
	field := func(name string, h, w any) {
		hs, ws := show(h), show(w)
		switch {
		case all && ws != `""` && ws != "false":
			lines = append(lines, fmt.Sprintf("+ %-12s %s", name, ws))
		case !all && hs != ws:
			lines = append(lines, fmt.Sprintf("~ %-12s %s → %s", name, hs, ws))
		}
	}
	field("identifier", have.Identifier, want.Identifier)
	if !all {
		field("name", have.Name, want.Name)
	}
	field("description", have.Description, want.Description)
	field("discoverable", have.Discoverable, want.Discoverable)
	scopeLine := func(s APIScope) string { return s.Name + " " + fmt.Sprintf("%q", s.Description) }
	actionLine := func(a APIAction) string {
		if a.Parent != "" {
			return a.Action + " (under " + a.Parent + ") " + fmt.Sprintf("%q", a.Description)
		}
		return a.Action + " " + fmt.Sprintf("%q", a.Description)
	}
	add, remove := diffFunc(have.Scopes, want.Scopes)
	for _, s := range add {
		lines = append(lines, "+ scope        "+scopeLine(s))
	}
	for _, s := range remove {
		lines = append(lines, "- scope        "+scopeLine(s))
	}
	addA, removeA := diffFunc(have.Actions, want.Actions)
	for _, a := range addA {
		lines = append(lines, "+ action       "+actionLine(a))
	}
	for _, a := range removeA {
		lines = append(lines, "- action       "+actionLine(a))
	}
	return lines
}
