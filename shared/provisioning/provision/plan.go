package provision

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"

	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// API is what planning reads and applying writes; *apiclient.Client
// implements it.
type API interface {
	Tenant() string
	// Subject is the applying client's subject id: the creator the server
	// records for what an apply creates.
	Subject() string
	ListClients(ctx context.Context, search string) ([]apiclient.ClientRecord, error)
	GetClient(ctx context.Context, id string) (apiclient.ClientRecord, error)
	CreateClient(ctx context.Context, create wire.ClientCreate) (apiclient.ClientRecord, error)
	ReplaceClient(ctx context.Context, id string, spec wire.ClientSpec, etag string) (apiclient.ClientRecord, error)
	DeleteClient(ctx context.Context, id string) error
	ListSecrets(ctx context.Context, clientID string) ([]wire.Secret, error)
	CreateSecret(ctx context.Context, clientID, value, description string, expiration *time.Time) (wire.CreatedSecret, error)
	ImportSecret(ctx context.Context, clientID, value, description string, expiration *time.Time) (wire.Secret, error)
	DeleteSecret(ctx context.Context, clientID, secretID string) error
	ListKeys(ctx context.Context, clientID string) ([]wire.Key, error)
	CreateKey(ctx context.Context, clientID string, jwk json.RawMessage, description string, expiration *time.Time) (wire.Key, error)
	DeleteKey(ctx context.Context, clientID, keyID string) error
	ListFederatedCredentials(ctx context.Context, clientID string) ([]wire.FederatedCredential, error)
	CreateFederatedCredential(ctx context.Context, clientID string, body wire.FederatedCredentialRequest) (wire.FederatedCredential, error)
	DeleteFederatedCredential(ctx context.Context, clientID, credentialID string) error
	ListPolicies(ctx context.Context, f apiclient.PolicyFilter) ([]wire.Policy, error)
	Grant(ctx context.Context, p wire.Policy) (wire.Policy, error)
	Revoke(ctx context.Context, p wire.Policy) error
	ListGroups(ctx context.Context) ([]wire.Group, error)
	CreateGroup(ctx context.Context, displayName, description string, via *wire.Provenance) (wire.Group, error)
	DeleteGroup(ctx context.Context, id string) error
	Members(ctx context.Context, groupID string) ([]wire.Subject, error)
	AddMembers(ctx context.Context, groupID string, subjectIDs ...string) error
	RemoveMembers(ctx context.Context, groupID string, subjectIDs ...string) error
	Memberships(ctx context.Context, subject string) ([]wire.Group, error)
	RevokeTokens(ctx context.Context, clientID string) error
	ListAPIs(ctx context.Context) ([]wire.API, error)
	CreateAPI(ctx context.Context, req wire.APIRequest) (wire.API, error)
	ReplaceAPI(ctx context.Context, id string, req wire.APIRequest) (wire.API, error)
	DeleteAPI(ctx context.Context, id string) error
	Permissions(ctx context.Context, subject string) ([]wire.Permission, error)
	Check(ctx context.Context, subject, action, scope string) (wire.Decision, error)
	// ListActions and ScopesSupported are the deployment's catalogs,
	// which a plan checks the document against (Validate).
	ListActions(ctx context.Context) ([]wire.Action, error)
	ScopesSupported(ctx context.Context) ([]string, error)
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
	// document is the applied document's name, recorded with what the
	// apply creates.
	document string
	// clientIDs and groupIDs are the ids of what the document's entries
	// manage, by declared name.
	clientIDs, groupIDs, apiIDs map[string]string
	// newSecrets are the new clients that get a generated secret.
	newSecrets int
	// via, when set, is the provenance of what the plan creates (a
	// stack's); otherwise an apply of document.
	via *wire.Provenance
	// declaredGroups and declaredClients are the document's, for the
	// sweep at the end of an apply.
	declaredGroups  []Group
	declaredClients []Client
	// Swept lists what an apply removed that others added to what it
	// manages while it ran (sweep.go).
	Swept []string `json:"swept,omitempty"`
}

// Options tune a plan.
type Options struct {
	// Prune deletes the clients and groups that applies of this document
	// by this applier created and that it no longer lists.
	Prune bool
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
	// APIs come first, so that clients and policies may name their scopes
	// and actions, and their deletions last.
	phaseAPIs = iota
	phaseCreateGroups
	phaseClients
	phaseGrant
	phaseRevokeFromGroups
	phaseJoin
	phaseLeave
	phaseRevoke
	phaseDeleteClients
	phaseDeleteGroups
	phaseDeleteAPIs
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
	// created are the clients this apply created, and own the secrets and
	// keys it created: what the sweep keeps (sweep.go).
	created map[string]bool
	own     map[string]bool
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

// MakePlan reads the tenant and compares it with doc. Each declared client
// and group is matched to what it manages by provenance (see adopt.go).
func MakePlan(ctx context.Context, api API, doc Document, opts Options) (*Plan, error) {
	if doc.Tenant != "" && doc.Tenant != api.Tenant() {
		return nil, fmt.Errorf("the document is for tenant %q, the credentials for %q", doc.Tenant, api.Tenant())
	}
	if doc.Name == "" {
		doc.Name = DefaultName
	}
	if err := ValidateAgainst(ctx, api, doc); err != nil {
		return nil, err
	}
	p := &Plan{Tenant: api.Tenant(), Changes: []Change{}, document: doc.Name, clientIDs: map[string]string{}, groupIDs: map[string]string{},
		apiIDs: map[string]string{}, declaredGroups: doc.Groups, declaredClients: doc.Clients}
	clients, err := api.ListClients(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	groups, err := api.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	clientObjs, groupObjs := objects(clients, clientObject), objects(groups, groupObject)
	var clientDecls, groupDecls []declared
	for _, c := range doc.Clients {
		clientDecls = append(clientDecls, declared{c.Name, c.ID})
	}
	for _, g := range doc.Groups {
		groupDecls = append(groupDecls, declared{g.Name, g.ID})
	}
	mt := matcher{me: api.Subject(), document: doc.Name, notes: &p.Notes}
	clientFor, err := mt.match("client", clientDecls, clientObjs)
	if err != nil {
		return nil, err
	}
	groupFor, err := mt.match("group", groupDecls, groupObjs)
	if err != nil {
		return nil, err
	}
	for name, m := range clientFor {
		if m.index >= 0 {
			p.clientIDs[name] = clientObjs[m.index].id
		}
	}
	if err := checkChosenIDs(doc.Clients, clientFor, clientObjs); err != nil {
		return nil, err
	}
	for name, m := range groupFor {
		if m.index >= 0 {
			p.groupIDs[name] = groupObjs[m.index].id
		}
	}
	for _, c := range doc.Clients {
		for _, g := range c.Groups {
			if !slices.Contains(declaredGroups(doc), g) {
				return nil, fmt.Errorf("client %q joins group %q, which the document does not declare: declare it (with its id to take over a group the applying client did not create)", c.Name, g)
			}
		}
	}
	for _, g := range doc.Groups {
		if err := p.planGroup(ctx, api, doc, g, existingGroup(groups, groupFor[g.Name])); err != nil {
			return nil, err
		}
	}
	// Every client is planned, so that a plan names every value it cannot
	// use (an unreadable imported secret) at once.
	var errs []error
	for _, c := range doc.Clients {
		errs = append(errs, p.planClient(ctx, api, c, pick(clients, clientFor[c.Name]), true))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := p.planAPIs(ctx, api, doc, mt, opts); err != nil {
		return nil, err
	}
	p.planUnlisted(api.Subject(), clientObjs, groupObjs, opts)
	return p, nil
}

// checkChosenIDs refuses a clientId the plan cannot honour: one that
// differs from the id of the client the entry manages (ids are fixed at
// creation), or one a client the entry does not manage has already (a
// takeover is asked for with id, never implied).
func checkChosenIDs(decls []Client, matches map[string]matched, existing []object) error {
	var errs []error
	for _, c := range decls {
		m := matches[c.Name]
		switch {
		case c.ClientID == "":
		case c.ID != "" && c.ID != c.ClientID:
			errs = append(errs, fmt.Errorf("client %q: id %s and clientId %s differ; a client's id is fixed at creation", c.Name, c.ID, c.ClientID))
		case m.index >= 0 && existing[m.index].id != c.ClientID:
			errs = append(errs, fmt.Errorf("client %q: it exists with id %s, not clientId %s; a client's id is fixed at creation (delete it, or drop clientId)",
				c.Name, existing[m.index].id, c.ClientID))
		case m.index < 0:
			for _, o := range existing {
				if o.id == c.ClientID {
					errs = append(errs, fmt.Errorf("client %q: the tenant has a client with id %s (%q) that this document did not create; to take it over, give id: %s too",
						c.Name, o.id, o.name, o.id))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func objects[T any](items []T, view func(T) object) []object {
	out := make([]object, len(items))
	for i, it := range items {
		out[i] = view(it)
	}
	return out
}

// pick returns the object m matched, or nil.
func pick[T any](items []T, m matched) *T {
	if m.index < 0 {
		return nil
	}
	return &items[m.index]
}

func declaredGroups(doc Document) []string {
	names := make([]string, len(doc.Groups))
	for i, g := range doc.Groups {
		names[i] = g.Name
	}
	return names
}

func (p *Plan) add(c Change, steps ...step) {
	p.Changes = append(p.Changes, c)
	p.steps = append(p.steps, steps...)
}

// label is the provenance an apply gives what it creates for name.
func (p *Plan) label(name string) *wire.Provenance {
	if p.via != nil {
		return p.via
	}
	return &wire.Provenance{Via: provenance.ViaApply, Document: p.document, Name: name}
}

// managedGroup is an existing group a declared one manages.
type managedGroup struct {
	wire.Group
	takeover bool // named by id, not created by this document's applies
}

func existingGroup(groups []wire.Group, m matched) *managedGroup {
	if m.index < 0 {
		return nil
	}
	return &managedGroup{groups[m.index], m.takeover}
}

func (p *Plan) planGroup(ctx context.Context, api API, doc Document, want Group, have *managedGroup) error {
	ch := Change{Kind: "group", Name: want.Name}
	var havePolicies []Grant
	var members []wire.Subject
	if have == nil {
		ch.Op = Create
		ch.Details = append(ch.Details, fmt.Sprintf("+ description  %q", want.Description))
		p.steps = append(p.steps, step{phaseCreateGroups, func(ctx context.Context, r *run) error {
			g, err := r.api.CreateGroup(ctx, want.Name, want.Description, p.label(want.Name))
			if err != nil {
				return fmt.Errorf("creating group %q: %w", want.Name, err)
			}
			r.groups[want.Name] = g.ID
			return nil
		}})
	} else {
		ch.Op, ch.ID = Update, have.ID
		if have.takeover {
			line, err := checkTakeover(ctx, api, fmt.Sprintf("group %q", want.Name), groupObject(have.Group), nil)
			if err != nil {
				return err
			}
			ch.Details = append(ch.Details, line)
		}
		if have.Description != want.Description {
			p.Notes = append(p.Notes, fmt.Sprintf("group %q: its description is %q, the document says %q; groups cannot be changed in place, so this is left as it is",
				want.Name, have.Description, want.Description))
		}
		var err error
		if havePolicies, err = directPolicies(ctx, api, have.SubjectID); err != nil {
			return err
		}
		if members, err = api.Members(ctx, have.ID); err != nil {
			return fmt.Errorf("group %q: %w", want.Name, err)
		}
	}
	subjectOf := func(r *run) string { return subject.ID(subject.Group, r.groups[want.Name]) }
	steps := policySteps(&ch, havePolicies, want.Policies, policyTarget{subjectOf, "group " + want.Name, phaseRevokeFromGroups})
	steps = append(steps, p.memberSteps(&ch, doc, want, members)...)
	if ch.Op == Update && len(ch.Details) == 0 {
		return nil
	}
	p.add(ch, steps...)
	return nil
}

// memberSteps shows every member of a group and plans its users: declared
// users join, and any member the document does not declare (a user it does
// not list, a client that is not one of its clients) leaves. The
// document's own clients join and leave in their own changes.
func (p *Plan) memberSteps(ch *Change, doc Document, want Group, members []wire.Subject) []step {
	declaredClients := map[string]bool{}
	for _, c := range doc.Clients {
		if id := p.clientIDs[c.Name]; id != "" {
			declaredClients[subject.ID(subject.Client, id)] = true
		}
	}
	var have, shown []string
	for _, m := range members {
		shown = append(shown, fmt.Sprintf("%s (%q)", m.SubjectID, m.DisplayName))
		if m.Type == string(subject.User) || !declaredClients[m.SubjectID] {
			have = append(have, m.SubjectID)
		}
	}
	if len(shown) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("group %q (%s) has %d member(s): %s", want.Name, ch.ID, len(shown), strings.Join(shown, ", ")))
	}
	add, remove := diff(have, want.Users)
	var steps []step
	for _, u := range add {
		ch.Details = append(ch.Details, "+ member       "+u)
	}
	for _, m := range remove {
		ch.Details = append(ch.Details, "- member       "+m+" (not declared)")
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
	return steps
}

func directPolicies(ctx context.Context, api API, subjectID string) ([]Grant, error) {
	list, err := api.ListPolicies(ctx, apiclient.PolicyFilter{Subject: subjectID})
	if err != nil {
		return nil, fmt.Errorf("policies of %s: %w", subjectID, err)
	}
	grants := make([]Grant, 0, len(list))
	for _, pol := range list {
		if pol.Subject == subjectID {
			grants = append(grants, Grant{Action: pol.Action, Scope: pol.Scope})
		}
	}
	slices.SortFunc(grants, compareGrants)
	return grants, nil
}

// policySteps adds the policy lines of a subject's change and returns the
// steps that grant and revoke them.
// policyTarget is whose policies policySteps plans: its subject id once
// known (at apply), its name for messages, and the phase its revokes run in.
type policyTarget struct {
	subject     func(*run) string
	name        string
	revokePhase int
}

func policySteps(ch *Change, have, want []Grant, target policyTarget) []step {
	subjectOf, owner, revokePhase := target.subject, target.name, target.revokePhase
	var steps []step
	add, remove := diffFunc(have, want)
	for _, g := range add {
		ch.Details = append(ch.Details, "+ policy       "+g.String())
		steps = append(steps, step{phaseGrant, func(ctx context.Context, r *run) error {
			if _, err := r.api.Grant(ctx, wire.Policy{Subject: subjectOf(r), Action: g.Action, Scope: g.Scope}); err != nil {
				return fmt.Errorf("%s: granting %s: %w", owner, g, err)
			}
			return nil
		}})
	}
	for _, g := range remove {
		ch.Details = append(ch.Details, "- policy       "+g.String())
		steps = append(steps, step{revokePhase, func(ctx context.Context, r *run) error {
			err := r.api.Revoke(ctx, wire.Policy{Subject: subjectOf(r), Action: g.Action, Scope: g.Scope})
			if err != nil && !apiclient.IsNotFound(err) {
				return fmt.Errorf("%s: revoking %s: %w", owner, g, err)
			}
			return nil
		}})
	}
	return steps
}

// Spec is the client's create and replace body.
func (c Client) Spec() wire.ClientSpec {
	return wire.ClientSpec{
		Name: c.Name, Description: c.Description, AllowedGrantTypes: c.GrantTypes, AllowedScopes: c.Scopes,
		RedirectURIs: c.RedirectURIs, AllowedAudiences: c.Audiences, AccessTokenLifetime: c.AccessTokenLifetime,
		TokenClaims: c.TokenClaims,
	}
}

// PlanClient plans one client alone, whatever else the tenant holds: have
// is its current record, nil to create it (without a secret) with the
// provenance via. The groups it joins must exist, each named by its id.
func PlanClient(ctx context.Context, api API, want Client, have *apiclient.ClientRecord, via *wire.Provenance) (*Plan, error) {
	p := &Plan{Tenant: api.Tenant(), Changes: []Change{}, clientIDs: map[string]string{}, groupIDs: map[string]string{}, via: via}
	if len(want.Groups) > 0 {
		groups, err := api.ListGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing groups: %w", err)
		}
		for _, g := range want.Groups {
			if p.groupIDs[g], err = groupNamed(groups, g); err != nil {
				return nil, fmt.Errorf("client %q: %w", want.Name, err)
			}
		}
	}
	if have != nil {
		p.clientIDs[want.Name] = have.ClientID
	}
	return p, p.planClient(ctx, api, want, have, false)
}

// groupNamed finds the group whose id or subject id is name. A display
// name is refused: anyone allowed to create a group could create one under
// it, and a stack's client would join the squatter's group.
func groupNamed(groups []wire.Group, name string) (string, error) {
	for _, g := range groups {
		if g.ID == name || g.SubjectID == name {
			return g.ID, nil
		}
	}
	for _, g := range groups {
		if g.DisplayName == name {
			return "", fmt.Errorf("name group %q by its id (%s): a display name can be taken by anyone who may create groups", name, g.ID)
		}
	}
	return "", fmt.Errorf("the tenant has no group %q", name)
}

// ClientID is the id of the client named name, after Apply for one it
// created.
func (p *Plan) ClientID(name string) string { return p.clientIDs[name] }

// planClient plans want, matched to have (nil to create it); a new client
// without public keys gets a generated secret when generateSecret.
func (p *Plan) planClient(ctx context.Context, api API, want Client, have *apiclient.ClientRecord, generateSecret bool) error {
	ch := Change{Kind: "client", Name: want.Name}
	var steps []step
	var current clientState
	if have == nil {
		ch.Op = Create
		st, err := p.createClientStep(&ch, want, generateSecret)
		if err != nil {
			return err
		}
		steps = append(steps, st)
	} else {
		if len(want.ImportSecrets) > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("client %q exists: its importSecrets are imported only when apply creates it, so they are left alone", want.Name))
		}
		ch.Op, ch.ID = Update, have.ClientID
		var err error
		if current, err = p.readClient(ctx, api, &ch, want, *have); err != nil {
			return err
		}
		steps = append(steps, current.replace...)
	}
	subjectOf := func(r *run) string { return subject.ID(subject.Client, r.clients[want.Name]) }
	steps = append(steps, keySteps(&ch, current.keys, want)...)
	steps = append(steps, federatedSteps(&ch, current.federated, want)...)
	steps = append(steps, policySteps(&ch, current.policies, want.Policies, policyTarget{subjectOf, "client " + want.Name, phaseRevoke})...)
	steps = append(steps, p.membershipSteps(&ch, want, current.groups, subjectOf)...)
	if ch.Op == Update && len(ch.Details) == 0 {
		return nil
	}
	p.add(ch, steps...)
	return nil
}

// clientState is what a plan reads of an existing client.
type clientState struct {
	replace   []step
	policies  []Grant
	groups    []wire.Group
	keys      []wire.Key
	federated []wire.FederatedCredential
}

// createClientStep plans a new client, with the provenance the server
// records, and its imported secrets or else its generated secret. Imported
// values are read now, so that a missing one fails the plan, not the
// apply.
func (p *Plan) createClientStep(ch *Change, want Client, generateSecret bool) (step, error) {
	ch.Details = append(ch.Details, fieldLines(wire.ClientSpec{}, want.Spec(), true)...)
	if want.ClientID != "" {
		ch.Details = append(ch.Details, "+ clientId     "+want.ClientID)
	}
	imported := make([]string, len(want.ImportSecrets))
	var errs []error
	for i, is := range want.ImportSecrets {
		v, err := is.Read()
		if err == nil {
			if msgs := (secret.Spec{Value: v, Description: is.Description}).ValidateImported(time.Now()); len(msgs) > 0 {
				err = fmt.Errorf("%s", strings.Join(slices.Concat(msgs["value"], msgs["description"]), "; "))
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("client %q: importSecrets[%d] (%s): %w", want.Name, i, is.Source(), err))
		}
		imported[i] = v
		ch.Details = append(ch.Details, "+ secret       imported from "+is.Source())
	}
	if len(errs) > 0 {
		return step{}, errors.Join(errs...)
	}
	generate := generateSecret && len(want.PublicKeys) == 0 && len(want.ImportSecrets) == 0 && len(want.FederatedCredentials) == 0
	if generate {
		p.newSecrets++
		ch.Details = append(ch.Details, "+ secret       generated, written once to the secrets output")
	}
	return step{phaseClients, func(ctx context.Context, r *run) error {
		spec := want.Spec()
		spec.Provenance = p.label(want.Name)
		rec, err := r.api.CreateClient(ctx, wire.ClientCreate{ClientID: want.ClientID, ClientSpec: spec})
		if err != nil {
			return fmt.Errorf("creating client %q: %w", want.Name, err)
		}
		r.clients[want.Name] = rec.ClientID
		r.created[rec.ClientID] = true
		for i, v := range imported {
			sec, err := r.api.ImportSecret(ctx, rec.ClientID, v, want.ImportSecrets[i].Description, nil)
			if err != nil {
				return r.takeBack(ctx, want.Name, rec.ClientID, fmt.Errorf("client %q: importing its secret from %s: %w", want.Name, want.ImportSecrets[i].Source(), err))
			}
			r.own[sec.ID] = true
		}
		if !generate {
			return nil
		}
		value := rand.Text()
		sec, err := r.api.CreateSecret(ctx, rec.ClientID, value, "Generated by iamctl apply", nil)
		if err != nil {
			return r.takeBack(ctx, want.Name, rec.ClientID, fmt.Errorf("client %q: creating its secret: %w", want.Name, err))
		}
		r.own[sec.ID] = true
		return r.secrets(NewSecret{Tenant: r.tenant, Name: want.Name, ClientID: rec.ClientID, ClientSecret: value})
	}}, nil
}

// takeBack deletes a client just created whose credential failed, and
// returns err: a client left without its only credential would plan as
// unchanged forever.
func (r *run) takeBack(ctx context.Context, name, clientID string, err error) error {
	if derr := r.api.DeleteClient(ctx, clientID); derr == nil {
		delete(r.clients, name)
	}
	return err
}

// readClient reads an existing client's fields, policies, groups and keys,
// refusing a takeover the applier cannot make, and plans its replace.
func (p *Plan) readClient(ctx context.Context, api API, ch *Change, want Client, have apiclient.ClientRecord) (clientState, error) {
	var st clientState
	if p.via == nil && !have.Provenance.Record().Applied(api.Subject(), p.document, want.Name) {
		line, err := checkTakeover(ctx, api, fmt.Sprintf("client %q", want.Name), clientObject(have), &have.ClientSpec)
		if err != nil {
			return st, err
		}
		ch.Details = append(ch.Details, line)
	}
	etag := have.ETag
	lines := fieldLines(have.ClientSpec, want.Spec(), false)
	if etag == "" && len(lines) > 0 {
		// Listings carry no version: read the one this plan shows, so
		// that apply overwrites nothing changed since (412).
		cur, err := api.GetClient(ctx, have.ClientID)
		if err != nil {
			return st, fmt.Errorf("client %q: %w", want.Name, err)
		}
		etag, lines = cur.ETag, fieldLines(cur.ClientSpec, want.Spec(), false)
	}
	if len(lines) > 0 {
		ch.Details = append(ch.Details, lines...)
		id := have.ClientID
		st.replace = append(st.replace, step{phaseClients, func(ctx context.Context, r *run) error {
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
	if st.policies, err = directPolicies(ctx, api, have.SubjectID); err != nil {
		return st, err
	}
	if st.groups, err = api.Memberships(ctx, have.SubjectID); err != nil {
		return st, fmt.Errorf("memberships of client %q: %w", want.Name, err)
	}
	if st.keys, err = api.ListKeys(ctx, have.ClientID); err != nil {
		return st, fmt.Errorf("keys of client %q: %w", want.Name, err)
	}
	if st.federated, err = api.ListFederatedCredentials(ctx, have.ClientID); err != nil {
		return st, fmt.Errorf("federated credentials of client %q: %w", want.Name, err)
	}
	return st, nil
}

// membershipSteps joins the groups want declares that the client is not
// in, and leaves every other group it is in; groups are compared by id.
func (p *Plan) membershipSteps(ch *Change, want Client, in []wire.Group, subjectOf func(*run) string) []step {
	var steps []step
	member := map[string]bool{}
	for _, g := range in {
		member[g.ID] = true
	}
	wanted := map[string]bool{}
	for _, name := range want.Groups {
		gid := p.groupIDs[name]
		wanted[gid] = gid != ""
		if gid != "" && member[gid] {
			continue
		}
		ch.Details = append(ch.Details, "+ member of    "+name)
		steps = append(steps, step{phaseJoin, func(ctx context.Context, r *run) error {
			if err := r.api.AddMembers(ctx, r.groups[name], subjectOf(r)); err != nil {
				return fmt.Errorf("client %q: joining group %q: %w", want.Name, name, err)
			}
			return nil
		}})
	}
	for _, g := range in {
		if wanted[g.ID] {
			continue
		}
		ch.Details = append(ch.Details, fmt.Sprintf("- member of    %q (%s)", g.DisplayName, g.ID))
		steps = append(steps, step{phaseLeave, func(ctx context.Context, r *run) error {
			if err := r.api.RemoveMembers(ctx, g.ID, subjectOf(r)); err != nil {
				return fmt.Errorf("client %q: leaving group %q: %w", want.Name, g.DisplayName, err)
			}
			return nil
		}})
	}
	return steps
}

// keySteps adds keys the document lists and the client lacks (by kid), and
// removes those it has and the document does not list. A key's material is
// never read back, so a changed key needs a new kid.
func keySteps(ch *Change, have []wire.Key, want Client) []step {
	var steps []step
	haveByKid := map[string]wire.Key{}
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
			key, err := r.api.CreateKey(ctx, r.clients[want.Name], k.JWK, desc, nil)
			if err != nil {
				return fmt.Errorf("client %q: adding key %q: %w", want.Name, k.Kid(), err)
			}
			r.own[key.ID] = true
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

// federatedSteps adds the federated credentials the document lists and the
// client lacks, and removes those it has and the document does not list.
func federatedSteps(ch *Change, have []wire.FederatedCredential, want Client) []step {
	var steps []step
	kept := map[string]bool{}
	for _, f := range want.FederatedCredentials {
		i := slices.IndexFunc(have, func(h wire.FederatedCredential) bool { return !kept[h.ID] && f.Matches(h) })
		if i >= 0 {
			kept[have[i].ID] = true
			continue
		}
		ch.Details = append(ch.Details, "+ federated    "+f.String())
		steps = append(steps, step{phaseClients, func(ctx context.Context, r *run) error {
			desc := f.Description
			if desc == "" {
				desc = "Declared in the desired state"
			}
			typ := f.Type
			c, err := r.api.CreateFederatedCredential(ctx, r.clients[want.Name], wire.FederatedCredentialRequest{Type: &typ,
				Issuer: f.Issuer, Subject: f.Subject, Audience: f.Audience, Claims: f.Claims, JWKS: f.JWKS,
				Principal: f.Principal, RoleID: f.RoleID, Description: &desc})
			if err != nil {
				return fmt.Errorf("client %q: adding federated credential %s: %w", want.Name, f, err)
			}
			r.own[c.ID] = true
			return nil
		}})
	}
	for _, h := range have {
		if kept[h.ID] {
			continue
		}
		name := FederatedCredential{Type: h.Type, Issuer: h.Issuer, Subject: h.Subject, Principal: h.Principal}.String()
		ch.Details = append(ch.Details, "- federated    "+name)
		steps = append(steps, step{phaseRevoke, func(ctx context.Context, r *run) error {
			if err := r.api.DeleteFederatedCredential(ctx, r.clients[want.Name], h.ID); err != nil && !apiclient.IsNotFound(err) {
				return fmt.Errorf("client %q: removing federated credential %s: %w", want.Name, name, err)
			}
			return nil
		}})
	}
	return steps
}

// fieldLines describes how a client's fields change from have to want; with
// all, every field of want is shown (a create).
func fieldLines(have, want wire.ClientSpec, all bool) []string {
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

// planUnlisted deletes (with Prune) or notes what applies of this document
// by this applier created and the document no longer declares. Nothing
// else is ever pruned: not what others created, by hand, through another
// document or a stack, nor what a document took over by id.
func (p *Plan) planUnlisted(me string, clients, groups []object, opts Options) {
	managed := func(o object, ids map[string]string) bool {
		return o.prov.CreatedBy == me && o.prov.Via == provenance.ViaApply && o.prov.Document == p.document &&
			!slices.Contains(slices.Collect(maps.Values(ids)), o.id)
	}
	others := 0
	for _, c := range clients {
		if !managed(c, p.clientIDs) {
			if !slices.Contains(slices.Collect(maps.Values(p.clientIDs)), c.id) {
				others++
			}
			continue
		}
		p.unlisted(opts, "client", c, phaseDeleteClients, func(ctx context.Context, api API) error { return api.DeleteClient(ctx, c.id) })
	}
	for _, g := range groups {
		if !managed(g, p.groupIDs) {
			continue
		}
		p.unlisted(opts, "group", g, phaseDeleteGroups, func(ctx context.Context, api API) error { return api.DeleteGroup(ctx, g.id) })
	}
	if opts.Prune && others > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d other client(s) were not created by %s applying document %q; --prune leaves them alone", others, me, p.document))
	}
}

// unlisted plans the deletion of o (with Prune), or notes it.
func (p *Plan) unlisted(opts Options, kind string, o object, phase int, del func(context.Context, API) error) {
	if !opts.Prune {
		p.Notes = append(p.Notes, fmt.Sprintf("%s %q (%s) was created by applying this document, which no longer declares it; --prune would delete it", kind, o.prov.Name, o.id))
		return
	}
	p.add(Change{Op: Delete, Kind: kind, Name: o.prov.Name, ID: o.id, Details: []string{"  " + o.prov.String()}}, step{phase, func(ctx context.Context, r *run) error {
		if err := del(ctx, r.api); err != nil && !apiclient.IsNotFound(err) {
			return fmt.Errorf("deleting %s %q: %w", kind, o.prov.Name, err)
		}
		return nil
	}})
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
	r := &run{api: api, clients: maps.Clone(p.clientIDs), groups: maps.Clone(p.groupIDs), secrets: sink, tenant: p.Tenant,
		created: map[string]bool{}, own: map[string]bool{}}
	defer func() { p.clientIDs = r.clients }()
	steps := slices.Clone(p.steps)
	slices.SortStableFunc(steps, func(a, b step) int { return a.phase - b.phase })
	var err error
	for _, s := range steps {
		if err = s.run(ctx, r); err != nil {
			break
		}
	}
	// The sweep runs after a failure too: what others added during the
	// apply must not outlive it.
	swept, sweepErr := p.sweep(ctx, r)
	p.Swept = append(p.Swept, swept...)
	return errors.Join(err, sweepErr)
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
