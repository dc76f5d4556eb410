package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/machine-iam/machine-iam/shared/runtime/version"
)

func init() {
	commands["version"] = printVersion
}

// printVersion names the release iamctl was built from, so an operator can
// tell whether it matches the deployment the changelog speaks of.
func printVersion(_ context.Context, cio cmdIO, args []string) error {
	f := newFlags(cio, "version", "", 0)
	if _, err := f.parse(args); err != nil {
		return err
	}
	if *f.output == "json" {
		return json.NewEncoder(cio.stdout).Encode(map[string]string{"version": version.Version})
	}
	_, err := fmt.Fprintln(cio.stdout, "iamctl", version.Version)
	return err
}
