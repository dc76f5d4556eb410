package federation

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

func TestFieldsAreClassified(t *testing.T) {
	if missing := policy.Unclassified(Fields, reflect.TypeFor[Credential](), reflect.TypeFor[Spec]()); len(missing) > 0 {
		t.Fatalf("fields not classified in federation.Fields: %v", missing)
	}
}
