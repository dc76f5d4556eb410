package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"version"}, "iamctl dev\n"},
		{[]string{"version", "-o", "json"}, `{"version":"dev"}` + "\n"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), c.args, strings.NewReader(""), &out, &errOut, noEnv); code != exitOK || out.String() != c.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, code, out.String(), errOut.String(), c.want)
		}
	}
}

// TestVersionStampedByMake builds iamctl the way the Makefile does, with a
// given VERSION, and runs it; and checks that the Lambda builds get the same
// stamp.
func TestVersionStampedByMake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds iamctl")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	const stamp = "v0.0.0-stamp.1"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "iamctl")
	build := exec.Command("make", "-s", "iamctl", "VERSION="+stamp, "IAMCTL="+bin)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make iamctl: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || string(out) != "iamctl "+stamp+"\n" {
		t.Fatalf("iamctl version: %q, %v; want iamctl %s", out, err, stamp)
	}
	dry := exec.Command("make", "-n", "build-TokenFunction", "VERSION="+stamp)
	dry.Dir = root
	cmds, err := dry.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "-X github.com/machine-iam/machine-iam/shared/runtime/version.Version=" + stamp; !strings.Contains(string(cmds), want) {
		t.Fatalf("make build-TokenFunction does not stamp the version (%s):\n%s", want, cmds)
	}
}
