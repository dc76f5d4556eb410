package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

// flags is a command's flag set with the flags every API command has.
type flags struct {
	*flag.FlagSet
	output  *string
	profile *string
	nargs   int
	args    string
}

// newFlags describes a command taking nargs positional arguments (-1: one
// or more) named args in its usage line.
func newFlags(cio cmdIO, name, args string, nargs int) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(cio.stderr)
	f := &flags{FlagSet: fs, nargs: nargs, args: args}
	f.output = fs.String("o", "table", "output: table or json")
	f.profile = fs.String("profile", "", "profile file (mode 0600) with baseUrl, tenant, clientId, clientSecret (default $IAMCTL_PROFILE)")
	fs.Usage = func() {
		fmt.Fprintf(cio.stderr, "usage: iamctl %s %s [flags]\n\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return f
}

// parse accepts flags before, between and after the positional arguments.
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
	if *f.output != "table" && *f.output != "json" {
		return nil, usagef("-o must be table or json")
	}
	if f.nargs >= 0 && len(positional) != f.nargs || f.nargs < 0 && len(positional) == 0 {
		return nil, usagef("usage: iamctl %s %s", f.Name(), f.args)
	}
	return positional, nil
}

// api returns a client of the API acting as the configured credentials.
func (f *flags) api(ctx context.Context, cio cmdIO) (*apiclient.Client, error) {
	creds, err := credentials(cio, *f.profile)
	if err != nil {
		return nil, err
	}
	return apiclient.New(ctx, creds, nil)
}

// start parses args and returns the positional arguments and an API client.
func (f *flags) start(ctx context.Context, cio cmdIO, args []string) ([]string, *apiclient.Client, error) {
	pos, err := f.parse(args)
	if err != nil {
		return nil, nil, err
	}
	api, err := f.api(ctx, cio)
	return pos, api, err
}

// print writes v as JSON, or as a table of the given columns, one row per
// element of rows.
func (f *flags) print(w io.Writer, v any, header []string, rows [][]string) error {
	if *f.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// table says how values of T print as rows.
type table[T any] struct {
	header []string
	row    func(T) []string
}

// print writes v as JSON, or items as the table's rows.
func (t table[T]) print(f *flags, w io.Writer, v any, items ...T) error {
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = t.row(it)
	}
	return f.print(w, v, t.header, rows)
}

// readCommand is a command that reads with its positional arguments and
// prints what it read: v as JSON, items as rows.
func readCommand[T any](name, argsUsage string, nargs int, t table[T],
	read func(ctx context.Context, api *apiclient.Client, pos []string) (v any, items []T, err error)) func(context.Context, cmdIO, []string) error {
	return func(ctx context.Context, cio cmdIO, args []string) error {
		f := newFlags(cio, name, argsUsage, nargs)
		pos, api, err := f.start(ctx, cio, args)
		if err != nil {
			return err
		}
		v, items, err := read(ctx, api, pos)
		if err != nil {
			return err
		}
		return t.print(f, cio.stdout, v, items...)
	}
}

// all reads a list for readCommand; one reads a single value.
func all[T any](items []T, err error) (any, []T, error) { return items, items, err }
func one[T any](item T, err error) (any, []T, error)    { return item, []T{item}, err }

// exitCodeOf maps an error to the exit code scripts test.
func exitCodeOf(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	switch apiclient.StatusOf(err) {
	case http.StatusNotFound:
		return exitNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return exitRefused
	}
	return exitError
}

func list(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
