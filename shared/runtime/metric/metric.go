// Package metric writes the service's metrics as CloudWatch embedded metric
// format (EMF) lines on standard output: Lambda hands them to CloudWatch
// Logs, which turns them into metrics of the namespace MachineIAM, with no
// API call and no extra permission. Dimensions never name a tenant or a
// client: each distinct dimension value is a metric of its own, billed
// monthly.
//
// The format is written here rather than by a library: AWS publishes none
// for Go, the community ones are either unmaintained or need a newer Go,
// and the part used (one metric per line, one dimension set) is a few
// lines of JSON.
package metric

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "MachineIAM"

// The metrics, by name. template.yaml's alarms and dashboard name them;
// a test checks that each one an alarm names is emitted.
const (
	// TokensIssued counts access tokens handed out, by AuthMethod.
	TokensIssued = "TokensIssued"
	// AuthenticationFailures counts client authentications refused, by Reason.
	AuthenticationFailures = "AuthenticationFailures"
	// ThrottledAttempts counts authentications refused with 429 by the lockout.
	ThrottledAttempts = "ThrottledAttempts"
	// Decisions counts permission checks, by Decision (Allowed, Denied).
	Decisions = "Decisions"
	// Refusals counts changes refused by a safety rule, by Rule.
	Refusals = "Refusals"
	// DependencyLatency is each call to a dependency, in milliseconds, by Dependency.
	DependencyLatency = "DependencyLatency"
	// DependencyErrors counts failed calls, by Dependency and Kind (Throttled, Failed).
	DependencyErrors = "DependencyErrors"
)

// Dimension values.
const (
	DecisionAllowed = "Allowed"
	DecisionDenied  = "Denied"

	RuleNoEscalation = "NoEscalation"
	RuleLastOwner    = "LastOwner"

	DynamoDB   = "DynamoDB"
	KMS        = "KMS"
	IssuerKeys = "IssuerKeys" // a federated issuer's JWKS
	STS        = "STS"

	KindThrottled = "Throttled"
	KindFailed    = "Failed"
)

// Emitter writes metric lines to one writer.
type Emitter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	// readable writes "metric Name=value Dim=value" instead of EMF JSON,
	// for a person watching the local stack.
	readable bool
}

var std = &Emitter{w: os.Stdout, now: time.Now}

// SetOutput sends every metric to w from now on, as EMF JSON or, with
// readable, as one short line each; it returns a function restoring the
// previous output.
func SetOutput(w io.Writer, readable bool) (restore func()) {
	std.mu.Lock()
	defer std.mu.Unlock()
	prevW, prevR := std.w, std.readable
	std.w, std.readable = w, readable
	return func() {
		std.mu.Lock()
		defer std.mu.Unlock()
		std.w, std.readable = prevW, prevR
	}
}

// emit writes one metric with its dimensions (name, value pairs); with
// total, also without them, so an alarm can watch the sum over every value.
func (e *Emitter) emit(name, unit string, value float64, total bool, dims ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.readable {
		var b strings.Builder
		fmt.Fprintf(&b, "metric %s=%g", name, value)
		if unit == "Milliseconds" {
			b.WriteString("ms")
		}
		for i := 0; i+1 < len(dims); i += 2 {
			fmt.Fprintf(&b, " %s=%s", dims[i], dims[i+1])
		}
		b.WriteByte('\n')
		_, _ = io.WriteString(e.w, b.String())
		return
	}
	line := map[string]any{name: value}
	keys := make([]string, 0, len(dims)/2)
	for i := 0; i+1 < len(dims); i += 2 {
		line[dims[i]] = dims[i+1]
		keys = append(keys, dims[i])
	}
	sort.Strings(keys)
	sets := [][]string{keys}
	if total && len(keys) > 0 {
		sets = append(sets, []string{})
	}
	line["_aws"] = map[string]any{
		"Timestamp": e.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": sets,
			"Metrics":    []any{map[string]string{"Name": name, "Unit": unit}},
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	_, _ = e.w.Write(append(b, '\n'))
}

func count(name string, dims ...string) { std.emit(name, "Count", 1, false, dims...) }

// TokenIssued counts a token handed out to a client that authenticated
// with method (client_secret_basic, client_secret_post, private_key_jwt,
// or a federated method).
func TokenIssued(method string) { count(TokensIssued, "AuthMethod", method) }

// AuthenticationFailed counts a refused client authentication; reason is
// a short fixed word (missing, malformed, invalid_secret, ...), never
// anything the caller sent.
// Also counted without the reason, the total a credential-stuffing alarm
// watches.
func AuthenticationFailed(reason string) {
	std.emit(AuthenticationFailures, "Count", 1, true, "Reason", reason)
}

// Throttled counts an authentication refused by the lockout.
func Throttled() { count(ThrottledAttempts) }

// Decided counts one permission decision.
func Decided(allowed bool) {
	d := DecisionDenied
	if allowed {
		d = DecisionAllowed
	}
	count(Decisions, "Decision", d)
}

// Refused counts a change refused by rule (RuleNoEscalation, RuleLastOwner).
func Refused(rule string) { count(Refusals, "Rule", rule) }

// Called records one call to dependency (DynamoDB, KMS, IssuerKeys, STS):
// its latency, and its failure unless err is nil. A call cut short because
// the caller went away (context.Canceled) is neither: it says nothing
// about the dependency.
func Called(dependency string, took time.Duration, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	std.emit(DependencyLatency, "Milliseconds", float64(took.Microseconds())/1000, false, "Dependency", dependency)
	if err != nil {
		kind := KindFailed
		if Throttling(err) {
			kind = KindThrottled
		}
		count(DependencyErrors, "Dependency", dependency, "Kind", kind)
	}
}

// throttlingCodes are the error codes AWS services answer a throttled
// request with.
var throttlingCodes = []string{"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
	"LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete", "TransactionInProgressException"}

// Throttling reports whether err is an AWS service's throttling answer.
func Throttling(err error) bool {
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	for _, c := range throttlingCodes {
		if coded.ErrorCode() == c {
			return true
		}
	}
	return false
}

// Timed runs call and records it as a call to dependency: the hook for
// dependencies reached without the AWS SDK (a federated issuer's keys).
func Timed(dependency string, call func() error) error {
	start := time.Now()
	err := call()
	Called(dependency, time.Since(start), err)
	return err
}
