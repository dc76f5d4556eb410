package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/machine-iam/machine-iam/shared/runtime/version"
)

// printVersion names the release iamctl was built from, so an operator can
// tell whether it matches the deployment the changelog speaks of.
func printVersion(f *flags) runner {
	return func(_ context.Context, cio cmdIO, _ []string) error {
		if *f.output == "json" {
			return json.NewEncoder(cio.stdout).Encode(map[string]string{"version": version.Version})
		}
		_, err := fmt.Fprintln(cio.stdout, "iamctl", version.Version)
		return err
	}
}
