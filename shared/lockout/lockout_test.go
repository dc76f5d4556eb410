package lockout

import (
	"testing"
	"time"
)

func TestLocked(t *testing.T) {
	p := Policy{Threshold: 3, Window: time.Minute}
	now := time.Unix(1_800_000_030, 0) // 30 s into a window
	start, end := p.WindowAt(now)
	if end.Sub(start) != time.Minute || now.Before(start) || !now.Before(end) {
		t.Fatalf("window %v-%v", start, end)
	}
	if locked, _ := p.Locked([]Count{{start, 2}}, now); locked {
		t.Error("2 failures of 3 must not lock")
	}
	locked, retry := p.Locked([]Count{{start.Add(-time.Minute), 9}, {start, 3}}, now)
	if !locked || retry != 30*time.Second {
		t.Errorf("locked %v retry %v", locked, retry)
	}
	if locked, _ := p.Locked([]Count{{start.Add(-time.Minute), 9}}, now); locked {
		t.Error("an earlier window's failures must not lock")
	}
}

func TestKey(t *testing.T) {
	real := "0afd4f1a-23d1-4e53-8f29-6ffa82b79e84"
	if Key(real) != real {
		t.Error("a well-formed id is its own key")
	}
	if k := Key("robot; DROP TABLE"); len(k) != 41 || k[0] != 'x' || Key("robot; DROP TABLE") != k || Key("robot") == k {
		t.Errorf("digest key %q", k)
	}
}
