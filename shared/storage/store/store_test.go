package store

import (
	"errors"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
)

func TestCreateWithNewID(t *testing.T) {
	var tried []string
	got, err := CreateWithNewID(func(newID string) error {
		tried = append(tried, newID)
		if len(tried) < 2 {
			return ErrConflict
		}
		return nil
	})
	if err != nil || len(tried) != 2 || got != tried[1] || tried[0] == tried[1] || !id.Valid(got) {
		t.Fatalf("%q %v %v", got, err, tried)
	}
	if _, err := CreateWithNewID(func(string) error { return ErrConflict }); !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("endless conflicts: %v", err)
	}
	boom := errors.New("boom")
	if _, err := CreateWithNewID(func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("other errors pass through: %v", err)
	}
}
