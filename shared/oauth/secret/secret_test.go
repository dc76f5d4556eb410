package secret

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestArgon2idRoundTrip(t *testing.T) {
	h := DefaultArgon2id
	phc, err := h.Hash("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(phc, "correct-horse") {
		t.Fatalf("phc = %s", phc)
	}
	other, _ := h.Hash("correct-horse")
	if other == phc {
		t.Fatal("two hashes of one value must differ by salt")
	}
	if ok, err := h.Verify(phc, "correct-horse"); !ok || err != nil {
		t.Fatalf("verify own value: %v %v", ok, err)
	}
	if ok, err := h.Verify(phc, "correct-horsf"); ok || err != nil {
		t.Fatalf("verify other value: %v %v", ok, err)
	}
	// Parameters travel in the string: a hash made with other parameters
	// still verifies.
	cheap := Argon2id{Time: 1, MemoryKiB: 64, Threads: 1}
	old, _ := cheap.Hash("v")
	if ok, _ := h.Verify(old, "v"); !ok {
		t.Fatal("a hash with older parameters must verify")
	}
	if ok, err := h.Verify(h.Decoy(), ""); ok || err != nil {
		t.Fatalf("decoy: %v %v", ok, err)
	}
}

func TestArgon2idRejectsMalformed(t *testing.T) {
	for _, phc := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=9999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=99,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$c2hvcnQ",
	} {
		if ok, err := (Argon2id{}).Verify(phc, "x"); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v, want an error", phc, ok, err)
		}
	}
}

type countingHasher struct {
	Hasher
	n atomic.Int64
}

func (c *countingHasher) Verify(phc, v string) (bool, error) {
	c.n.Add(1)
	return c.Hasher.Verify(phc, v)
}

func TestVerifierEqualWorkAndCache(t *testing.T) {
	cheap := Argon2id{Time: 1, MemoryKiB: 64, Threads: 1}
	h := &countingHasher{Hasher: cheap}
	v := NewVerifier(h, 16)
	now := time.Now()
	mk := func(value string, exp *time.Time) Hashed {
		phc, _ := cheap.Hash(value)
		return Hashed{Secret: Secret{ID: value, Expiration: exp}, Hash: phc}
	}
	past := now.Add(-time.Second)
	one := []Hashed{mk("alpha-secret", nil)}
	two := []Hashed{mk("alpha-secret", nil), mk("beta-secret", nil)}
	expired := []Hashed{mk("gamma-secret", &past)}

	work := func(c []Hashed, value string, want bool) int64 {
		t.Helper()
		before := h.n.Load()
		if _, ok := v.Match(c, value, "", now); ok != want {
			t.Fatalf("Match(%q) = %v, want %v", value, ok, want)
		}
		return h.n.Load() - before
	}
	if n := work(nil, "whatever", false); n != 1 {
		t.Errorf("unknown client: %d verifications, want 1", n)
	}
	if n := work(one, "wrong", false); n != 1 {
		t.Errorf("one secret, wrong value: %d, want 1", n)
	}
	if n := work(expired, "gamma-secret", false); n != 1 {
		t.Errorf("only secret expired: %d, want 1 (and no match)", n)
	}
	if n := work(two, "wrong", false); n != 2 {
		t.Errorf("two secrets, wrong value: %d, want 2", n)
	}
	if n := work(two, "beta-secret", true); n != 2 {
		t.Errorf("second secret matches after checking the first: %d", n)
	}
	if n := work(two, "beta-secret", true); n != 0 {
		t.Errorf("warm repeat: %d verifications, want 0", n)
	}
	// The cache binds a value to one stored hash: the same value under a
	// new hash (a re-created secret) is verified again.
	if n := work([]Hashed{mk("beta-secret", nil)}, "beta-secret", true); n != 1 {
		t.Errorf("new hash, same value: %d, want 1", n)
	}
	// A cached secret that has since expired no longer matches.
	soon := now.Add(time.Minute)
	s := []Hashed{mk("delta-secret", &soon)}
	work(s, "delta-secret", true)
	if _, ok := v.Match(s, "delta-secret", "", soon); ok {
		t.Error("a cached secret must stop matching at its expiration")
	}
}

func TestVerifierCacheIsBounded(t *testing.T) {
	cheap := Argon2id{Time: 1, MemoryKiB: 64, Threads: 1}
	v := NewVerifier(cheap, 3)
	for i := range 10 {
		phc, _ := cheap.Hash("value")
		v.Match([]Hashed{{Secret: Secret{ID: string(rune('a' + i))}, Hash: phc}}, "value", "", time.Now())
	}
	if len(v.matches) != 3 {
		t.Fatalf("cache holds %d entries, want 3", len(v.matches))
	}
}

func TestSpecValidate(t *testing.T) {
	now := time.Now()
	future, past := now.Add(time.Hour), now.Add(-time.Hour)
	cases := []struct {
		spec  Spec
		field string
	}{
		{Spec{Value: "12345678", Description: "d"}, ""},
		{Spec{Value: strings.Repeat("é", 32), Description: "d", Expiration: &future}, ""},
		{Spec{Value: "1234567", Description: "d"}, "value"},
		{Spec{Value: strings.Repeat("v", 33), Description: "d"}, "value"},
		{Spec{Value: "1234567\n", Description: "d"}, "value"},
		{Spec{Value: "12345678", Description: ""}, "description"},
		{Spec{Value: "12345678", Description: strings.Repeat("d", 201)}, "description"},
		{Spec{Value: "12345678", Description: "d", Expiration: &past}, "expiration"},
		{Spec{Value: "12345678", Description: "d", Expiration: &now}, "expiration"},
	}
	for i, c := range cases {
		errs := c.spec.Validate(now)
		if (c.field == "") != (errs == nil) || (c.field != "" && len(errs[c.field]) == 0) {
			t.Errorf("case %d: errors %v, want field %q", i, errs, c.field)
		}
		for _, msgs := range errs {
			for _, m := range msgs {
				if c.spec.Value != "" && strings.Contains(m, c.spec.Value) {
					t.Errorf("case %d: message repeats the value", i)
				}
			}
		}
	}
}

func benchmarkHashed(b *testing.B) []Hashed {
	b.Helper()
	phc, err := DefaultArgon2id.Hash("correct-horse-battery")
	if err != nil {
		b.Fatal(err)
	}
	return []Hashed{{Secret: Secret{ID: "s"}, Hash: phc}}
}

// BenchmarkVerifyCold: a cache miss costs one argon2id verification with the
// production parameters.
func BenchmarkVerifyCold(b *testing.B) {
	secrets := benchmarkHashed(b)
	b.ReportAllocs()
	for b.Loop() {
		v := NewVerifier(DefaultArgon2id, DefaultCacheEntries)
		if _, ok := v.Match(secrets, "correct-horse-battery", "", time.Now()); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkVerifyWarm: a repeated value costs one HMAC and a map lookup.
func BenchmarkVerifyWarm(b *testing.B) {
	secrets := benchmarkHashed(b)
	v := NewVerifier(DefaultArgon2id, DefaultCacheEntries)
	v.Match(secrets, "correct-horse-battery", "", time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := v.Match(secrets, "correct-horse-battery", "", time.Now()); !ok {
			b.Fatal("no match")
		}
	}
}
