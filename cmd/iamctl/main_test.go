package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunRefusesIncompleteCommands(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "unknown or missing command"},
		{[]string{"rotate"}, "unknown or missing command"},
		{[]string{"bootstrap"}, "--tenant is required"},
		{[]string{"bootstrap", "--tenant", "acme", "--table", ""}, "--table or TABLE_NAME is required"},
		{[]string{"bootstrap", "--tenant", "acme", "--table", "t", "--issuer", "id.example.com"}, "--issuer or ISSUER_URL"},
		{[]string{"bootstrap", "--nope"}, "flag provided but not defined"},
		{[]string{"recover"}, "--tenant is required"},
		{[]string{"recover", "--tenant", "acme", "--table", ""}, "--table or TABLE_NAME is required"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote to stdout: %q", c.args, out.String())
		}
	}
}
