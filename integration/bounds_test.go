package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// TestSubjectBoundsOverHTTP: past policy.MaxPerSubject policies or
// group.MaxPerSubject groups a subject is refused with a 409 problem that
// says why; nothing is written.
func TestSubjectBoundsOverHTTP(t *testing.T) {
	t.Parallel()
	admin, _ := newTenantAdmin(t, "bounds")
	id, _ := newClient(t, admin, "bounded")
	subject := "client-" + id
	for i := range policy.MaxPerSubject {
		grant(t, admin, subject, "banking.ais.read", fmt.Sprintf("/companies/%d", i))
	}
	r := send(t, http.MethodPost, "/v1/policies", admin, map[string]string{"subject": subject, "action": "banking.ais.read", "scope": "/companies/x"})
	assertProblem(t, r, http.StatusConflict)
	if !strings.Contains(r.json(t)["detail"].(string), fmt.Sprintf("holds %d policies", policy.MaxPerSubject)) {
		t.Errorf("detail: %s", r)
	}
	assertAllowed(t, admin, subject, "banking.ais.read", "/companies/x", false)

	for i := range group.MaxPerSubject + 1 {
		g := send(t, http.MethodPost, "/v1/subjects/groups", admin, map[string]string{"displayName": fmt.Sprint("g", i), "description": "d"})
		r := send(t, http.MethodPost, "/v1/subjects/groups/"+g.json(t)["id"].(string)+"/members", admin, map[string]any{"subjectIds": []string{subject}})
		if i < group.MaxPerSubject {
			if r.Status != http.StatusNoContent {
				t.Fatal(r)
			}
			continue
		}
		assertProblem(t, r, http.StatusConflict)
		if !strings.Contains(r.json(t)["detail"].(string), fmt.Sprintf("belongs to %d groups", group.MaxPerSubject)) {
			t.Errorf("detail: %s", r)
		}
	}
	if r := send(t, http.MethodGet, "/v1/subjects/"+subject+"/memberships", admin, nil); r.json(t)["total"] != float64(group.MaxPerSubject) {
		t.Errorf("memberships: %s", r)
	}
}
