package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

// credentials reads the profile file, when one is named, and lets the
// IAM_* variables override its fields.
func credentials(cio cmdIO, profile string) (apiclient.Credentials, error) {
	var creds apiclient.Credentials
	if profile == "" {
		profile = cio.getenv("IAMCTL_PROFILE")
	}
	if profile != "" {
		if err := readProfile(profile, &creds); err != nil {
			return creds, err
		}
	}
	for _, f := range []struct {
		env   string
		field *string
	}{
		{"IAM_BASE_URL", &creds.BaseURL}, {"IAM_TENANT", &creds.Tenant},
		{"IAM_CLIENT_ID", &creds.ClientID}, {"IAM_CLIENT_SECRET", &creds.ClientSecret},
	} {
		if v := cio.getenv(f.env); v != "" {
			*f.field = v
		}
	}
	if err := creds.Check(); err != nil {
		return creds, usagef("%v: set IAM_BASE_URL, IAM_TENANT, IAM_CLIENT_ID and IAM_CLIENT_SECRET, or name a profile with --profile or IAMCTL_PROFILE", err)
	}
	return creds, nil
}

// readInput reads the file name, or standard input for "-", up to limit
// bytes.
func readInput(cio cmdIO, name string, limit int64) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(cio.stdin, limit))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// readProfile refuses a file that anyone but its owner may read or write:
// it holds a client secret.
func readProfile(path string, creds *apiclient.Credentials) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A name mistyped on the command line or in IAMCTL_PROFILE.
		return usagef("profile %s does not exist: name an existing file with --profile or IAMCTL_PROFILE", path)
	}
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("profile %s has mode %04o: it holds a client secret, so only its owner may read it (chmod 600 %s)", path, perm, path)
	}
	dec := json.NewDecoder(f)
	if err := dec.Decode(creds); err != nil {
		return fmt.Errorf("profile %s is not a JSON object with baseUrl, tenant, clientId, clientSecret: %w", path, err)
	}
	return nil
}

// createSecretFile creates path for the owner alone; it never opens a file
// that exists, so no earlier secret is overwritten.
func createSecretFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// writeSecretFile creates path with createSecretFile and writes b.
func writeSecretFile(path string, b []byte) error {
	f, err := createSecretFile(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
