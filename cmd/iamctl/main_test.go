package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func TestRunRefusesIncompleteCommands(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{nil, "", exitUsage},
		{[]string{"rotate"}, "unknown command", exitUsage},
		{[]string{"clients", "frobnicate"}, "unknown command", exitUsage},
		{[]string{"bootstrap"}, "--tenant is required", exitUsage},
		{[]string{"bootstrap", "--tenant", "acme", "--table", ""}, "--table or TABLE_NAME is required", exitUsage},
		{[]string{"bootstrap", "--tenant", "acme", "--table", "t", "--issuer", "id.example.com"}, "--issuer or ISSUER_URL", exitUsage},
		{[]string{"bootstrap", "--nope"}, "flag provided but not defined", exitUsage},
		{[]string{"recover"}, "--tenant is required", exitUsage},
		{[]string{"clients", "get"}, "usage: iamctl clients get CLIENT_ID", exitUsage},
		{[]string{"clients", "get", "a", "b"}, "usage: iamctl clients get CLIENT_ID", exitUsage},
		{[]string{"clients", "list", "-o", "yaml"}, "-o must be table or json", exitUsage},
		{[]string{"clients", "list"}, "no base URL: set IAM_BASE_URL", exitUsage},
		{[]string{"plan"}, "-f FILE is required", exitUsage},
		{[]string{"policies", "grant", "client-x", "owner"}, "usage: iamctl policies grant SUBJECT ACTION SCOPE", exitUsage},
		{[]string{"keys", "add", "x"}, "--jwk is required", exitUsage},
		{[]string{"groups", "add", "g"}, "usage: iamctl groups add GROUP_ID SUBJECT...", exitUsage},
		{[]string{"upgrade", "extra"}, "usage: iamctl upgrade --tenant NAME", exitUsage},
		{[]string{"clients", "list", "--profile", "/nonexistent/profile.json"}, "profile /nonexistent/profile.json does not exist", exitUsage},
		{[]string{"clients"}, "usage: iamctl clients COMMAND", exitUsage},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, strings.NewReader(""), &out, &errOut, noEnv)
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
		if out.Len() != 0 && c.args != nil {
			t.Errorf("%v: wrote to stdout: %q", c.args, out.String())
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	var help bytes.Buffer
	writeHelp(&help)
	for _, c := range commands {
		name := c.fullName()
		var out, errOut bytes.Buffer
		args := append(strings.Fields(name), "--help")
		if code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, noEnv); code != exitOK {
			t.Errorf("%s --help: exit %d", name, code)
		}
		if !strings.HasPrefix(errOut.String(), "usage: iamctl "+name) {
			t.Errorf("%s --help printed %q", name, errOut.String())
		}
		if !strings.Contains(help.String(), "  "+name+" ") || c.about == "" || c.section == "" {
			t.Errorf("iamctl help does not describe %q", name)
		}
		out.Reset()
		if code := run(context.Background(), append([]string{"help"}, strings.Fields(name)...), strings.NewReader(""), &out, &errOut, noEnv); code != exitOK ||
			!strings.HasPrefix(out.String(), "usage: iamctl "+name) {
			t.Errorf("iamctl help %s: exit %d, %q", name, code, out.String())
		}
	}
}

// TestEveryGroupHasHelp: a group's noun alone is a usage error that shows
// the group's commands; with --help it shows them on stdout.
func TestEveryGroupHasHelp(t *testing.T) {
	for _, g := range []string{"clients", "secrets", "keys", "policies", "actions", "groups", "subjects"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{g}, strings.NewReader(""), &out, &errOut, noEnv); code != exitUsage ||
			out.Len() != 0 || !strings.Contains(errOut.String(), "iamctl "+g+" list") && !strings.Contains(errOut.String(), "iamctl "+g+" memberships") {
			t.Errorf("iamctl %s: exit %d, stdout %q, stderr %q", g, code, out.String(), errOut.String())
		}
		for _, args := range [][]string{{g, "--help"}, {g, "-h"}, {"help", g}} {
			out.Reset()
			errOut.Reset()
			if code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, noEnv); code != exitOK ||
				!strings.HasPrefix(out.String(), "usage: iamctl "+g+" COMMAND") || errOut.Len() != 0 {
				t.Errorf("iamctl %v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
			}
		}
	}
	for _, c := range commands {
		if c.group != "" && !isGroup(c.group) {
			t.Errorf("%s: no group", c.fullName())
		}
	}
}

// TestHelp: help lists the commands and exits 0; no command at all is a
// usage error.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{{nil, exitUsage}, {[]string{"help"}, exitOK}, {[]string{"--help"}, exitOK}, {[]string{"-h"}, exitOK}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, strings.NewReader(""), &out, &errOut, noEnv)
		if code != c.code || !strings.Contains(out.String(), "Exit codes:") || !strings.Contains(out.String(), "clients revoke-tokens") {
			t.Errorf("%v: exit %d, stdout %q", c.args, code, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"help", "nothing"}, strings.NewReader(""), &out, &errOut, noEnv); code != exitUsage || out.Len() != 0 {
		t.Errorf("help nothing: exit %d, stdout %q", code, out.String())
	}
}

func TestProfileMustBeTheOwnersAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profile.json")
	body := `{"baseUrl":"http://127.0.0.1:1","tenant":"default","clientId":"c","clientSecret":"s"}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"clients", "list", "--profile", path}, strings.NewReader(""), &out, &errOut, noEnv)
	if code != exitError || !strings.Contains(errOut.String(), "mode 0644") || strings.Contains(errOut.String(), `"s"`) {
		t.Fatalf("a 0644 profile: exit %d, stderr %q", code, errOut.String())
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := credentials(cmdIO{getenv: func(k string) string {
		if k == "IAM_TENANT" {
			return "acme"
		}
		return ""
	}}, path)
	if err != nil || creds.Tenant != "acme" || creds.ClientID != "c" || creds.BaseURL != "http://127.0.0.1:1" {
		t.Fatalf("a 0600 profile with IAM_TENANT set: %+v, %v", creds, err)
	}
}
