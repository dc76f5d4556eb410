package clientsapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"

	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// FuzzClientBody: any create or replace body is accepted as a valid spec or
// refused with a 4xx problem; nothing panics.
func FuzzClientBody(f *testing.F) {
	f.Add(`{"name":"erp","description":"d","allowedGrantTypes":["client_credentials"],"allowedScopes":["api"],"redirectUris":[]}`)
	f.Add(`{"name":1}`)
	f.Add(`{"name":"a","description":"d","allowedGrantTypes":["authorization_code"],"allowedScopes":[],"redirectUris":["http://localhost:1/#x"]}`)
	f.Add(`[`)
	f.Add(`{"name":"a","description":"d","allowedGrantTypes":["client_credentials"],"allowedScopes":[],"redirectUris":[],"provenance":{"via":"stack","stackId":"x"}}`)
	f.Add(`{"clientId":"my-backend.service~1","name":"a","description":"d","allowedGrantTypes":["client_credentials"],"allowedScopes":[],"redirectUris":[]}`)
	s := &Service{Catalogs: access.NewCatalogs(apis.Builtin(), noAPIs{}), MaxTokenLifetime: 24 * time.Hour}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/clients", strings.NewReader(body))
		_, _, _, err := s.readSpec(httptest.NewRecorder(), r, true, "")
		var e *httpapi.Error
		if err != nil && (!errors.As(err, &e) || e.Status < 400 || e.Status >= 500) {
			t.Fatalf("%q: %v", body, err)
		}
	})
}

// noAPIs is a tenant that registered no APIs.
type noAPIs struct{}

func (noAPIs) ListAPIs(context.Context, string) ([]apis.API, error) { return nil, nil }
