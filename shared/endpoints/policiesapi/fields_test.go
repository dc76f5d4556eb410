package policiesapi

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// TestWireFieldsAreClassified maps each JSON member of the group wire types
// to the group.Group field it carries, which must be classified.
func TestWireFieldsAreClassified(t *testing.T) {
	groups := map[string]string{"id": "ID", "subjectId": "ID", "displayName": "DisplayName", "description": "Description",
		"tenant": "Tenant", "type": "ID", "provenance": "Provenance", "createdAt": "CreatedAt"}
	if missing := policy.UnclassifiedWire(groups, group.Fields, reflect.TypeFor[wire.GroupRequest](), reflect.TypeFor[wire.Group]()); len(missing) > 0 {
		t.Fatalf("group JSON members not mapped to a classified field: %v", missing)
	}
}
