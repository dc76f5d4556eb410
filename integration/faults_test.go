package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// budget is the longest a request may take while a dependency is down:
// the request timeout the harness configures, plus slack.
const budget = 4 * time.Second

func timed(t *testing.T, f func() response) response {
	t.Helper()
	start := time.Now()
	r := f()
	if took := time.Since(start); took > budget {
		t.Fatalf("the request took %s, past the %s budget: %s", took, budget, r)
	}
	return r
}

func assertRetryAfter(t *testing.T, r response) {
	t.Helper()
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
}

// TestDependencyFaults takes DynamoDB and KMS away in the ways a network and
// a quota can, and checks every answer is a 503 problem (or the OAuth
// temporarily_unavailable) with Retry-After within the request budget, and
// that the same process serves correctly as soon as the dependency is back.
func TestDependencyFaults(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "faults")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {value}}
	tokenRequest := func() response { return send(t, http.MethodPost, "/connect/token", "", form) }
	read := func() response { return send(t, http.MethodGet, "/v1/clients/"+id, admin, nil) }
	write := func() response {
		return send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": "during-outage", "description": "x"})
	}
	healthy := func(t *testing.T) {
		t.Helper()
		if r := tokenRequest(); r.Status != 200 {
			t.Fatalf("token after recovery: %s", r)
		}
		if r := read(); r.Status != 200 {
			t.Fatalf("read after recovery: %s", r)
		}
	}
	healthy(t)

	for _, c := range []struct {
		name    string
		service string
		mode    faultMode
	}{
		{"DynamoDB stopped", "dynamodb", refuse},
		{"DynamoDB hangs", "dynamodb", hang},
		{"KMS stopped", "kms", refuse},
		{"KMS hangs", "kms", hang},
	} {
		t.Run(c.name, func(t *testing.T) {
			env.proxies[c.service].set(c.mode)
			r := timed(t, tokenRequest)
			if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "temporarily_unavailable" {
				t.Fatalf("token request: %s", r)
			}
			assertRetryAfter(t, r)
			if c.service == "dynamodb" {
				for _, f := range []func() response{read, write} {
					r := timed(t, f)
					assertProblem(t, r, http.StatusServiceUnavailable)
					assertRetryAfter(t, r)
				}
			}
			env.proxies[c.service].set(passThrough)
			healthy(t)
		})
	}

	t.Run("KMS throttles", func(t *testing.T) {
		p := env.proxies["kms"]
		p.requests.Store(0)
		p.set(throttle)
		r := timed(t, tokenRequest)
		p.set(passThrough)
		if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "temporarily_unavailable" {
			t.Fatalf("token request: %s", r)
		}
		assertRetryAfter(t, r)
		if n := p.requests.Load(); n != 3 {
			t.Errorf("KMS saw %d Sign attempts, want 3 (the SDK's retries with backoff)", n)
		}
		healthy(t)
	})

	t.Run("nothing half-written", func(t *testing.T) {
		secrets := send(t, http.MethodGet, "/v1/clients/"+id+"/secrets", admin, nil).json(t)["items"].([]any)
		if len(secrets) != 1 {
			t.Errorf("%d secrets after failed writes, want the first only", len(secrets))
		}
		tokenFor(t, tenant.Default, id, value, "")
	})
}
