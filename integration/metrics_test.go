package integration

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/runtime/metric"
)

// emitted reports whether some EMF line in lines carries metric with
// exactly the dimensions dims, as one of its dimension sets: what
// CloudWatch would extract for an alarm on that metric and those
// dimensions.
func emitted(lines *lineBuffer, name string, dims map[string]string) bool {
	for _, values := range lines.lines() {
		aws, _ := values["_aws"].(map[string]any)
		directives, _ := aws["CloudWatchMetrics"].([]any)
		for _, d := range directives {
			directive, _ := d.(map[string]any)
			metrics, _ := directive["Metrics"].([]any)
			if directive["Namespace"] != metric.Namespace || len(metrics) != 1 || metrics[0].(map[string]any)["Name"] != name {
				continue
			}
			sets, _ := directive["Dimensions"].([]any)
			for _, set := range sets {
				keys, _ := set.([]any)
				match := len(keys) == len(dims)
				for _, k := range keys {
					key, _ := k.(string)
					match = match && values[key] == dims[key]
				}
				if match {
					return true
				}
			}
		}
	}
	return false
}

// TestAlarmedMetricsAreEmitted drives every scenario an alarm on a
// MachineIAM metric watches for (and the other metrics' too) through the
// real functions, and checks that each metric and dimension set that
// template.yaml's alarms name was written: an alarm on a metric the code
// never writes would stay silent forever.
func TestAlarmedMetricsAreEmitted(t *testing.T) {
	lines := &lineBuffer{}
	defer metric.SetOutput(lines, false)()

	admin := adminToken(t)
	cid, value := newClient(t, admin, "metrics")
	post := func(clientID, secret string) response {
		return send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}})
	}
	if r := post(cid, value); r.Status != http.StatusOK {
		t.Fatalf("token: %s", r)
	}

	// Failures, then the lockout, at the start of a window.
	now := time.Now()
	env.clock.Advance(now.Truncate(5 * time.Minute).Add(5 * time.Minute).Sub(now))
	defer env.clock.Reset()
	stuffed := id.New()
	for i := 0; ; i++ {
		r := post(stuffed, "guess-"+strconv.Itoa(i))
		if r.Status == http.StatusTooManyRequests {
			break
		}
		if r.Status != http.StatusUnauthorized || i > 50 {
			t.Fatalf("guess %d: %s", i, r)
		}
	}

	// Decisions both ways.
	caller := newCaller(t, admin, "metrics-decided")
	for _, action := range []string{"owner", "iam.client.read"} {
		r := send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": "client-" + env.admin.ClientID, "action": action, "scope": "/"})
		if r.Status != http.StatusOK {
			t.Fatal(r)
		}
	}
	if r := send(t, http.MethodPost, "/v1/permissions/check", admin, map[string]string{"subject": caller.subject, "action": "owner", "scope": "/"}); r.Status != http.StatusOK || r.json(t)["allowed"] != false {
		t.Fatalf("denied decision: %s", r)
	}

	// The no-escalation and last-owner rules.
	grant(t, admin, caller.subject, "iam.policy.manage", "/")
	assertProblem(t, send(t, http.MethodPost, "/v1/policies", caller.token(t), map[string]string{"subject": caller.subject, "action": "owner", "scope": "/"}), http.StatusForbidden)
	lonely, res := newTenantAdmin(t, "metrics-lastowner")
	assertProblem(t, send(t, http.MethodDelete, "/v1/clients/"+res.ClientID, lonely, nil), http.StatusConflict)

	// Each dependency throttling and failing.
	read := func() response { return send(t, http.MethodGet, "/v1/clients/"+cid, admin, nil) }
	for _, c := range []struct {
		service string
		mode    faultMode
		request func() response
	}{
		{"dynamodb", throttle, read}, {"dynamodb", refuse, read},
		{"kms", throttle, func() response { return post(cid, value) }}, {"kms", refuse, func() response { return post(cid, value) }},
	} {
		env.proxies[c.service].set(c.mode)
		r := c.request()
		env.proxies[c.service].set(passThrough)
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("%s in mode %d: %s", c.service, c.mode, r)
		}
	}

	tmpl, err := samtemplate.Read(filepath.Join("..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	alarms := tmpl.MetricAlarms(metric.Namespace)
	if len(alarms) == 0 {
		t.Fatal("no alarm on a MachineIAM metric found")
	}
	for _, a := range alarms {
		if !emitted(lines, a.Metric, a.Dimensions) {
			t.Errorf("%s watches %s %v, which no scenario emitted", a.Name, a.Metric, a.Dimensions)
		}
	}
	// The metrics no alarm watches, on the dashboard.
	for _, m := range []struct {
		name string
		dims map[string]string
	}{
		{metric.TokensIssued, map[string]string{"AuthMethod": "client_secret_post"}},
		{metric.AuthenticationFailures, map[string]string{"Reason": "invalid_secret"}},
		{metric.ThrottledAttempts, map[string]string{}},
		{metric.Decisions, map[string]string{"Decision": metric.DecisionAllowed}},
		{metric.Decisions, map[string]string{"Decision": metric.DecisionDenied}},
		{metric.Refusals, map[string]string{"Rule": metric.RuleLastOwner}},
		{metric.DependencyLatency, map[string]string{"Dependency": metric.DynamoDB}},
		{metric.DependencyLatency, map[string]string{"Dependency": metric.KMS}},
	} {
		if !emitted(lines, m.name, m.dims) {
			t.Errorf("%s %v was not emitted", m.name, m.dims)
		}
	}
}
