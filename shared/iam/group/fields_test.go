package group

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

func TestFieldsAreClassified(t *testing.T) {
	if missing := policy.Unclassified(Fields, reflect.TypeFor[Group](), reflect.TypeFor[Spec]()); len(missing) > 0 {
		t.Fatalf("fields not classified in group.Fields: %v", missing)
	}
}
