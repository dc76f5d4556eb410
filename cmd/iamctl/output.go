package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

// api returns a client of the API acting as the configured credentials.
func (f *flags) api(ctx context.Context) (*apiclient.Client, error) {
	creds, err := credentials(f.cio, *f.profile)
	if err != nil {
		return nil, err
	}
	return apiclient.New(ctx, creds, nil)
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
func readCommand[T any](t table[T], read func(ctx context.Context, api *apiclient.Client, pos []string) (v any, items []T, err error)) func(*flags) runner {
	return func(f *flags) runner {
		return func(ctx context.Context, cio cmdIO, pos []string) error {
			api, err := f.api(ctx)
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
