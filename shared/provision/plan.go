package provision

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/apiclient"
)

// API is what planning reads and applying writes; *apiclient.Client
// implements it.
type API interface {
	Tenant() string
	ListClients(ctx context.Context, search string) ([]apiclient.ClientRecord, error)
	GetClient(ctx context.Context, id string) (apiclient.ClientRecord, error)
	CreateClient(ctx context.Context, spec apiclient.ClientSpec) (apiclient.ClientRecord, error)
	ReplaceClient(ctx context.Context, id string, spec apiclient.ClientSpec, etag string) (apiclient.ClientRecord, error)
	DeleteClient(ctx context.Context, id string) error
	ListSecrets(ctx context.Context, clientID string) ([]apiclient.Secret, error)
	CreateSecret(ctx context.Context, clientID, value, description string, expiration *time.Time) (apiclient.Secret, error)
	DeleteSecret(ctx context.Context, clientID, secretID string) error
	ListKeys(ctx context.Context, clientID string) ([]apiclient.Key, error)
	CreateKey(ctx context.Context, clientID string, jwk json.RawMessage, description string, expiration *time.Time) (apiclient.Key, error)
	DeleteKey(ctx context.Context, clientID, keyID string) error
	ListPolicies(ctx context.Context, f apiclient.PolicyFilter) ([]apiclient.Policy, error)
	Grant(ctx context.Context, p apiclient.Policy) (apiclient.Policy, error)
	Revoke(ctx context.Context, p apiclient.Policy) error
	ListGroups(ctx context.Context) ([]apiclient.Group, error)
	CreateGroup(ctx context.Context, displayName, description string) (apiclient.Group, error)
	DeleteGroup(ctx context.Context, id string) error
	Members(ctx context.Context, groupID string) ([]apiclient.Subject, error)
	AddMembers(ctx context.Context, groupID string, subjectIDs ...string) error
	RemoveMembers(ctx context.Context, groupID string, subjectIDs ...string) error
	Memberships(ctx context.Context, subject string) ([]apiclient.Group, error)
}

// Op is what a change does to a resource.
type Op string

// The ops, with the sign plan output shows them by.
const (
	Create Op = "+"
	Update Op = "~"
	Delete Op = "-"
)

// Change is one resource's change, with a line per attribute, policy,
// membership or key that changes.
type Change struct {
	Op      Op       `json:"op"`
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	ID      string   `json:"id,omitempty"`
	Details []string `json:"details,omitempty"`
}

// Plan is the difference between a tenant and a document.
type Plan struct {
	Tenant  string   `json:"tenant"`
	Changes []Change `json:"changes"`
	// Notes are what the plan leaves alone and why: resources the document
	// does not list (without --prune), group descriptions that differ.
	Notes []string `json:"notes,omitempty"`

	steps []step
	// clientIDs and groupIDs are the ids of what exists, by name.
	clientIDs, groupIDs map[string]string
	// newSecrets are the new clients that get a generated secret.
	newSecrets int
}

// Options tune a plan.
type Options struct {
	// Prune deletes the clients and groups the document does not list.
	Prune bool
	// Caller is the client id the plan runs as; it is never pruned.
	Caller string
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return len(p.Changes) > 0 }

// NeedsSecretOutput reports whether applying generates secrets, which need
// somewhere to go.
func (p *Plan) NeedsSecretOutput() bool { return p.newSecrets > 0 }

// Phases order the steps of an apply so that no subject holds, midway, a
// right that neither the old nor the new state gives it, and none loses one
// both give it: a group's removed policies go before anyone joins it, then
// everything gained comes before everything else lost, and deletions last.
const (
	phaseCreateGroups = iota
	phaseClients
	phaseGrant
	phaseRevokeFromGroups
	phaseJoin
	phaseLeave
	phaseRevoke
	phaseDeleteClients
	phaseDeleteGroups
)

type step struct {
	phase int
	run   func(ctx context.Context, r *run) error
}

// run carries what an apply learns as it goes: the ids of what it created.
type run struct {
	api     API
	clients map[string]string // name → client id
	groups  map[string]string // name → group id
	secrets SecretSink
	tenant  string
}

// SecretSink receives a generated secret once, right after its client is
// created, so that a later failure cannot lose it.
type SecretSink func(NewSecret) error

// NewSecret is a generated client secret.
type NewSecret struct {
	Tenant       string `json:"tenant"`
	Name         string `json:"name"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// MarkerCloudFormation starts the description suffix of the clients a
// CloudFormation stack declares; plans leave them to their stack.
const MarkerCloudFormation = "[cloudformation "

// stackMarker is the whole suffix: [cloudformation <StackId> <LogicalId> <RequestId>].
var stackMarker = regexp.MustCompile(`\[cloudformation arn:[a-z-]+:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/\S+ \S+ \S+\]$`)

// OwnedByStack reports whether a client description ends with the marker of
// a CloudFormation resource.
func OwnedByStack(description string) bool { return stackMarker.MatchString(description) }

// MakePlan reads the tenant and compares it with doc.
func MakePlan(ctx context.Context, api API, doc Document, opts Options) (*Plan, error) {
	if doc.Tenant != "" && doc.Tenant != api.Tenant() {
		return nil, fmt.Errorf("the document is for tenant %q, the credentials for %q", doc.Tenant, api.Tenant())
	}
	p := &Plan{Tenant: api.Tenant(), Changes: []Change{}}
	clients, err := api.ListClients(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	groups, err := api.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	clientByName, err := unique(clients, func(c apiclient.ClientRecord) string { return c.Name }, "clients", declaredClients(doc))
	if err != nil {
		return nil, err
	}
	groupByName, err := unique(groups, func(g apiclient.Group) string { return g.DisplayName }, "groups", declaredGroups(doc))
	if err != nil {
		return nil, err
	}
	p.clientIDs, p.groupIDs = map[string]string{}, map[string]string{}
	for name, c := range clientByName {
		p.clientIDs[name] = c.ClientID
	}
	for name, g := range groupByName {
		p.groupIDs[name] = g.ID
	}
	for _, c := range doc.Clients {
		for _, g := range c.Groups {
			if _, ok := groupByName[g]; !ok && !slices.Contains(declaredGroups(doc), g) {
				return nil, fmt.Errorf("client %q joins group %q, which neither the document nor the tenant has", c.Name, g)
			}
		}
	}
	for _, g := range doc.Groups {
		if err := p.planGroup(ctx, api, g, groupByName[g.Name]); err != nil {
			return nil, err
		}
	}
	for _, c := range doc.Clients {
		if have := clientByName[c.Name]; have != nil && OwnedByStack(have.Description) {
			return nil, fmt.Errorf("client %q belongs to a CloudFormation stack (its description says which): change it there, or give one of them another name", c.Name)
		}
		if err := p.planClient(ctx, api, c, clientByName[c.Name], true); err != nil {
			return nil, err
		}
	}
	var callerGroups []string
	if opts.Prune && opts.Caller != "" {
		gs, err := api.Memberships(ctx, "client-"+opts.Caller)
		if err != nil {
			return nil, fmt.Errorf("memberships of the applying client: %w", err)
		}
		for _, g := range gs {
			callerGroups = append(callerGroups, g.ID)
		}
	}
	p.planUnlisted(doc, clients, groups, opts, callerGroups)
	return p, nil
}

func declaredClients(doc Document) []string {
	names := make([]string, len(doc.Clients))
	for i, c := range doc.Clients {
		names[i] = c.Name
	}
	return names
}

func declaredGroups(doc Document) []string {
	names := make([]string, len(doc.Groups))
	for i, g := range doc.Groups {
		names[i] = g.Name
	}
	return names
}

// unique indexes items by name, refusing a declared name that the tenant
// holds twice: the document could not say which one it means.
func unique[T any](items []T, name func(T) string, kind string, declared []string) (map[string]*T, error) {
	byName := map[string]*T{}
	for i := range items {
		n := name(items[i])
		if _, dup := byName[n]; dup && slices.Contains(declared, n) {
			return nil, fmt.Errorf("the tenant has several %s named %q; rename or delete all but one before planning", kind, n)
		}
		byName[n] = &items[i]
	}
	return byName, nil
}

func (p *Plan) add(c Change, steps ...step) {
	p.Changes = append(p.Changes, c)
	p.steps = append(p.steps, steps...)
}

func (p *Plan) planGroup(ctx context.Context, api API, want Group, have *apiclient.Group) error {
	ch := Change{Kind: "group", Name: want.Name}
	var havePolicies []Grant
	var haveUsers []string
	if have == nil {
		ch.Op = Create
		ch.Details = append(ch.Details, fmt.Sprintf("+ description  %q", want.Description))
		p.steps = append(p.steps, step{phaseCreateGroups, func(ctx context.Context, r *run) error {
			g, err := r.api.CreateGroup(ctx, want.Name, want.Description)
			if err != nil {
				return fmt.Errorf("creating group %q: %w", want.Name, err)
			}
			r.groups[want.Name] = g.ID
			return nil
		}})
	} else {
		ch.Op, ch.ID = Update, have.ID
		if have.Description != want.Description {
			p.Notes = append(p.Notes, fmt.Sprintf("group %q: its description is %q, the document says %q; groups cannot be changed in place, so this is left as it is",
				want.Name, have.Description, want.Description))
		}
		var err error
		if havePolicies, err = directPolicies(ctx, api, have.SubjectID); err != nil {
			return err
		}
		members, err := api.Members(ctx, have.ID)
		if err != nil {
			return fmt.Errorf("group %q: %w", want.Name, err)
		}
		for _, m := range members {
			if m.Type == "User" {
				haveUsers = append(haveUsers, m.SubjectID)
			}
		}
	}
	subject := func(r *run) string { return "group-" + r.groups[want.Name] }
	steps := policySteps(&ch, havePolicies, want.Policies, subject, "group "+want.Name, phaseRevokeFromGroups)
	add, remove := diff(haveUsers, want.Users)
	for _, u := range add {
		ch.Details = append(ch.Details, "+ member       "+u)
	}
	for _, u := range remove {
		ch.Details = append(ch.Details, "- member       "+u)
	}
	if len(add) > 0 {
		steps = append(steps, step{phaseJoin, func(ctx context.Context, r *run) error {
			return r.api.AddMembers(ctx, r.groups[want.Name], add...)
		}})
	}
	if len(remove) > 0 {
		steps = append(steps, step{phaseLeave, func(ctx context.Context, r *run) error {
			return r.api.RemoveMembers(ctx, r.groups[want.Name], remove...)
		}})
	}
	if ch.Op == Update && len(ch.Details) == 0 {
		return nil
	}
	p.add(ch, steps...)
	return nil
}

func directPolicies(ctx context.Context, api API, subject string) ([]Grant, error) {
	list, err := api.ListPolicies(ctx, apiclient.PolicyFilter{Subject: subject})
	if err != nil {
		return nil, fmt.Errorf("policies of %s: %w", subject, err)
	}
	grants := make([]Grant, 0, len(list))
	for _, pol := range list {
		if pol.Subject == subject {
			grants = append(grants, Grant{Action: pol.Action, Scope: pol.Scope})
		}
	}
	slices.SortFunc(grants, compareGrants)
	return grants, nil
}

// policySteps adds the policy lines of a subject's change and returns the
// steps that grant and revoke them.
func policySteps(ch *Change, have, want []Grant, subject func(*run) string, owner string, revokePhase int) []step {
	var steps []step
	add, remove := diffFunc(have, want)
	for _, g := range add {
		ch.Details = append(ch.Details, "+ policy       "+g.String())
		steps = append(steps, step{phaseGrant, func(ctx context.Context, r *run) error {
			if _, err := r.api.Grant(ctx, apiclient.Policy{Subject: subject(r), Action: g.Action, Scope: g.Scope}); err != nil {
				return fmt.Errorf("%s: granting %s: %w", owner, g, err)
			}
			return nil
		}})
	}
	for _, g := range remove {
		ch.Details = append(ch.Details, "- policy       "+g.String())
		steps = append(steps, step{revokePhase, func(ctx context.Context, r *run) error {
			err := r.api.Revoke(ctx, apiclient.Policy{Subject: subject(r), Action: g.Action, Scope: g.Scope})
			if err != nil && !apiclient.IsNotFound(err) {
				return fmt.Errorf("%s: revoking %s: %w", owner, g, err)
			}
			return nil
		}})
	}
	return steps
}

// Spec is the client's create and replace body.
func (c Client) Spec() apiclient.ClientSpec {
	return apiclient.ClientSpec{
		Name: c.Name, Description: c.Description, AllowedGrantTypes: c.GrantTypes, AllowedScopes: c.Scopes,
		RedirectURIs: c.RedirectURIs, AllowedAudiences: c.Audiences, AccessTokenLifetime: c.AccessTokenLifetime,
		TokenClaims: c.TokenClaims,
	}
}

// PlanClient plans one client alone, whatever else the tenant holds: have
// is its current record, nil to create it (without a secret). The groups it
// joins must exist.
func PlanClient(ctx context.Context, api API, want Client, have *apiclient.ClientRecord) (*Plan, error) {
	p := &Plan{Tenant: api.Tenant(), Changes: []Change{}, clientIDs: map[string]string{}, groupIDs: map[string]string{}}
	if len(want.Groups) > 0 {
		groups, err := api.ListGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing groups: %w", err)
		}
		groupByName, err := unique(groups, func(g apiclient.Group) string { return g.DisplayName }, "groups", want.Groups)
		if err != nil {
			return nil, err
		}
		for _, g := range want.Groups {
			if groupByName[g] == nil {
				return nil, fmt.Errorf("client %q joins group %q, which the tenant does not have", want.Name, g)
			}
			p.groupIDs[g] = groupByName[g].ID
		}
	}
	if have != nil {
		p.clientIDs[want.Name] = have.ClientID
	}
	return p, p.planClient(ctx, api, want, have, false)
}

// ClientID is the id of the client named name, after Apply for one it
// created.
func (p *Plan) ClientID(name string) string { return p.clientIDs[name] }

// planClient plans want; a new client without public keys gets a generated
// secret when generateSecret.
func (p *Plan) planClient(ctx context.Context, api API, want Client, have *apiclient.ClientRecord, generateSecret bool) error {
	ch := Change{Kind: "client", Name: want.Name}
	var steps []step
	var havePolicies []Grant
	var haveGroups []string
	memberOf := map[string]string{} // group name → id
	var haveKeys []apiclient.Key
	if have == nil {
		ch.Op = Create
		ch.Details = append(ch.Details, fieldLines(apiclient.ClientSpec{}, want.Spec(), true)...)
		secret := generateSecret && len(want.PublicKeys) == 0
		if secret {
			p.newSecrets++
			ch.Details = append(ch.Details, "+ secret       generated, written once to the secrets output")
		}
		steps = append(steps, step{phaseClients, func(ctx context.Context, r *run) error {
			rec, err := r.api.CreateClient(ctx, want.Spec())
			if err != nil {
				return fmt.Errorf("creating client %q: %w", want.Name, err)
			}
			r.clients[want.Name] = rec.ClientID
			if !secret {
				return nil
			}
			value := rand.Text()
			if _, err := r.api.CreateSecret(ctx, rec.ClientID, value, "Generated by iamctl apply", nil); err != nil {
				// A client left without its only credential would plan as
				// unchanged forever: take it back.
				if derr := r.api.DeleteClient(ctx, rec.ClientID); derr == nil {
					delete(r.clients, want.Name)
				}
				return fmt.Errorf("client %q: creating its secret: %w", want.Name, err)
			}
			return r.secrets(NewSecret{Tenant: r.tenant, Name: want.Name, ClientID: rec.ClientID, ClientSecret: value})
		}})
	} else {
		ch.Op, ch.ID = Update, have.ClientID
		etag := have.ETag
		lines := fieldLines(have.ClientSpec, want.Spec(), false)
		if etag == "" && len(lines) > 0 {
			// Listings carry no version: read the one this plan shows, so
			// that apply overwrites nothing changed since (412).
			cur, err := api.GetClient(ctx, have.ClientID)
			if err != nil {
				return fmt.Errorf("client %q: %w", want.Name, err)
			}
			etag, lines = cur.ETag, fieldLines(cur.ClientSpec, want.Spec(), false)
		}
		if len(lines) > 0 {
			ch.Details = append(ch.Details, lines...)
			id := have.ClientID
			steps = append(steps, step{phaseClients, func(ctx context.Context, r *run) error {
				if _, err := r.api.ReplaceClient(ctx, id, want.Spec(), etag); err != nil {
					if apiclient.StatusOf(err) == 412 {
						return fmt.Errorf("client %q changed since the plan: plan again", want.Name)
					}
					return fmt.Errorf("updating client %q: %w", want.Name, err)
				}
				return nil
			}})
		}
		var err error
		if havePolicies, err = directPolicies(ctx, api, have.SubjectID); err != nil {
			return err
		}
		groups, err := api.Memberships(ctx, have.SubjectID)
		if err != nil {
			return fmt.Errorf("memberships of client %q: %w", want.Name, err)
		}
		for _, g := range groups {
			haveGroups = append(haveGroups, g.DisplayName)
			memberOf[g.DisplayName] = g.ID
		}
		slices.Sort(haveGroups)
		if haveKeys, err = api.ListKeys(ctx, have.ClientID); err != nil {
			return fmt.Errorf("keys of client %q: %w", want.Name, err)
		}
	}
	subject := func(r *run) string { return "client-" + r.clients[want.Name] }
	steps = append(steps, keySteps(&ch, haveKeys, want)...)
	steps = append(steps, policySteps(&ch, havePolicies, want.Policies, subject, "client "+want.Name, phaseRevoke)...)
	join, leave := diff(haveGroups, want.Groups)
	for _, g := range join {
		ch.Details = append(ch.Details, "+ member of    "+g)
		steps = append(steps, step{phaseJoin, func(ctx context.Context, r *run) error {
			if err := r.api.AddMembers(ctx, r.groups[g], subject(r)); err != nil {
				return fmt.Errorf("client %q: joining group %q: %w", want.Name, g, err)
			}
			return nil
		}})
	}
	for _, g := range leave {
		ch.Details = append(ch.Details, "- member of    "+g)
		if gid := memberOf[g]; gid != "" {
			steps = append(steps, step{phaseLeave, func(ctx context.Context, r *run) error {
				if err := r.api.RemoveMembers(ctx, gid, subject(r)); err != nil {
					return fmt.Errorf("client %q: leaving group %q: %w", want.Name, g, err)
				}
				return nil
			}})
		}
	}
	if ch.Op == Update && len(ch.Details) == 0 {
		return nil
	}
	p.add(ch, steps...)
	return nil
}

// keySteps adds keys the document lists and the client lacks (by kid), and
// removes those it has and the document does not list. A key's material is
// never read back, so a changed key needs a new kid.
func keySteps(ch *Change, have []apiclient.Key, want Client) []step {
	var steps []step
	haveByKid := map[string]apiclient.Key{}
	for _, k := range have {
		haveByKid[k.Kid] = k
	}
	wantKids := map[string]bool{}
	for _, k := range want.PublicKeys {
		wantKids[k.Kid()] = true
		if _, ok := haveByKid[k.Kid()]; ok {
			continue
		}
		ch.Details = append(ch.Details, "+ public key   kid "+k.Kid())
		steps = append(steps, step{phaseClients, func(ctx context.Context, r *run) error {
			desc := k.Description
			if desc == "" {
				desc = "Declared in the desired state"
			}
			if _, err := r.api.CreateKey(ctx, r.clients[want.Name], k.JWK, desc, nil); err != nil {
				return fmt.Errorf("client %q: adding key %q: %w", want.Name, k.Kid(), err)
			}
			return nil
		}})
	}
	for _, k := range have {
		if wantKids[k.Kid] {
			continue
		}
		ch.Details = append(ch.Details, "- public key   kid "+k.Kid)
		steps = append(steps, step{phaseRevoke, func(ctx context.Context, r *run) error {
			if err := r.api.DeleteKey(ctx, r.clients[want.Name], k.ID); err != nil && !apiclient.IsNotFound(err) {
				return fmt.Errorf("client %q: removing key %q: %w", want.Name, k.Kid, err)
			}
			return nil
		}})
	}
	return steps
}

// fieldLines describes how a client's fields change from have to want; with
// all, every field of want is shown (a create).
func fieldLines(have, want apiclient.ClientSpec, all bool) []string {
	var lines []string
	field := func(name string, h, w any) {
		hs, ws := show(h), show(w)
		switch {
		case all && ws != "[]" && ws != "0" && ws != "{}":
			lines = append(lines, fmt.Sprintf("+ %-12s %s", name, ws))
		case !all && hs != ws:
			lines = append(lines, fmt.Sprintf("~ %-12s %s → %s", name, hs, ws))
		}
	}
	if !all {
		field("name", have.Name, want.Name)
	}
	field("description", have.Description, want.Description)
	field("grantTypes", sorted(have.AllowedGrantTypes), sorted(want.AllowedGrantTypes))
	field("scopes", sorted(have.AllowedScopes), sorted(want.AllowedScopes))
	field("redirectUris", sorted(have.RedirectURIs), sorted(want.RedirectURIs))
	field("audiences", sorted(have.AllowedAudiences), sorted(want.AllowedAudiences))
	field("lifetime", have.AccessTokenLifetime, want.AccessTokenLifetime)
	field("tokenClaims", have.TokenClaims, want.TokenClaims)
	return lines
}

func sorted(l []string) []string {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		return "[" + strings.Join(v, " ") + "]"
	case map[string]string:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+"="+v[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	default:
		return fmt.Sprint(v)
	}
}

// planUnlisted deletes (with Prune) or notes what the document does not list.
func (p *Plan) planUnlisted(doc Document, clients []apiclient.ClientRecord, groups []apiclient.Group, opts Options, callerGroups []string) {
	declaredC, declaredG := declaredClients(doc), declaredGroups(doc)
	for _, c := range clients {
		switch {
		case slices.Contains(declaredC, c.Name):
		case c.ClientID == opts.Caller:
			if opts.Prune {
				p.Notes = append(p.Notes, fmt.Sprintf("client %q (%s) is the one applying; it is never pruned", c.Name, c.ClientID))
			}
		case OwnedByStack(c.Description):
			if opts.Prune {
				p.Notes = append(p.Notes, fmt.Sprintf("client %q (%s) belongs to a CloudFormation stack; it is never pruned", c.Name, c.ClientID))
			}
		case opts.Prune:
			id := c.ClientID
			name := c.Name
			p.add(Change{Op: Delete, Kind: "client", Name: name, ID: id}, step{phaseDeleteClients, func(ctx context.Context, r *run) error {
				if err := r.api.DeleteClient(ctx, id); err != nil && !apiclient.IsNotFound(err) {
					return fmt.Errorf("deleting client %q: %w", name, err)
				}
				return nil
			}})
		default:
			p.Notes = append(p.Notes, fmt.Sprintf("client %q (%s) is not in the document; --prune would delete it", c.Name, c.ClientID))
		}
	}
	for _, g := range groups {
		switch {
		case slices.Contains(declaredG, g.DisplayName):
		case slices.Contains(callerGroups, g.ID):
			p.Notes = append(p.Notes, fmt.Sprintf("group %q (%s) has the applying client as a member; it is never pruned", g.DisplayName, g.ID))
		case opts.Prune:
			id, name := g.ID, g.DisplayName
			p.add(Change{Op: Delete, Kind: "group", Name: name, ID: id}, step{phaseDeleteGroups, func(ctx context.Context, r *run) error {
				if err := r.api.DeleteGroup(ctx, id); err != nil && !apiclient.IsNotFound(err) {
					return fmt.Errorf("deleting group %q: %w", name, err)
				}
				return nil
			}})
		default:
			p.Notes = append(p.Notes, fmt.Sprintf("group %q (%s) is not in the document; --prune would delete it", g.DisplayName, g.ID))
		}
	}
}

// diff returns what want has and have lacks, and the reverse; both sorted.
func diff(have, want []string) (add, remove []string) {
	return diffFunc(sorted(have), sorted(want))
}

func diffFunc[T comparable](have, want []T) (add, remove []T) {
	inHave := make(map[T]bool, len(have))
	for _, h := range have {
		inHave[h] = true
	}
	inWant := make(map[T]bool, len(want))
	for _, w := range want {
		inWant[w] = true
		if !inHave[w] {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !inWant[h] {
			remove = append(remove, h)
		}
	}
	return add, remove
}

// Apply makes the plan's changes, in phase order, and stops at the first
// failure; planning again shows what is left. sink receives every generated
// secret; it may be nil when NeedsSecretOutput is false.
func (p *Plan) Apply(ctx context.Context, api API, sink SecretSink) error {
	if p.NeedsSecretOutput() && sink == nil {
		return fmt.Errorf("%d new client(s) get a generated secret: name where it goes", p.newSecrets)
	}
	r := &run{api: api, clients: maps.Clone(p.clientIDs), groups: maps.Clone(p.groupIDs), secrets: sink, tenant: p.Tenant}
	defer func() { p.clientIDs = r.clients }()
	steps := slices.Clone(p.steps)
	slices.SortStableFunc(steps, func(a, b step) int { return a.phase - b.phase })
	for _, s := range steps {
		if err := s.run(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Write prints the plan the way terraform plan does.
func (p *Plan) Write(w io.Writer) {
	if !p.HasChanges() {
		fmt.Fprintf(w, "No changes: tenant %q matches the document.\n", p.Tenant)
	} else {
		fmt.Fprintf(w, "Changes to tenant %q:\n\n", p.Tenant)
	}
	counts := map[Op]int{}
	for _, c := range p.Changes {
		counts[c.Op]++
		id := ""
		if c.ID != "" {
			id = " (" + c.ID + ")"
		}
		fmt.Fprintf(w, "  %s %s %q%s\n", c.Op, c.Kind, c.Name, id)
		for _, d := range c.Details {
			fmt.Fprintf(w, "      %s\n", d)
		}
	}
	if p.HasChanges() {
		fmt.Fprintf(w, "\nPlan: %d to create, %d to change, %d to delete.\n", counts[Create], counts[Update], counts[Delete])
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}
