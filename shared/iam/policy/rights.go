package policy

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// FieldClass says what a field of a stored or wire type is to the
// no-escalation rule. Every field of a client, group and credential type is
// classified in its package; a test fails on one that is not.
type FieldClass int

const (
	// RightsBearing fields confer or withhold rights: a change to one is
	// checked against what the caller holds (Lacks).
	RightsBearing FieldClass = iota + 1
	// Neutral fields confer nothing (a name, a description): a change to
	// one needs only the route's permission.
	Neutral
	// ServerSet fields are written by the server alone (ids, times,
	// versions, provenance); no request field reaches them.
	ServerSet
	// SetAtCreate fields are chosen by the caller of a create, or by the
	// server when the caller leaves them out, and never change afterwards
	// (a client's id): they confer nothing, as neutral fields, and no
	// replace reaches them.
	SetAtCreate
)

// DefaultAudience stands, in TokenRights.Audiences, for the deployment's
// default audience: the tenant's management API, which tokens carry when a
// client names no audience (or names that one).
const DefaultAudience = "(the management API)"

// TokenRights are what a client may obtain in or with its tokens: every
// rights-bearing field of a client besides its policies and groups.
type TokenRights struct {
	OAuthScopes []string
	GrantTypes  []string
	// Audiences are the audiences its tokens may carry: its allowed
	// audiences, or DefaultAudience when it names none.
	Audiences []string
	// Claims are the claims added to its tokens.
	Claims map[string]string
	// Lifetime is how long its tokens live; 0 for the deployment's.
	Lifetime time.Duration
	// RedirectURIs are where authorization codes may be delivered.
	RedirectURIs []string
}

// Resolve returns t with the deployment's values in place of the defaults:
// the tenant's management audience (managementAudience) counts as
// DefaultAudience, and a lifetime of 0 as defaultLifetime. Two clients'
// rights compare only once both are resolved the same way. Rights without a
// grant type are not a client's (a group or user obtains no tokens) and
// stay as they are.
func (t TokenRights) Resolve(managementAudience string, defaultLifetime time.Duration) TokenRights {
	if len(t.GrantTypes) == 0 {
		return t
	}
	out := t
	out.Audiences = nil
	for _, a := range t.Audiences {
		if a == managementAudience {
			a = DefaultAudience
		}
		if !slices.Contains(out.Audiences, a) {
			out.Audiences = append(out.Audiences, a)
		}
	}
	if len(out.Audiences) == 0 {
		out.Audiences = []string{DefaultAudience}
	}
	if out.Lifetime == 0 {
		out.Lifetime = defaultLifetime
	}
	return out
}

// Equal reports whether t and u bear the same rights, whatever the order
// of their lists.
func (t TokenRights) Equal(u TokenRights) bool {
	sameSet := func(a, b []string) bool {
		return len(difference(a, b)) == 0 && len(difference(b, a)) == 0
	}
	return sameSet(t.OAuthScopes, u.OAuthScopes) && sameSet(t.GrantTypes, u.GrantTypes) &&
		sameSet(t.Audiences, u.Audiences) && sameSet(t.RedirectURIs, u.RedirectURIs) &&
		maps.Equal(t.Claims, u.Claims) && t.Lifetime == u.Lifetime
}

// Lacking lists what a client with rights t may not obtain of conferred
// (see lacks), for callers outside a decision, such as a plan.
func (t TokenRights) Lacking(conferred TokenRights) []string { return t.lacks(conferred) }

// lacks lists what holder may not obtain of conferred, both resolved:
// every OAuth scope, grant type, audience, redirect URI and claim conferred
// that holder lacks, and a lifetime longer than holder's own.
func (t TokenRights) lacks(conferred TokenRights) []string {
	var out []string
	for _, list := range []struct {
		what            string
		held, conferred []string
	}{
		{"OAuth scope ", t.OAuthScopes, conferred.OAuthScopes},
		{"grant type ", t.GrantTypes, conferred.GrantTypes},
		{"audience ", t.Audiences, conferred.Audiences},
		{"redirect URI ", t.RedirectURIs, conferred.RedirectURIs},
	} {
		for _, v := range difference(list.conferred, list.held) {
			out = append(out, list.what+v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(conferred.Claims)) {
		if v, ok := t.Claims[k]; !ok || v != conferred.Claims[k] {
			out = append(out, "token claim "+k+"="+conferred.Claims[k])
		}
	}
	if conferred.Lifetime > t.Lifetime {
		out = append(out, "token lifetime "+conferred.Lifetime.String())
	}
	return out
}

// difference returns the distinct elements of a that b lacks, in a's order.
func difference(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Unclassified lists the fields of types (structs) that fields does not
// classify, as Type.Field: the test of every package with a stored or wire
// type calls it, so that no field escapes the no-escalation rule unnoticed.
// Embedded structs are walked into.
func Unclassified(fields map[string]FieldClass, types ...reflect.Type) []string {
	var out []string
	for _, typ := range types {
		for f := range typ.Fields() {
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				out = append(out, Unclassified(fields, f.Type)...)
				continue
			}
			if _, ok := fields[f.Name]; !ok {
				out = append(out, typ.Name()+"."+f.Name)
			}
		}
	}
	return out
}

// UnclassifiedWire lists the JSON members of wire types (structs) that
// wire does not map to a domain field (member name → field name), or that
// it maps to a field fields does not classify: the same guard as
// Unclassified, for what crosses the API. The members of an embedded
// struct count as the embedding type's, as encoding/json promotes them.
func UnclassifiedWire(wire map[string]string, fields map[string]FieldClass, types ...reflect.Type) []string {
	var out []string
	for _, typ := range types {
		for f := range typ.Fields() {
			member, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && member == "" && f.Type.Kind() == reflect.Struct {
				out = append(out, UnclassifiedWire(wire, fields, f.Type)...)
				continue
			}
			if member == "" || member == "-" {
				continue
			}
			if _, ok := fields[wire[member]]; !ok {
				out = append(out, typ.Name()+"."+member)
			}
		}
	}
	return out
}
