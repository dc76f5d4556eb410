package metric

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

func capture(t *testing.T, readable bool) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	t.Cleanup(SetOutput(&buf, readable))
	return &buf
}

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// Each line is an EMF document: the metric's value and its dimensions at
// the top level, and _aws naming them, as CloudWatch's specification asks.
func TestEmbeddedMetricFormat(t *testing.T) {
	buf := capture(t, false)
	TokenIssued("client_secret_basic")
	got := lines(t, buf)
	if len(got) != 1 {
		t.Fatalf("lines = %v", got)
	}
	m := got[0]
	if m[TokensIssued] != 1.0 || m["AuthMethod"] != "client_secret_basic" {
		t.Errorf("line = %v", m)
	}
	aws, _ := m["_aws"].(map[string]any)
	ts, _ := aws["Timestamp"].(float64)
	if time.Since(time.UnixMilli(int64(ts))) > time.Minute {
		t.Errorf("Timestamp = %v", aws["Timestamp"])
	}
	directives, _ := aws["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("CloudWatchMetrics = %v", aws["CloudWatchMetrics"])
	}
	d := directives[0].(map[string]any)
	if d["Namespace"] != Namespace || fmt.Sprint(d["Dimensions"]) != "[[AuthMethod]]" ||
		fmt.Sprint(d["Metrics"]) != "[map[Name:TokensIssued Unit:Count]]" {
		t.Errorf("directive = %v", d)
	}
}

func TestAuthenticationFailuresAlsoCountInTotal(t *testing.T) {
	buf := capture(t, false)
	AuthenticationFailed("invalid_secret")
	got := lines(t, buf)
	sets := got[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"]
	if fmt.Sprint(sets) != "[[Reason] []]" || got[0]["Reason"] != "invalid_secret" {
		t.Errorf("line = %v", got[0])
	}
}

func TestDependencyCalls(t *testing.T) {
	buf := capture(t, false)
	Called(DynamoDB, 1500*time.Microsecond, nil)
	Called(KMS, time.Millisecond, &smithy.GenericAPIError{Code: "ThrottlingException"})
	Called(KMS, time.Millisecond, errors.New("connection refused"))
	Called(DynamoDB, time.Second, fmt.Errorf("operation error: %w", context.Canceled))
	got := lines(t, buf)
	want := [][3]any{
		{DependencyLatency, 1.5, DynamoDB},
		{DependencyLatency, 1.0, KMS}, {DependencyErrors, 1.0, KMS + "/" + KindThrottled},
		{DependencyLatency, 1.0, KMS}, {DependencyErrors, 1.0, KMS + "/" + KindFailed},
	}
	if len(got) != len(want) {
		t.Fatalf("lines = %v; want %d (a canceled call is not the dependency's doing)", got, len(want))
	}
	for i, m := range got {
		dims := fmt.Sprint(m["Dependency"])
		if k, ok := m["Kind"]; ok {
			dims += "/" + fmt.Sprint(k)
		}
		if name := want[i][0].(string); m[name] != want[i][1] || dims != want[i][2] {
			t.Errorf("line %d = %v; want %v", i, m, want[i])
		}
	}
}

func TestReadableLines(t *testing.T) {
	buf := capture(t, true)
	Decided(false)
	Refused(RuleLastOwner)
	Throttled()
	Called(DynamoDB, 2*time.Millisecond, nil)
	want := "metric Decisions=1 Decision=Denied\nmetric Refusals=1 Rule=LastOwner\nmetric ThrottledAttempts=1\n" +
		"metric DependencyLatency=2ms Dependency=DynamoDB\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf, want)
	}
}

func TestTimedIsTheHookForOtherDependencies(t *testing.T) {
	buf := capture(t, true)
	failure := errors.New("jwks unreachable")
	if err := Timed(IssuerKeys, func() error { return failure }); err != failure {
		t.Fatalf("Timed returned %v", err)
	}
	if got := buf.String(); !strings.Contains(got, "DependencyLatency=") || !strings.Contains(got, "DependencyErrors=1 Dependency=IssuerKeys Kind=Failed") {
		t.Errorf("got %s", got)
	}
}
