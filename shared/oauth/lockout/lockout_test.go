package lockout

import (
	"testing"
	"time"
)

func TestWindowAndAddressExhausted(t *testing.T) {
	p := Limits{Threshold: 3, Ceiling: 10, Window: time.Minute}
	now := time.Unix(1_800_000_030, 0) // 30 s into a window
	start, end := p.WindowAt(now)
	if end.Sub(start) != time.Minute || now.Before(start) || !now.Before(end) {
		t.Fatalf("window %v-%v", start, end)
	}
	for _, c := range []struct {
		counts Counts
		want   bool
	}{
		{Counts{}, false},
		{Counts{FromAddress: 2, Total: 9}, false},
		{Counts{FromAddress: 3, Total: 3}, true},
		{Counts{FromAddress: 0, Total: 10}, false}, // the ceiling is the store's to apply
	} {
		if got := p.AddressExhausted(c.counts); got != c.want {
			t.Errorf("AddressExhausted(%+v) = %v", c.counts, got)
		}
	}
}

func TestKey(t *testing.T) {
	real := "0afd4f1a-23d1-4e53-8f29-6ffa82b79e84"
	if CounterKey(real) != real {
		t.Error("a well-formed id is its own key")
	}
	if k := CounterKey("robot; DROP TABLE"); len(k) != 41 || k[0] != 'x' || CounterKey("robot; DROP TABLE") != k || CounterKey("robot") == k {
		t.Errorf("digest key %q", k)
	}
}

func TestAddress(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":                "203.0.113.7",
		"203.0.113.7:4711":           "203.0.113.7",
		"::ffff:203.0.113.7":         "203.0.113.7",
		"2001:db8:1:2:3:4:5:6":       "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"":                           "unknown",
		"not an address":             "unknown",
	} {
		if got := Address(in); got != want {
			t.Errorf("Address(%q) = %q, want %q", in, got, want)
		}
	}
}
