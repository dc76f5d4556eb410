package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one iamctl command. The table below is both what run
// dispatches on and what help prints, so the two cannot disagree.
type command struct {
	group    string // the noun of a two-word command ("clients"); "" for one word
	name     string // "list", or the one word ("check")
	section  string // the heading help lists it under
	synopsis string // its arguments and main flags, as usage lines show them
	about    string // what it does, in a line
	// nargs is how many positional arguments it takes; -n means n or more.
	nargs  int
	common common
	// flags declares the command's own flags on f and returns what runs
	// it, which sees them parsed and the positional arguments counted.
	flags func(f *flags) runner
}

// runner runs a command with its positional arguments.
type runner func(ctx context.Context, cio cmdIO, pos []string) error

// common says which of the shared flags a command has.
type common int

const (
	withOutput  common = 1 << iota // -o table|json
	withProfile                    // --profile, for the API's credentials
	apiFlags    = withOutput | withProfile
)

// The headings of help, in order.
const (
	secClients  = "Clients and credentials"
	secPolicies = "Policies and groups"
	secAPIs     = "Your own APIs"
	secDesired  = "Desired state"
	secOperator = "Operator (AWS credentials, TABLE_NAME, ISSUER_URL)"
	secOther    = "Other"
)

var commands = []command{
	{group: "clients", name: "list", section: secClients, synopsis: "[--search TEXT]", common: apiFlags,
		about: "list clients, or those whose name contains TEXT", flags: clientsList},
	{group: "clients", name: "get", section: secClients, synopsis: "CLIENT_ID", nargs: 1, common: apiFlags,
		about: "show a client", flags: clientsGet},
	{group: "clients", name: "create", section: secClients, common: apiFlags,
		synopsis: "--name N --description D [--scope S]... [--grant-type G]... [--redirect-uri U]... [--audience A]... [--lifetime SECONDS] [--claim K=V]...",
		about:    "create a client (without credentials: add them with secrets create or keys add)", flags: clientsCreate},
	{group: "clients", name: "update", section: secClients, synopsis: "CLIENT_ID [the create flags]", nargs: 1, common: apiFlags,
		about: "replace the fields whose flags are given, keeping the others", flags: clientsUpdate},
	{group: "clients", name: "delete", section: secClients, synopsis: "CLIENT_ID", nargs: 1, common: apiFlags,
		about: "delete a client with its secrets, keys, policies and memberships", flags: clientsDelete},
	{group: "clients", name: "revoke-tokens", section: secClients, synopsis: "CLIENT_ID", nargs: 1, common: apiFlags,
		about: "revoke every token issued to a client so far", flags: clientsRevokeTokens},
	{group: "secrets", name: "list", section: secClients, synopsis: "CLIENT_ID", nargs: 1, common: apiFlags,
		about: "list a client's secrets (never their values)", flags: secretsList},
	{group: "secrets", name: "create", section: secClients, synopsis: "CLIENT_ID --description D [--expires RFC3339] [--value-file F] [--out F]",
		nargs: 1, common: apiFlags, about: "add a secret, generated unless given, and show it this once", flags: secretsCreate},
	{group: "secrets", name: "delete", section: secClients, synopsis: "CLIENT_ID SECRET_ID", nargs: 2, common: apiFlags,
		about: "delete a secret", flags: secretsDelete},
	{group: "keys", name: "list", section: secClients, synopsis: "CLIENT_ID", nargs: 1, common: apiFlags,
		about: "list a client's public keys", flags: keysList},
	{group: "keys", name: "add", section: secClients, synopsis: "CLIENT_ID --jwk FILE --description D [--expires RFC3339]", nargs: 1,
		common: apiFlags, about: "register a public JWK, for private_key_jwt", flags: keysAdd},
	{group: "keys", name: "generate", section: secClients, synopsis: "--out FILE (--client CLIENT_ID | --public-out FILE) [--kid K]", common: apiFlags,
		about: "make an EC P-256 key pair: the private JWK to a new 0600 file, the public half registered or written", flags: keysGenerate},
	{group: "keys", name: "assertion", section: secClients, synopsis: "--key FILE --client CLIENT_ID [--audience AUD] [--lifetime 5m]", common: withProfile,
		about: "print a signed client assertion (private_key_jwt), for trying it by hand", flags: keysAssertion},
	{group: "keys", name: "delete", section: secClients, synopsis: "CLIENT_ID KEY_ID", nargs: 2, common: apiFlags,
		about: "delete a public key", flags: keysDelete},
	{group: "credentials", name: "unused", section: secClients, synopsis: "[--days N]", common: apiFlags,
		about: "list every secret, key and federated credential of the tenant not used for N days (90), never-used ones by their age", flags: credentialsUnused},
	{group: "federated", name: "list", section: secClients, synopsis: "CLIENT_ID", nargs: 1, common: apiFlags,
		about: "list a client's federated credentials", flags: federatedList},
	{group: "federated", name: "add", section: secClients, nargs: 1, common: apiFlags,
		synopsis: "CLIENT_ID --description D (--issuer URL --subject S [--audience A] [--claim K=V]... [--jwks FILE] | --aws-principal ARN [--aws-role-id AROA...])",
		about:    "trust an OIDC issuer's tokens or an AWS role instead of a secret (docs/federation.md)", flags: federatedAdd},
	{group: "federated", name: "delete", section: secClients, synopsis: "CLIENT_ID CREDENTIAL_ID", nargs: 2, common: apiFlags,
		about: "delete a federated credential", flags: federatedDelete},

	{group: "policies", name: "list", section: secPolicies, synopsis: "[--subject S] [--action A] [--scope S] [--inherited] [--derived]",
		common: apiFlags, about: "list policies, all or those the flags select", flags: policiesList},
	{group: "policies", name: "grant", section: secPolicies, synopsis: "SUBJECT ACTION SCOPE", nargs: 3, common: apiFlags,
		about: "grant SUBJECT ACTION on SCOPE", flags: policiesGrant},
	{group: "policies", name: "revoke", section: secPolicies, synopsis: "SUBJECT ACTION SCOPE", nargs: 3, common: apiFlags,
		about: "delete a policy", flags: policiesRevoke},
	{group: "actions", name: "list", section: secPolicies, common: apiFlags,
		about: "list the action catalog", flags: actionsList},
	{group: "groups", name: "list", section: secPolicies, common: apiFlags,
		about: "list groups", flags: groupsList},
	{group: "groups", name: "get", section: secPolicies, synopsis: "GROUP_ID", nargs: 1, common: apiFlags,
		about: "show a group", flags: groupsGet},
	{group: "groups", name: "create", section: secPolicies, synopsis: "--name N [--description D]", common: apiFlags,
		about: "create a group", flags: groupsCreate},
	{group: "groups", name: "delete", section: secPolicies, synopsis: "GROUP_ID", nargs: 1, common: apiFlags,
		about: "delete a group with its policies and memberships", flags: groupsDelete},
	{group: "groups", name: "members", section: secPolicies, synopsis: "GROUP_ID", nargs: 1, common: apiFlags,
		about: "list a group's members", flags: groupsMembers},
	{group: "groups", name: "add", section: secPolicies, synopsis: "GROUP_ID SUBJECT...", nargs: -2, common: apiFlags,
		about: "add subjects to a group", flags: groupsAdd},
	{group: "groups", name: "remove", section: secPolicies, synopsis: "GROUP_ID SUBJECT...", nargs: -2, common: apiFlags,
		about: "remove subjects from a group", flags: groupsRemove},
	{group: "subjects", name: "memberships", section: secPolicies, synopsis: "SUBJECT", nargs: 1, common: apiFlags,
		about: "list the groups a subject belongs to", flags: subjectsMemberships},
	{group: "subjects", name: "permissions", section: secPolicies, synopsis: "SUBJECT", nargs: 1, common: apiFlags,
		about: "list a subject's effective permissions", flags: subjectsPermissions},
	{name: "check", section: secPolicies, synopsis: "SUBJECT ACTION SCOPE", nargs: 3, common: apiFlags,
		about: "may SUBJECT do ACTION on SCOPE? exit 0 when allowed, 3 when not", flags: check},

	{group: "apis", name: "list", section: secAPIs, common: apiFlags,
		about: "list the tenant's APIs, the deployment's own first", flags: apisList},
	{group: "apis", name: "get", section: secAPIs, synopsis: "API_ID", nargs: 1, common: apiFlags,
		about: "show an API", flags: apisGet},
	{group: "apis", name: "create", section: secAPIs, common: apiFlags,
		synopsis: "--identifier URI --name N [--description D] [--scope S]... [--action A[:PARENT]]... [--discoverable] | -f FILE",
		about:    "register an API with its scopes and actions", flags: apisCreate},
	{group: "apis", name: "delete", section: secAPIs, synopsis: "API_ID", nargs: 1, common: apiFlags,
		about: "delete an API (its names stay reserved; policies naming them stay, inert)", flags: apisDelete},

	{name: "plan", section: secDesired, synopsis: "-f FILE [--prune]", common: apiFlags,
		about: "compare the tenant with a desired-state document: exit 0 without changes, 2 with", flags: plan},
	{name: "apply", section: secDesired, synopsis: "-f FILE [--prune] [--secrets-out FILE|-]", common: apiFlags,
		about: "make the tenant what the document declares", flags: apply},
	{name: "schema", section: secDesired,
		about: "print the desired-state document's JSON Schema", flags: schema},
	{name: "import", section: secDesired, synopsis: "--from cognito|keycloak|hydra FILE [--secrets-dir DIR] [--out FILE] [--map-scope OLD=NEW]...",
		nargs: 1, about: "turn another server's client export into a desired-state document (docs/migration.md)", flags: importCmd},

	{name: "bootstrap", section: secOperator, synopsis: "--tenant NAME [--out FILE]",
		about: "create a tenant and its first owner client; print its credentials", flags: bootstrap},
	{name: "recover", section: secOperator, synopsis: "--tenant NAME [--out FILE]",
		about: "give a tenant a new owner client; print its credentials", flags: recoverTenant},
	{name: "upgrade", section: secOperator, synopsis: "--tenant NAME",
		about: "bring a tenant stored by an older version up to date", flags: upgrade},

	{name: "version", section: secOther, common: withOutput,
		about: "the release iamctl was built from", flags: printVersion},
}

// fullName is the command as typed: "clients list", or "check".
func (c *command) fullName() string { return strings.TrimSpace(c.group + " " + c.name) }

// lookup finds the command args start with, and the arguments after its
// name; nil when they name none.
func lookup(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		switch {
		case c.group == "" && args[0] == c.name:
			return c, args[1:]
		case c.group != "" && args[0] == c.group && len(args) > 1 && args[1] == c.name:
			return c, args[2:]
		}
	}
	return nil, nil
}

// isGroup reports whether name is the noun of two-word commands.
func isGroup(name string) bool {
	return slices.ContainsFunc(commands, func(c command) bool { return c.group == name })
}

// exec parses args with the command's flags and runs it.
func (c *command) exec(ctx context.Context, cio cmdIO, args []string) error {
	f, run := c.flagSet(cio)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	return run(ctx, cio, pos)
}

// flagSet declares the command's flags, the shared ones first.
func (c *command) flagSet(cio cmdIO) (*flags, runner) {
	fs := flag.NewFlagSet(c.fullName(), flag.ContinueOnError)
	fs.SetOutput(cio.stderr)
	f := &flags{FlagSet: fs, cmd: c, cio: cio}
	if c.common&withOutput != 0 {
		f.output = fs.String("o", "table", "output: table or json")
	}
	if c.common&withProfile != 0 {
		f.profile = fs.String("profile", "", "profile file (mode 0600) with baseUrl, tenant, clientId, clientSecret (default $IAMCTL_PROFILE)")
	}
	run := c.flags(f)
	fs.Usage = func() { c.writeUsage(fs.Output(), f) }
	return f, run
}

// usageLine is "usage: iamctl NAME SYNOPSIS".
func (c *command) usageLine() string {
	return strings.TrimSpace("usage: iamctl " + c.fullName() + " " + c.synopsis)
}

// writeUsage is a command's help: its usage, what it does, its flags.
func (c *command) writeUsage(w io.Writer, f *flags) {
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	line := c.usageLine()
	if hasFlags {
		line += " [flags]"
	}
	fmt.Fprintf(w, "%s\n\n%s.\n", line, strings.ToUpper(c.about[:1])+c.about[1:])
	if hasFlags {
		fmt.Fprint(w, "\nflags:\n")
		f.SetOutput(w)
		f.PrintDefaults()
	}
}

// writeHelp lists every command, by section.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, "iamctl manages machine-iam.\n\nusage: iamctl COMMAND [ARGS] [FLAGS]\n       iamctl help [GROUP | COMMAND]\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.fullName()))
	}
	section := ""
	for _, c := range commands {
		if c.section != section {
			section = c.section
			fmt.Fprintf(w, "\n%s\n", section)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.fullName(), c.about)
	}
	fmt.Fprint(w, `
API commands act as a client of one tenant: IAM_BASE_URL, IAM_TENANT, IAM_CLIENT_ID
and IAM_CLIENT_SECRET, or a profile (--profile FILE or IAMCTL_PROFILE); their output
is a table, or JSON with -o json. "iamctl GROUP --help" shows a group's commands with
their arguments (GROUP is clients, secrets, keys, federated, policies, actions, groups or
subjects); "iamctl COMMAND --help" shows a command's flags.

Exit codes: 0 done; 1 failed; 2 plan found changes; 3 check denied; 4 not found;
5 credentials or caller refused (401, 403); 64 bad usage.
`)
}

// writeGroupHelp lists a group's commands with their arguments.
func writeGroupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: iamctl %s COMMAND [ARGS] [FLAGS]\n\n", group)
	for _, c := range commands {
		if c.group == group {
			fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimPrefix(c.usageLine(), "usage: "), c.about)
		}
	}
	fmt.Fprintf(w, "\n\"iamctl %s COMMAND --help\" shows a command's flags.\n", group)
}

// flags is a command's flag set.
type flags struct {
	*flag.FlagSet
	cmd *command
	cio cmdIO
	// output and profile are the shared flags, nil for a command without.
	output, profile *string
}

// parse accepts flags before, between and after the positional arguments,
// and counts those.
func (f *flags) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitCode(exitOK)
			}
			return nil, exitCode(exitUsage)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if f.output != nil && *f.output != "table" && *f.output != "json" {
		return nil, usagef("-o must be table or json")
	}
	if n := f.cmd.nargs; n >= 0 && len(positional) != n || n < 0 && len(positional) < -n {
		return nil, usagef("%s", f.cmd.usageLine())
	}
	return positional, nil
}
