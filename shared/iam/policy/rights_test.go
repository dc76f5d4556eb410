package policy

import (
	"reflect"
	"slices"
	"testing"
)

// TestUnclassifiedWireReadsEmbeddedStructs: the members an embedded struct
// promotes are checked like the embedding type's own.
func TestUnclassifiedWireReadsEmbeddedStructs(t *testing.T) {
	type inner struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	}
	type outer struct {
		ID string `json:"id"`
		inner
		ETag string `json:"-"`
	}
	fields := map[string]FieldClass{"ID": Neutral, "Name": Neutral}
	got := UnclassifiedWire(map[string]string{"id": "ID", "name": "Name"}, fields, reflect.TypeFor[outer]())
	if want := []string{"inner.secret"}; !slices.Equal(got, want) {
		t.Fatalf("unclassified %v, want %v", got, want)
	}
}
