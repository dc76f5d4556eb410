package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// An apply manages only what it can prove is its own: the objects that the
// applying client created from a document of the same name under the same
// declared name, as the server recorded at their creation (provenance). A
// client or group that merely has the declared name (which anyone allowed
// to rename or create one can give it) is never adopted, granted rights or
// pruned; taking one over is explicit, by id in the document, shown in the
// plan, and needs all that the object holds.

// object is what matching needs of a client or group.
type object struct {
	id, name, subjectID string
	prov                provenance.Record
}

func clientObject(c apiclient.ClientRecord) object {
	return object{id: c.ClientID, name: c.Name, subjectID: c.SubjectID, prov: c.Provenance.Record()}
}

func groupObject(g wire.Group) object {
	return object{id: g.ID, name: g.DisplayName, subjectID: g.SubjectID, prov: g.Provenance.Record()}
}

// declared is a document entry: its declared name and, for a takeover, id.
type declared struct{ name, id string }

// matched is the existing object a declared entry manages, if any.
type matched struct {
	index    int  // into the existing objects; -1 for none (create it)
	takeover bool // named by id, not created by this applier for it
}

// matcher matches what a document declares to what the applier (me)
// created from it (document), noting in notes what only shares a name.
type matcher struct {
	me, document string
	notes        *[]string
}

// match finds, for each declared entry, the object it manages: the one
// named by id, or the one the applier created for that name from this
// document. Objects that only share the name are noted, never adopted.
func (mt matcher) match(kind string, decls []declared, existing []object) (map[string]matched, error) {
	me, document, notes := mt.me, mt.document, mt.notes
	out := make(map[string]matched, len(decls))
	claimed := map[int]string{}
	for _, d := range decls {
		m := matched{index: -1}
		for i, o := range existing {
			switch {
			case d.id != "" && o.id == d.id:
				m = matched{index: i, takeover: !o.prov.Applied(me, document, d.name)}
			case d.id == "" && o.prov.Applied(me, document, d.name):
				if m.index >= 0 {
					return nil, fmt.Errorf("%s %q: this document's applies made two (%s and %s); delete one, or name the one to keep with id",
						kind, d.name, existing[m.index].id, o.id)
				}
				m.index = i
			}
		}
		if d.id != "" && m.index < 0 {
			return nil, fmt.Errorf("%s %q: the tenant has no %s with id %s", kind, d.name, kind, d.id)
		}
		if other, dup := claimed[m.index]; dup && m.index >= 0 {
			return nil, fmt.Errorf("%ss %q and %q both name %s %s", kind, other, d.name, kind, existing[m.index].id)
		}
		if m.index >= 0 {
			claimed[m.index] = d.name
		}
		if m.index < 0 {
			for _, o := range existing {
				if o.name == d.name {
					*notes = append(*notes, fmt.Sprintf("%s %q (%s) has the declared name but was %s: it is not adopted, and a new %s is created; "+
						"to take it over instead, give its id in the document", kind, o.name, o.id, o.prov, kind))
				}
			}
		}
		out[d.name] = m
	}
	return out, nil
}

// takeoverLacks lists what the applier lacks of what a taken-over subject
// holds: each of its effective permissions, checked for the applier, and a
// client's OAuth scopes. Taking an object over hands the document's rights
// over it to the applier, so it must hold all of it, as the server's
// no-escalation rule asks of any change to it.
func takeoverLacks(ctx context.Context, api API, subjectID string, target *wire.ClientSpec) ([]string, error) {
	var lacks []string
	perms, err := api.Permissions(ctx, subjectID)
	if err != nil {
		return nil, fmt.Errorf("reading what %s holds: %w", subjectID, err)
	}
	for _, p := range perms {
		d, err := api.Check(ctx, api.Subject(), p.Action, p.Scope)
		if err != nil {
			return nil, fmt.Errorf("checking %s on %s: %w", p.Action, p.Scope, err)
		}
		if !d.Allowed {
			lacks = append(lacks, p.Action+" on "+p.Scope)
		}
	}
	if target == nil {
		return lacks, nil
	}
	if owner, err := api.Check(ctx, api.Subject(), "owner", "/"); err != nil || owner.Allowed {
		return lacks, err
	}
	me, err := api.GetClient(ctx, idOfSubject(api.Subject()))
	if err != nil {
		return nil, fmt.Errorf("reading the applying client: %w", err)
	}
	// Every right a client's fields bear, compared as the server compares
	// them (an absent lifetime or audience list is the deployment's).
	return append(lacks, rightsOf(me.ClientSpec).Lacking(rightsOf(*target))...), nil
}

// rightsOf is what a client's fields let it obtain in its tokens.
func rightsOf(c wire.ClientSpec) policy.TokenRights {
	return policy.TokenRights{OAuthScopes: c.AllowedScopes, GrantTypes: c.AllowedGrantTypes, Audiences: c.AllowedAudiences,
		Claims: c.TokenClaims, Lifetime: time.Duration(c.AccessTokenLifetime) * time.Second, RedirectURIs: c.RedirectURIs,
	}.Resolve("", 0)
}

// checkTakeover refuses a takeover of subjectID unless the applier holds
// all of it, and returns the plan line that announces it.
func checkTakeover(ctx context.Context, api API, what string, o object, target *wire.ClientSpec) (string, error) {
	lacks, err := takeoverLacks(ctx, api, o.subjectID, target)
	if err != nil {
		return "", err
	}
	if len(lacks) > 0 {
		return "", fmt.Errorf("%s: taking over %s needs all it holds, and the applying client lacks %v", what, o.id, lacks)
	}
	return fmt.Sprintf("! takes over   %s, %s", o.id, o.prov), nil
}

func idOfSubject(s string) string {
	return strings.TrimPrefix(s, subject.ID(subject.Client, ""))
}
