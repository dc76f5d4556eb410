package integration

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDecisions sends POST /v1/decisions through the whole local path
// (gateway, policies function, DynamoDB Local), by token and by subject,
// with 1 and 50 checks, and reports the median and 99th percentile latency
// of a request as p50-ms and p99-ms (docs/performance.md).
func BenchmarkDecisions(b *testing.B) {
	t := &testing.T{}
	f := newDecisionFixture(t)
	for _, by := range []string{"token", "subject"} {
		for _, n := range []int{1, 50} {
			b.Run(by+"/"+strconv.Itoa(n), func(b *testing.B) {
				cs := make([]map[string]string, n)
				for i := range cs {
					cs[i] = map[string]string{"action": "orders.order.read", "scope": "/orders/" + strconv.Itoa(i)}
				}
				body := map[string]any{"checks": cs}
				if by == "token" {
					body["token"] = f.token
				} else {
					body["subject"] = f.subject
				}
				// Warm the connection and the function before measuring.
				for range 10 {
					send(t, http.MethodPost, "/v1/decisions", f.gateway, body)
				}
				var took []time.Duration
				for b.Loop() {
					start := time.Now()
					if r := send(t, http.MethodPost, "/v1/decisions", f.gateway, body); r.Status != http.StatusOK {
						b.Fatal(r)
					}
					took = append(took, time.Since(start))
				}
				slices.Sort(took)
				pct := func(p float64) float64 {
					return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
			})
		}
	}
}
