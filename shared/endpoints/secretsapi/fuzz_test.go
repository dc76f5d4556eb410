package secretsapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// FuzzSecretBody: any create body is a valid spec or a 4xx problem that
// never repeats the value.
func FuzzSecretBody(f *testing.F) {
	f.Add(`{"value":"correct-horse","description":"d","expiration":"2031-01-01T00:00:00Z"}`)
	f.Add(`{"value":"short","description":"","expiration":"tomorrow"}`)
	f.Add(`{"value":null}`)
	s := &Service{Now: time.Now}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/clients/x/secrets", strings.NewReader(body))
		var req wire.SecretRequest
		err := httpapi.DecodeJSON(httptest.NewRecorder(), r, &req)
		if err == nil {
			_, err = s.spec(req, secret.Spec.Validate)
		}
		var e *httpapi.Error
		if err != nil && (!errors.As(err, &e) || e.Status < 400 || e.Status >= 500) {
			t.Fatalf("%q: %v", body, err)
		}
		if err != nil && req.Value != nil && len(*req.Value) >= 4 && strings.Contains(err.Error(), *req.Value) {
			t.Fatalf("the error repeats the value: %v", err)
		}
	})
}
