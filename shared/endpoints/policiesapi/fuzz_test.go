package policiesapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/apis"

	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

func is4xx(err error) bool {
	var e *httpapi.Error
	return errors.As(err, &e) && e.Status >= 400 && e.Status < 500
}

// FuzzPolicyBody: any {subject, action, scope} body yields a well-formed,
// normalized triple or a 4xx problem.
func FuzzPolicyBody(f *testing.F) {
	f.Add(`{"subject":"client-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84","action":"owner","scope":"/a/"}`)
	f.Add(`{"subject":"user-x","action":"nope","scope":"a/../b"}`)
	f.Add(`{"subject":"group-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84","action":"iam.manage","scope":"/` + strings.Repeat("a", 600) + `"}`)
	s := &Service{Catalogs: access.NewCatalogs(apis.Builtin(), noAPIs{})}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/policies", strings.NewReader(body))
		inertOK := len(body)%2 == 0
		k, err := s.triple(httptest.NewRecorder(), r, inertOK)
		if err != nil {
			if !is4xx(err) {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		if _, _, err := subject.Parse(k.Subject); err != nil || !(s.Catalogs.Builtin().Actions.Has(k.Action) || inertOK && action.ValidName(k.Action)) {
			t.Fatalf("accepted %+v", k)
		}
		if n, err := resource.Normalize(k.Scope); err != nil || n != k.Scope {
			t.Fatalf("accepted a scope that is not normalized: %q", k.Scope)
		}
	})
}

// FuzzMembersBody: any members body yields distinct client or user ids, or
// a 4xx problem.
func FuzzMembersBody(f *testing.F) {
	f.Add(`{"subjectIds":["client-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84","user-00000000-0000-0000-0000-000000000000"]}`)
	f.Add(`{"subjectIds":["group-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84"]}`)
	f.Add(`{"subjectIds":[]}`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/subjects/groups/x/members", strings.NewReader(body))
		ids, err := memberIDs(httptest.NewRecorder(), r)
		if err != nil {
			if !is4xx(err) {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, id := range ids {
			kind, _, err := subject.Parse(id)
			if err != nil || kind == subject.Group || seen[id] {
				t.Fatalf("accepted %q", id)
			}
			seen[id] = true
		}
	})
}

// noAPIs is a tenant that registered no APIs.
type noAPIs struct{}

func (noAPIs) ListAPIs(context.Context, string) ([]apis.API, error) { return nil, nil }
