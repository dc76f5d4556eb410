package dynamo

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// TestStoredAPIFieldsAreClassified maps each member of the stored spec to the
// apis.API field it holds, which must be classified.
func TestStoredAPIFieldsAreClassified(t *testing.T) {
	stored := map[string]string{"identifier": "Identifier", "name": "Scopes", "description": "Description", "discoverable": "Discoverable",
		"scopes": "Scopes", "actions": "Actions", "parent": "Actions"}
	if missing := policy.UnclassifiedWire(stored, apis.Fields, reflect.TypeFor[apiSpec]()); len(missing) > 0 {
		t.Fatalf("stored API members not mapped to a classified field: %v", missing)
	}
}
