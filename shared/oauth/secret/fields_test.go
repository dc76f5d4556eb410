package secret

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

func TestFieldsAreClassified(t *testing.T) {
	if missing := policy.Unclassified(Fields, reflect.TypeFor[Secret](), reflect.TypeFor[Hashed](), reflect.TypeFor[Spec]()); len(missing) > 0 {
		t.Fatalf("fields not classified in secret.Fields: %v", missing)
	}
}
