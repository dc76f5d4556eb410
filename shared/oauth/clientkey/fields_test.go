package clientkey

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

func TestFieldsAreClassified(t *testing.T) {
	if missing := policy.Unclassified(Fields, reflect.TypeFor[Key](), reflect.TypeFor[Spec]()); len(missing) > 0 {
		t.Fatalf("fields not classified in clientkey.Fields: %v", missing)
	}
}
