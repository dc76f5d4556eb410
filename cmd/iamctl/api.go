package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// clientFlags are the create and update flags.
type clientFlags struct {
	name, description                        string
	scopes, grantTypes, redirects, audiences stringList
	claims                                   stringList
	lifetime                                 int
}

func addClientFlags(f *flags) *clientFlags {
	c := &clientFlags{}
	f.StringVar(&c.name, "name", "", "name (1-200 characters)")
	f.StringVar(&c.description, "description", "", "description (1-1000 characters)")
	f.Var(&c.scopes, "scope", "allowed OAuth scope (repeatable)")
	f.Var(&c.grantTypes, "grant-type", "allowed grant type (repeatable; default client_credentials on create)")
	f.Var(&c.redirects, "redirect-uri", "redirect URI (repeatable)")
	f.Var(&c.audiences, "audience", "allowed token audience (repeatable)")
	f.IntVar(&c.lifetime, "lifetime", 0, "access token lifetime in seconds (0: the deployment's default)")
	f.Var(&c.claims, "claim", "token claim NAME=VALUE (repeatable)")
	return c
}

// apply writes the given flags over spec.
func (c *clientFlags) apply(f *flags, spec *wire.ClientSpec) error {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["name"] {
		spec.Name = c.name
	}
	if set["description"] {
		spec.Description = c.description
	}
	if set["scope"] {
		spec.AllowedScopes = c.scopes
	}
	if set["grant-type"] {
		spec.AllowedGrantTypes = c.grantTypes
	}
	if set["redirect-uri"] {
		spec.RedirectURIs = c.redirects
	}
	if set["audience"] {
		spec.AllowedAudiences = c.audiences
	}
	if set["lifetime"] {
		spec.AccessTokenLifetime = c.lifetime
	}
	if set["claim"] {
		m, err := keyValues("claim", c.claims)
		if err != nil {
			return err
		}
		spec.TokenClaims = m
	}
	return nil
}

// keyValues reads the NAME=VALUE arguments of a repeatable flag.
func keyValues(flagName string, kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, usagef("--%s %q is not NAME=VALUE", flagName, kv)
		}
		m[k] = v
	}
	return m, nil
}

func clientsList(f *flags) runner {
	search := f.String("search", "", "only clients whose name contains this (case-insensitive)")
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		cs, err := api.ListClients(ctx, *search)
		if err != nil {
			return err
		}
		return clientTable.print(f, cio.stdout, cs, cs...)
	}
}

func clientsCreate(f *flags) runner {
	cf := addClientFlags(f)
	chosen := f.String("client-id", "", "the client id to register it under (3-128 of A-Z a-z 0-9 . _ ~ -; default: a generated UUID)")
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		spec := wire.ClientSpec{AllowedGrantTypes: []string{"client_credentials"}}
		if err := cf.apply(f, &spec); err != nil {
			return err
		}
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		c, err := api.CreateClient(ctx, wire.ClientCreate{ClientID: *chosen, ClientSpec: spec})
		if err != nil {
			return err
		}
		return clientTable.print(f, cio.stdout, c, c)
	}
}

func clientsUpdate(f *flags) runner {
	cf := addClientFlags(f)
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		cur, err := api.GetClient(ctx, pos[0])
		if err != nil {
			return err
		}
		spec := cur.ClientSpec
		if err := cf.apply(f, &spec); err != nil {
			return err
		}
		// Conditional on the version read, so a concurrent change is not lost.
		c, err := api.ReplaceClient(ctx, pos[0], spec, cur.ETag)
		if err != nil {
			return err
		}
		return clientTable.print(f, cio.stdout, c, c)
	}
}

// idCommand is a command that takes ids and prints nothing on success.
func idCommand(do func(ctx context.Context, api *apiclient.Client, pos []string) error) func(*flags) runner {
	return func(f *flags) runner {
		return func(ctx context.Context, _ cmdIO, pos []string) error {
			api, err := f.api(ctx)
			if err != nil {
				return err
			}
			return do(ctx, api, pos)
		}
	}
}

var (
	clientsDelete = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.DeleteClient(ctx, pos[0])
	})
	clientsRevokeTokens = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.RevokeTokens(ctx, pos[0])
	})
	secretsDelete = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.DeleteSecret(ctx, pos[0], pos[1])
	})
	keysDelete = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.DeleteKey(ctx, pos[0], pos[1])
	})
	policiesRevoke = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.Revoke(ctx, wire.Policy{Subject: pos[0], Action: pos[1], Scope: pos[2]})
	})
	groupsDelete = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.DeleteGroup(ctx, pos[0])
	})
	groupsAdd = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.AddMembers(ctx, pos[0], pos[1:]...)
	})
	groupsRemove = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.RemoveMembers(ctx, pos[0], pos[1:]...)
	})
)

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func expiration(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, usagef("--expires %q is not an RFC 3339 time", s)
	}
	return &t, nil
}

// secretsCreate generates a value (or reads one) and shows it this once:
// on standard output, or in a new file only its owner can read.
func secretsCreate(f *flags) runner {
	desc := f.String("description", "", "description (1-200 characters)")
	expires := f.String("expires", "", "expiration, RFC 3339 (default: never)")
	valueFile := f.String("value-file", "", "read the value from this file (- for standard input) instead of generating one")
	out := f.String("out", "-", "write the created secret, with its value, to this new file (mode 0600); - is standard output")
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		exp, err := expiration(*expires)
		if err != nil {
			return err
		}
		// 26 characters of base32 (130 bits), inside the API's 8-32 limit.
		value := rand.Text()
		if *valueFile != "" {
			b, err := readInput(cio, *valueFile, 1024)
			if err != nil {
				return err
			}
			value = strings.TrimRight(string(b), "\r\n")
		}
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		// The file is made first, so a secret is never created with nowhere
		// to show it.
		var file *os.File
		if *out != "-" {
			if file, err = createSecretFile(*out); err != nil {
				return usagef("--out: %v (it must not exist yet)", err)
			}
			defer file.Close()
		}
		s, err := api.CreateSecret(ctx, pos[0], value, *desc, exp)
		if err != nil {
			if file != nil {
				os.Remove(*out)
			}
			return err
		}
		s.Value = value
		b, _ := json.MarshalIndent(s, "", "  ")
		b = append(b, '\n')
		if file == nil {
			_, err = cio.stdout.Write(b)
			return err
		}
		if _, err := file.Write(b); err != nil {
			return fmt.Errorf("secret %s was created, but writing it failed (delete it and try again): %w", s.ID, err)
		}
		fmt.Fprintf(cio.stderr, "secret %s written to %s\n", s.ID, *out)
		return file.Close()
	}
}

func keysAdd(f *flags) runner {
	jwkFile := f.String("jwk", "", "file holding the public JWK (- for standard input)")
	desc := f.String("description", "", "description (1-200 characters)")
	expires := f.String("expires", "", "expiration, RFC 3339 (default: never)")
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		if *jwkFile == "" {
			return usagef("--jwk is required")
		}
		exp, err := expiration(*expires)
		if err != nil {
			return err
		}
		jwk, err := readInput(cio, *jwkFile, 64<<10)
		if err != nil {
			return err
		}
		if !json.Valid(jwk) {
			return usagef("--jwk %s does not hold JSON", *jwkFile)
		}
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		k, err := api.CreateKey(ctx, pos[0], jwk, *desc, exp)
		if err != nil {
			return err
		}
		return f.print(cio.stdout, k, []string{"KEY ID", "KID", "ALG", "DESCRIPTION"}, [][]string{{k.ID, k.Kid, orDash(k.Alg), k.Description}})
	}
}

func policiesList(f *flags) runner {
	var filter apiclient.PolicyFilter
	f.StringVar(&filter.Subject, "subject", "", "only this subject's policies")
	f.StringVar(&filter.Action, "action", "", "only policies on this action")
	f.StringVar(&filter.Scope, "scope", "", "only policies on this scope")
	f.BoolVar(&filter.Inherited, "inherited", false, "with --subject, also its groups' policies")
	f.BoolVar(&filter.Derived, "derived", false, "also policies on ancestor actions and scopes")
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		ps, err := api.ListPolicies(ctx, filter)
		if err != nil {
			return err
		}
		return policyTable.print(f, cio.stdout, ps, ps...)
	}
}

func policiesGrant(f *flags) runner {
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		p, err := api.Grant(ctx, wire.Policy{Subject: pos[0], Action: pos[1], Scope: pos[2]})
		if err != nil {
			return err
		}
		return policyTable.print(f, cio.stdout, p, p)
	}
}

func groupsCreate(f *flags) runner {
	name := f.String("name", "", "display name (1-200 characters)")
	desc := f.String("description", "", "description (up to 1000 characters)")
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		g, err := api.CreateGroup(ctx, *name, *desc, nil)
		if err != nil {
			return err
		}
		return groupTable.print(f, cio.stdout, g, g)
	}
}

// check prints the decision and exits 0 when allowed, 3 when not.
func check(f *flags) runner {
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		d, err := api.Check(ctx, pos[0], pos[1], pos[2])
		if err != nil {
			return err
		}
		rows := [][]string{}
		for _, g := range d.GrantedBy {
			rows = append(rows, []string{"allowed", g.Subject, g.Action, g.Scope})
		}
		if !d.Allowed {
			rows = append(rows, []string{"denied", "-", "-", "-"})
		}
		if err := f.print(cio.stdout, d, []string{"DECISION", "GRANTED BY", "ACTION", "SCOPE"}, rows); err != nil {
			return err
		}
		if !d.Allowed {
			return exitCode(exitDenied)
		}
		return nil
	}
}

// The tables values print as.
var (
	clientTable = table[apiclient.ClientRecord]{[]string{"CLIENT ID", "NAME", "SCOPES", "GRANT TYPES", "UPDATED"},
		func(c apiclient.ClientRecord) []string {
			return []string{c.ClientID, c.Name, list(c.AllowedScopes), list(c.AllowedGrantTypes), c.UpdatedAt}
		}}
	secretTable = table[wire.Secret]{[]string{"SECRET ID", "DESCRIPTION", "EXPIRES", "EXPIRED", "CREATED", "LAST USED"},
		func(s wire.Secret) []string {
			return []string{s.ID, s.Description, orDash(deref(s.Expiration)), strconv.FormatBool(s.Expired), s.CreatedAt, orNever(s.LastUsedAt)}
		}}
	keyTable = table[wire.Key]{[]string{"KEY ID", "KID", "ALG", "DESCRIPTION", "EXPIRES", "CREATED", "LAST USED"},
		func(k wire.Key) []string {
			return []string{k.ID, k.Kid, orDash(k.Alg), k.Description, orDash(deref(k.Expiration)), k.CreatedAt, orNever(k.LastUsedAt)}
		}}
	policyTable = table[wire.Policy]{[]string{"SUBJECT", "ACTION", "SCOPE", "CREATED"},
		func(p wire.Policy) []string { return []string{p.Subject, p.Action, p.Scope, p.CreatedAt} }}
	actionTable = table[wire.Action]{[]string{"ACTION", "PARENT", "DESCRIPTION"},
		func(a wire.Action) []string { return []string{a.Action, orDash(deref(a.Parent)), a.Description} }}
	groupTable = table[wire.Group]{[]string{"GROUP ID", "NAME", "DESCRIPTION", "CREATED"},
		func(g wire.Group) []string { return []string{g.ID, g.DisplayName, g.Description, g.CreatedAt} }}
	subjectTable = table[wire.Subject]{[]string{"SUBJECT", "TYPE", "NAME"},
		func(s wire.Subject) []string { return []string{s.SubjectID, s.Type, s.DisplayName} }}
	permissionTable = table[wire.Permission]{[]string{"ACTION", "SCOPE", "GRANTED BY"},
		func(p wire.Permission) []string {
			var by []string
			for _, g := range p.GrantedBy {
				by = append(by, g.Subject)
			}
			return []string{p.Action, p.Scope, list(by)}
		}}
)

// The commands that read and print.
var (
	clientsGet = readCommand(clientTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []apiclient.ClientRecord, error) {
		return one(api.GetClient(ctx, pos[0]))
	})
	secretsList = readCommand(secretTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.Secret, error) {
		return all(api.ListSecrets(ctx, pos[0]))
	})
	keysList = readCommand(keyTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.Key, error) {
		return all(api.ListKeys(ctx, pos[0]))
	})
	actionsList = readCommand(actionTable, func(ctx context.Context, api *apiclient.Client, _ []string) (any, []wire.Action, error) {
		return all(api.ListActions(ctx))
	})
	groupsList = readCommand(groupTable, func(ctx context.Context, api *apiclient.Client, _ []string) (any, []wire.Group, error) {
		return all(api.ListGroups(ctx))
	})
	groupsGet = readCommand(groupTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.Group, error) {
		return one(api.GetGroup(ctx, pos[0]))
	})
	groupsMembers = readCommand(subjectTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.Subject, error) {
		return all(api.Members(ctx, pos[0]))
	})
	subjectsMemberships = readCommand(groupTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.Group, error) {
		return all(api.Memberships(ctx, pos[0]))
	})
	subjectsPermissions = readCommand(permissionTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.Permission, error) {
		return all(api.Permissions(ctx, pos[0]))
	})
)
