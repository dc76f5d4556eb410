package secret

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testTagger(t testing.TB, fill byte) *Tagger {
	t.Helper()
	tg, err := NewTagger(bytes.Repeat([]byte{fill}, MinTagKeyLength))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTagger(t *testing.T) {
	if _, err := NewTagger(make([]byte, MinTagKeyLength-1)); err == nil {
		t.Error("a short key must be refused")
	}
	var none *Tagger
	if tag := none.Tag("t", "c", "v"); tag != "" {
		t.Errorf("no key: tag %q, want none", tag)
	}
	a, b := testTagger(t, 1), testTagger(t, 2)
	tag := a.Tag("t", "c", "correct-horse")
	kid, digits, ok := strings.Cut(tag, ":")
	if !ok || len(kid) != 8 || len(digits) != TagBits/4 || strings.Contains(tag, "correct") {
		t.Fatalf("tag %q", tag)
	}
	if a.Tag("t", "c", "correct-horse") != tag {
		t.Error("a tag must be the same for the same key, client and value")
	}
	if !sameKey(tag, a.Tag("t", "other", "v")) || sameKey(tag, b.Tag("t", "c", "correct-horse")) || sameKey(tag, "") {
		t.Error("a tag must name its key")
	}
	// Tags spread over the whole range, so a client's secrets rarely share one.
	seen := map[string]bool{}
	for i := range 4096 {
		seen[a.Tag("t", "c", fmt.Sprint(i))] = true
	}
	if len(seen) < 2400 {
		t.Errorf("4,096 values gave %d distinct tags", len(seen))
	}
}

// TestVerifierTagsPickOneSecret: with tags, a request verifies one hash
// whatever the number of secrets, matching or not.
func TestVerifierTagsPickOneSecret(t *testing.T) {
	cheap := Argon2id{Time: 1, MemoryKiB: 64, Threads: 1}
	h := &countingHasher{Hasher: cheap}
	tg, old := testTagger(t, 1), testTagger(t, 2)
	now := time.Now()
	mk := func(i int, by *Tagger) Hashed {
		value := fmt.Sprintf("secret-%02d", i)
		phc, _ := cheap.Hash(value)
		return Hashed{Secret: Secret{ID: value}, Hash: phc, Tag: by.Tag("t", "c", value)}
	}
	var full []Hashed
	for i := range MaxPerClient {
		full = append(full, mk(i, tg))
	}
	work := func(c []Hashed, value string, want bool) int64 {
		t.Helper()
		v := NewVerifier(h, 0)
		before := h.n.Load()
		m, ok := v.Match(c, value, tg.Tag("t", "c", value), now)
		if ok != want || (ok && m.ID != value) {
			t.Fatalf("Match(%q) = %q %v, want %v", value, m.ID, ok, want)
		}
		return h.n.Load() - before
	}
	for _, c := range []struct {
		name     string
		secrets  []Hashed
		value    string
		match    bool
		verifies int64
	}{
		{"no client", nil, "wrong-value", false, 1},
		{"one secret, wrong", full[:1], "wrong-value", false, 1},
		{"twenty secrets, wrong", full, "wrong-value", false, 1},
		{"twenty secrets, the last", full, "secret-19", true, 1},
		{"twenty secrets, the first", full, "secret-00", true, 1},
	} {
		if n := work(c.secrets, c.value, c.match); n != c.verifies {
			t.Errorf("%s: %d verifications, want %d", c.name, n, c.verifies)
		}
	}
	// Secrets without a tag of the current key are each verified, as
	// before tags; the match comes back with its old tag, so the caller
	// knows to store the new one.
	mixed := append([]Hashed{}, full[:17]...)
	untagged := mk(17, tg)
	untagged.Tag = ""
	mixed = append(mixed, untagged, mk(18, old), mk(19, tg))
	if n := work(mixed, "wrong-value", false); n != 2 {
		t.Errorf("two secrets without a current tag, wrong value: %d verifications, want 2", n)
	}
	v := NewVerifier(h, 0)
	if m, ok := v.Match(mixed, "secret-18", tg.Tag("t", "c", "secret-18"), now); !ok || m.Tag != old.Tag("t", "c", "secret-18") {
		t.Errorf("a secret under a replaced key must match and come back with its old tag: %v %q", ok, m.Tag)
	}
	// No tag key: every live secret is verified.
	if n := func() int64 {
		before := h.n.Load()
		NewVerifier(h, 0).Match(full, "wrong-value", "", now)
		return h.n.Load() - before
	}(); n != MaxPerClient {
		t.Errorf("no tag key: %d verifications, want %d", n, MaxPerClient)
	}
}

// BenchmarkRejectWrongSecret: a wrong secret for a client with 1 and with
// 20 secrets, with tags and without (secrets from before tags), at the
// production argon2id parameters and with no warm cache to help.
func BenchmarkRejectWrongSecret(b *testing.B) {
	tg := testTagger(b, 1)
	for _, tagged := range []bool{true, false} {
		for _, n := range []int{1, MaxPerClient} {
			var secrets []Hashed
			for i := range n {
				value := fmt.Sprintf("secret-value-%02d", i)
				phc, err := DefaultArgon2id.Hash(value)
				if err != nil {
					b.Fatal(err)
				}
				s := Hashed{Secret: Secret{ID: value}, Hash: phc}
				if tagged {
					s.Tag = tg.Tag("t", "c", value)
				}
				secrets = append(secrets, s)
			}
			b.Run(fmt.Sprintf("tagged=%v/secrets=%d", tagged, n), func(b *testing.B) {
				// Counted as well as timed: on a shared machine the count
				// is the figure that does not drift.
				h := &countingHasher{Hasher: DefaultArgon2id}
				v := NewVerifier(h, DefaultCacheEntries)
				for b.Loop() {
					if _, ok := v.Match(secrets, "wrong-value", tg.Tag("t", "c", "wrong-value"), time.Now()); ok {
						b.Fatal("a wrong value matched")
					}
				}
				b.ReportMetric(float64(h.n.Load())/float64(b.N), "argon2id/op")
			})
		}
	}
}
