package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkColdStart starts each function's bootstrap under the runtime
// emulator b.N times (run it with -benchtime=20x) and reports the median
// init time (first invoke minus a warm one), the peak resident memory of the
// bootstrap process and the binary size. The event is a request without
// credentials, so the work measured is start-up, not a dependency. The
// Lambda authorizer teams deploy (examples/protected-api's
// AuthorizerFunction) is measured the same way, with an authorizer event
// that carries no token.
func BenchmarkColdStart(b *testing.B) {
	root, _ := filepath.Abs("..")
	bins := buildBootstraps(b, root)
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	for _, fn := range env.svc.Template.APIFunctions() {
		b.Run(fn, func(b *testing.B) {
			event := []byte(fmt.Sprintf(`{"version":"2.0","routeKey":"ANY /x","rawPath":"%s","headers":{"host":"id.example.com"},
				"requestContext":{"http":{"method":"GET","path":"%[1]s"},"requestId":"r","stage":"$default","domainName":"id.example.com"},"isBase64Encoded":false}`,
				map[string]string{"TokenFunction": "/.well-known/jwks.json", "ClientsFunction": "/v1/clients",
					"SecretsFunction": "/v1/clients/x/secrets", "PoliciesFunction": "/v1/actions"}[fn]))
			coldStarts(b, rie, bins[fn], functionEnv(b, fn), event)
		})
	}
	b.Run("AuthorizerFunction", func(b *testing.B) {
		bin := filepath.Join(filepath.Dir(bins["TokenFunction"]), "authorizer")
		coldStarts(b, rie, bin, authorizerEnv(b), authorizerEvent("", "1"))
	})
}

func coldStarts(b *testing.B, rie, bin string, environ []string, event []byte) {
	var inits []float64
	var peakKB int
	for range b.N {
		em := startEmulator(b, rie, bin, environ)
		start := time.Now()
		em.invokeRaw(b, event)
		first := time.Since(start)
		start = time.Now()
		em.invokeRaw(b, event)
		warm := time.Since(start)
		peakKB = max(peakKB, childPeakKB(em.cmd.Process.Pid))
		em.stop()
		inits = append(inits, float64(first-warm)/float64(time.Millisecond))
	}
	sort.Float64s(inits)
	st, _ := os.Stat(bin)
	b.ReportMetric(inits[len(inits)/2], "init-ms-median")
	b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MB")
	b.ReportMetric(float64(st.Size())/(1<<20), "binary-MB")
}

// childPeakKB returns the largest VmHWM among the children of pid.
func childPeakKB(pid int) int {
	peak := 0
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		raw, _ := os.ReadFile(f)
		for _, child := range strings.Fields(string(raw)) {
			status, _ := os.ReadFile("/proc/" + child + "/status")
			for _, line := range strings.Split(string(status), "\n") {
				if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
					peak = max(peak, kb)
				}
			}
		}
	}
	return peak
}
