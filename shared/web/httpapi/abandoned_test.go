package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
)

// A dependency call cut short because the caller went away is no server
// error: it is logged at INFO and recorded as 499, so no 5xx alarm sees
// it. A request that ran out of its own budget still is one.
func TestAbandonedRequestIsNoServerError(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	cause := fault.Unavailable("dynamodb:PutItem", context.Canceled)
	for name, write := range map[string]func(http.ResponseWriter, *http.Request, error){"problem": WriteProblem, "oauth": WriteOAuthError} {
		logs.Reset()
		w := httptest.NewRecorder()
		write(w, httptest.NewRequest(http.MethodPost, "/v1/clients", nil).WithContext(gone), cause)
		if w.Code != StatusAbandoned || strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "abandoned") {
			t.Errorf("%s: status %d, log %s", name, w.Code, logs.String())
		}

		logs.Reset()
		expired, stop := context.WithTimeout(context.Background(), 0)
		<-expired.Done()
		w = httptest.NewRecorder()
		write(w, httptest.NewRequest(http.MethodPost, "/v1/clients", nil).WithContext(expired), fault.Unavailable("dynamodb:PutItem", errors.New("timeout")))
		stop()
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("%s, out of budget: status %d, log %s", name, w.Code, logs.String())
		}
	}
}
