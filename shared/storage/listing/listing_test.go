package listing

import (
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/id"
)

func TestCursorRoundTripAndRefusals(t *testing.T) {
	c := Cursor{After: "name\x01" + id.New(), Page: 3, Found: 7}
	got, err := Decode(c.Encode())
	if err != nil || got != c {
		t.Fatalf("%+v %v", got, err)
	}
	for name, bad := range map[string]string{
		"not base64":   "%%%",
		"not JSON":     "bm9wZQ",
		"page 0":       Cursor{After: "n\x01" + id.New()}.Encode(),
		"both ways":    Cursor{After: "a\x01" + id.New(), Before: "b\x01" + id.New(), Page: 1}.Encode(),
		"last and pos": Cursor{Last: true, After: "a\x01" + id.New(), Page: 1}.Encode(),
		"too long":     Cursor{After: strings.Repeat("x", 1100) + "\x01" + id.New(), Page: 1}.Encode(),
	} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestQueryBounds(t *testing.T) {
	if _, err := (Request{Page: 201, Size: 50}).Query(); err != nil {
		t.Errorf("page 201 of 50 (skips 10,000): %v", err)
	}
	if _, err := (Request{Page: 202, Size: 50}).Query(); err == nil || !strings.Contains(err.Error(), "follow the next links") {
		t.Errorf("page 202 of 50: %v", err)
	}
	if _, err := (Request{Page: 2, Size: 50, Search: "x"}).Query(); err == nil {
		t.Error("a search by page number was accepted")
	}
	q, err := (Request{Page: 2, Size: 50, Search: "x", NumbersOnly: true}).Query()
	if err != nil || q.Skip != 50 || q.ScanLimit != MaxDepth {
		t.Errorf("envelope B search: %+v %v", q, err)
	}
	if q, _ := (Request{Page: 1, Size: 50, Search: "x"}).Query(); q.ScanLimit != SearchScan {
		t.Errorf("search budget %d", q.ScanLimit)
	}
}
