package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/provisioning/provision"
)

func schema(*flags) runner {
	return func(_ context.Context, cio cmdIO, _ []string) error {
		_, err := cio.stdout.Write(provision.Schema)
		return err
	}
}

// desiredFlags are the flags of plan and apply.
type desiredFlags struct {
	file  *string
	prune *bool
	// secretsOut is apply's alone.
	secretsOut *string
}

func addDesiredFlags(f *flags) desiredFlags {
	return desiredFlags{
		file:  f.String("f", "", "desired-state document, YAML or JSON (- for standard input)"),
		prune: f.Bool("prune", false, "delete the clients and groups the document does not list"),
	}
}

func plan(f *flags) runner {
	d := addDesiredFlags(f)
	return func(ctx context.Context, cio cmdIO, _ []string) error { return desired(ctx, cio, f, d) }
}

func apply(f *flags) runner {
	d := addDesiredFlags(f)
	d.secretsOut = f.String("secrets-out", "", "where new clients' generated secrets go, as JSON lines: a new file (mode 0600), or - for standard output")
	return func(ctx context.Context, cio cmdIO, _ []string) error { return desired(ctx, cio, f, d) }
}

// desired plans, or applies (with d.secretsOut), the document named by -f.
func desired(ctx context.Context, cio cmdIO, f *flags, d desiredFlags) error {
	if *d.file == "" {
		return usagef("-f FILE is required")
	}
	raw, err := readInput(cio, *d.file, provision.MaxDocument+1)
	if err != nil {
		return err
	}
	doc, err := provision.Parse(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", *d.file, err)
	}
	dir := "."
	if *d.file != "-" {
		dir = filepath.Dir(*d.file)
	}
	if err := doc.ResolveFiles(dir); err != nil {
		return fmt.Errorf("%s: %w", *d.file, err)
	}
	api, err := f.api(ctx)
	if err != nil {
		return err
	}
	plan, err := provision.MakePlan(ctx, api, doc, provision.Options{Prune: *d.prune})
	if err != nil {
		return err
	}
	// The plan goes to stderr when stdout carries secrets.
	report := cio.stdout
	if d.secretsOut != nil && *d.secretsOut == "-" {
		report = cio.stderr
	}
	if *f.output == "json" {
		if err := json.NewEncoder(report).Encode(plan); err != nil {
			return err
		}
	} else {
		plan.Write(report)
	}
	if d.secretsOut == nil {
		if plan.HasChanges() {
			return exitCode(exitChanges)
		}
		return nil
	}
	if !plan.HasChanges() {
		return nil
	}
	if err := applyPlan(ctx, cio, api, plan, *d.secretsOut); err != nil {
		return err
	}
	if *f.output != "json" {
		fmt.Fprintln(report, "\nApply complete.")
	}
	return nil
}

// applyPlan applies plan, writing generated secrets where out says.
func applyPlan(ctx context.Context, cio cmdIO, api *apiclient.Client, plan *provision.Plan, out string) error {
	sink, closeSink, err := secretSink(cio, plan, out)
	if err != nil {
		return err
	}
	err = plan.Apply(ctx, api, sink)
	if cerr := closeSink(); err == nil {
		err = cerr
	}
	// What others added to what the apply manages while it ran, and the
	// apply removed, is said on stderr (stdout may carry secrets).
	for _, line := range plan.Swept {
		fmt.Fprintln(cio.stderr, "Swept: "+line)
	}
	if err != nil {
		return fmt.Errorf("apply stopped: %w (iamctl plan shows what is left)", err)
	}
	return nil
}

// secretSink opens where generated secrets go, only when the plan makes
// some, so a plan without new clients needs no --secrets-out.
func secretSink(cio cmdIO, plan *provision.Plan, out string) (provision.SecretSink, func() error, error) {
	noop := func() error { return nil }
	if !plan.NeedsSecretOutput() {
		return nil, noop, nil
	}
	if out == "" {
		return nil, noop, usagef("the plan creates clients with generated secrets: name where they go with --secrets-out FILE (a new file, mode 0600) or --secrets-out -")
	}
	var w io.Writer = cio.stdout
	var file *os.File
	closer := noop
	if out != "-" {
		fh, err := createSecretFile(out)
		if err != nil {
			return nil, noop, fmt.Errorf("--secrets-out: %w (it must not exist yet)", err)
		}
		w, file, closer = fh, fh, fh.Close
	}
	enc := json.NewEncoder(w)
	return func(s provision.NewSecret) error {
		if err := enc.Encode(s); err != nil {
			return fmt.Errorf("client %s was created, but writing its secret failed: %w", s.ClientID, err)
		}
		if file != nil {
			// On disk before the next client is made.
			return file.Sync()
		}
		return nil
	}, closer, nil
}
