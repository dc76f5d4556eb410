// Command iamctl manages machine-iam: clients, secrets, keys, policies,
// groups and permission checks over the HTTP API, a tenant's desired state
// from a file (plan, apply), and, with AWS credentials, what the API
// deliberately does not offer (bootstrap, recover).
//
// API commands act as a client of one tenant: IAM_BASE_URL, IAM_TENANT,
// IAM_CLIENT_ID and IAM_CLIENT_SECRET, or a profile file (--profile or
// IAMCTL_PROFILE) holding {"baseUrl","tenant","clientId","clientSecret"},
// which iamctl refuses to read unless only its owner can (mode 0600). The
// variables override the profile's fields. Run `iamctl help` for the
// commands and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
)

// Exit codes, for scripts.
const (
	exitOK       = 0
	exitError    = 1
	exitChanges  = 2 // plan: the tenant differs from the document
	exitDenied   = 3 // check: not allowed
	exitNotFound = 4 // the API answered 404
	exitRefused  = 5 // the API refused the credentials or the caller (401, 403)
	exitUsage    = 64
)

const usage = `iamctl manages machine-iam.

usage: iamctl COMMAND [SUBCOMMAND] [ARGS] [FLAGS]

Clients and credentials
  clients list [--search TEXT]          clients get ID
  clients create --name N --description D [--scope S]... [--grant-type G]...
                 [--redirect-uri U]... [--audience A]... [--lifetime SECONDS] [--claim K=V]...
  clients update ID [the create flags; those given replace the stored values]
  clients delete ID                     clients revoke-tokens ID
  secrets list CLIENT                   secrets delete CLIENT SECRET
  secrets create CLIENT --description D [--expires RFC3339] [--value-file F] [--out F]
  keys list CLIENT                      keys delete CLIENT KEY
  keys add CLIENT --jwk FILE --description D [--expires RFC3339]
Policies and groups
  policies list [--subject S] [--action A] [--scope S] [--inherited] [--derived]
  policies grant SUBJECT ACTION SCOPE   policies revoke SUBJECT ACTION SCOPE
  actions list
  groups list                           groups get GROUP
  groups create --name N [--description D]
  groups delete GROUP                   groups members GROUP
  groups add GROUP SUBJECT...           groups remove GROUP SUBJECT...
  subjects memberships SUBJECT          subjects permissions SUBJECT
  check SUBJECT ACTION SCOPE            exit 0 when allowed, 3 when not
Desired state
  plan -f FILE [--prune]                exit 0 without changes, 2 with
  apply -f FILE [--prune] [--secrets-out FILE|-]
  schema                                print the document's JSON Schema
Operator (AWS credentials, TABLE_NAME, ISSUER_URL)
  bootstrap --tenant NAME [--out FILE]  recover --tenant NAME [--out FILE]
  upgrade --tenant NAME                 bring a tenant stored by an older version up to date
Other
  version                               the release iamctl was built from

Flags of every API command: -o table|json, --profile FILE. "iamctl COMMAND --help"
shows a command's flags.

Exit codes: 0 done; 1 failed; 2 plan found changes; 3 check denied; 4 not found;
5 credentials or caller refused (401, 403); 64 bad usage.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// io bundles a command's streams and environment.
type cmdIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// commands maps "noun verb" (or a single word) to its implementation.
var commands = map[string]func(ctx context.Context, io cmdIO, args []string) error{}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cio := cmdIO{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || slices.Contains([]string{"help", "-h", "--help", "-help"}, args[0]) {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	name, rest := args[0], args[1:]
	if _, ok := commands[name]; !ok && len(rest) > 0 {
		name, rest = args[0]+" "+args[1], args[2:]
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "iamctl: unknown command %q; iamctl help lists them\n", strings.Join(args[:min(2, len(args))], " "))
		return exitUsage
	}
	err := cmd(ctx, cio, rest)
	if err == nil {
		return exitOK
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	fmt.Fprintln(stderr, "iamctl:", err)
	return exitCodeOf(err)
}

// exitCode ends a command with a code and no message.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit %d", int(c)) }
