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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// cmdIO bundles a command's streams and environment.
type cmdIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode ends a command with a code and no message.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit %d", int(c)) }

func isHelp(arg string) bool { return slices.Contains([]string{"help", "-h", "--help", "-help"}, arg) }

// run dispatches args to a command of the table. Help asked for goes to
// stdout and exits 0; a command line that names no command gets the help
// it needs and exits 64.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cio := cmdIO{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	switch {
	case len(args) == 0:
		writeHelp(stdout)
		return exitUsage
	case isHelp(args[0]):
		return helpOn(cio, args[1:])
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		switch {
		case isGroup(args[0]) && len(args) == 1:
			writeGroupHelp(stderr, args[0])
			return exitUsage
		case isGroup(args[0]) && len(args) == 2 && isHelp(args[1]):
			writeGroupHelp(stdout, args[0])
			return exitOK
		}
		fmt.Fprintf(stderr, "iamctl: unknown command %q; iamctl help lists them\n", strings.Join(args[:min(2, len(args))], " "))
		return exitUsage
	}
	err := cmd.exec(ctx, cio, rest)
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

// helpOn answers `iamctl help [GROUP | COMMAND]`.
func helpOn(cio cmdIO, topic []string) int {
	if len(topic) == 0 {
		writeHelp(cio.stdout)
		return exitOK
	}
	if cmd, rest := lookup(topic); cmd != nil && len(rest) == 0 {
		f, _ := cmd.flagSet(cio)
		cmd.writeUsage(cio.stdout, f)
		return exitOK
	}
	if len(topic) == 1 && isGroup(topic[0]) {
		writeGroupHelp(cio.stdout, topic[0])
		return exitOK
	}
	fmt.Fprintf(cio.stderr, "iamctl: no help on %q; iamctl help lists the commands\n", strings.Join(topic, " "))
	return exitUsage
}
