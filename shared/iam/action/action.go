// Package action holds the deployment's action catalog: the tree of
// dot-notation IAM actions that policies may name. A policy on an action
// covers that action and every descendant; the root, owner, covers
// everything. The deployment's catalog is built from the declaration of its
// APIs (package apis) and the APIs each tenant registers.
package action

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Owner is the root action.
const Owner = "owner"

// Action is one catalog entry.
type Action struct {
	Name        string
	Parent      string // "" for the root
	Description string
}

// Catalog is a validated action tree, with the names of retired actions.
type Catalog struct {
	actions []Action
	parent  map[string]string
	retired map[string]bool
}

var name = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*$`)

// Parse reads and validates a catalog document: exactly one root named
// owner, every parent listed before its children, no duplicates. Actions
// taken out of the catalog are listed under "retired": policies naming them
// stay stored but inert, and a retired name can never be an action again,
// so such policies cannot start working by accident.
func Parse(doc []byte) (*Catalog, error) {
	var file struct {
		Actions []struct {
			Action      string  `json:"action"`
			Parent      *string `json:"parent"`
			Description string  `json:"description"`
		} `json:"actions"`
		Retired []string `json:"retired"`
	}
	if err := json.Unmarshal(doc, &file); err != nil {
		return nil, err
	}
	actions := make([]Action, len(file.Actions))
	for i, a := range file.Actions {
		actions[i] = Action{Name: a.Action, Description: a.Description}
		if a.Parent != nil {
			actions[i].Parent = *a.Parent
		}
	}
	return New(actions, file.Retired)
}

// New validates a catalog as Parse does: the root owner first, every parent
// listed before its children, no duplicates, no retired name.
func New(actions []Action, retired []string) (*Catalog, error) {
	c := &Catalog{parent: map[string]string{}, retired: map[string]bool{}}
	for _, a := range retired {
		if !ValidName(a) || a == Owner {
			return nil, fmt.Errorf("retired %q is not a retirable action name", a)
		}
		c.retired[a] = true
	}
	for i, a := range actions {
		if !ValidName(a.Name) {
			return nil, fmt.Errorf("entry %d: %q is not a dot-notation action", i, a.Name)
		}
		if c.retired[a.Name] {
			return nil, fmt.Errorf("entry %d: %q was retired and cannot return; name the action anew", i, a.Name)
		}
		if _, dup := c.parent[a.Name]; dup {
			return nil, fmt.Errorf("entry %d: %q is listed twice", i, a.Name)
		}
		switch {
		case a.Name == Owner && a.Parent != "":
			return nil, fmt.Errorf("%s is the root and has no parent", Owner)
		case a.Name != Owner && a.Parent == "":
			return nil, fmt.Errorf("entry %d: %q needs a parent (the root is %s)", i, a.Name, Owner)
		case a.Parent != "" && !c.Has(a.Parent):
			return nil, fmt.Errorf("entry %d: parent %q of %q must be listed before it", i, a.Parent, a.Name)
		}
		c.parent[a.Name] = a.Parent
		c.actions = append(c.actions, a)
	}
	if !c.Has(Owner) {
		return nil, fmt.Errorf("the catalog must start with the root %s", Owner)
	}
	return c, nil
}

// ValidName reports whether a is a dot-notation action name, in the
// catalog or not.
func ValidName(a string) bool { return len(a) <= maxNameLength && name.MatchString(a) }

// maxNameLength bounds action names, which end up in storage keys.
const maxNameLength = 200

// Retired reports whether a was taken out of the catalog.
func (c *Catalog) Retired(a string) bool { return c.retired[a] }

// Has reports whether a is in the catalog.
func (c *Catalog) Has(a string) bool {
	_, ok := c.parent[a]
	return ok
}

// All lists the catalog in file order (parents before children).
func (c *Catalog) All() []Action { return append([]Action(nil), c.actions...) }

// Covers reports whether a policy on granted allows requested: granted is
// requested or one of its ancestors. Actions outside the catalog cover and
// are covered by nothing.
func (c *Catalog) Covers(granted, requested string) bool {
	if !c.Has(granted) || !c.Has(requested) {
		return false
	}
	for a := requested; a != ""; a = c.parent[a] {
		if a == granted {
			return true
		}
	}
	return false
}

// Ancestors returns a and every action above it, nearest first: the actions
// whose policies grant a.
func (c *Catalog) Ancestors(a string) []string {
	if !c.Has(a) {
		return nil
	}
	var out []string
	for ; a != ""; a = c.parent[a] {
		out = append(out, a)
	}
	return out
}
