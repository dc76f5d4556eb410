package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	gohash "hash"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DefaultCacheEntries bounds the warm cache of a Verifier.
const DefaultCacheEntries = 4096

// Verifier checks a presented value against a client's stored secrets.
//
// A warm process remembers, for each (stored hash, presented value) pair that
// matched, a keyed digest of the pair — never the value — so a repeated
// request costs no argon2 work. The secrets themselves are read from storage
// on every request, so a deleted or expired secret fails at once even while
// its digest is cached.
//
// On a cache miss the work is one argon2 verification: of the live secret
// whose tag (see Tagger) is the presented value's, or, when none is, of a
// decoy hash, so a wrong value costs the same for a client with one secret,
// with twenty, or for no client at all. Secrets without a tag of the
// current key (made before tags, or under a replaced key) are each verified
// too, as before tags; the caller tags them on their next successful use.
// Two of a client's secrets can share a tag (1 in 4,096 per pair); both are
// then verified.
type Verifier struct {
	hasher Hasher
	key    []byte // keys the cache digests; random per process, never stored
	macs   sync.Pool

	mu      sync.Mutex
	matches map[[sha256.Size]byte]struct{}
	max     int
}

// NewVerifier returns a Verifier remembering up to cacheEntries matches
// (0 disables the cache).
func NewVerifier(h Hasher, cacheEntries int) *Verifier {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Verifier{hasher: h, key: key, matches: make(map[[sha256.Size]byte]struct{}), max: cacheEntries}
}

// MatchWarm returns the live secret among candidates that value matched
// before in this process, with no hash work; false means only Match can
// tell.
func (v *Verifier) MatchWarm(candidates []Hashed, value string, now time.Time) (Secret, bool) {
	c, ok := v.warm(candidates, value, now)
	return c.Secret, ok
}

func (v *Verifier) warm(candidates []Hashed, value string, now time.Time) (Hashed, bool) {
	for _, c := range candidates {
		if !c.ExpiredAt(now) && v.cached(v.digest(c.Hash, value)) {
			return c, true
		}
	}
	return Hashed{}, false
}

// Match returns the live secret among candidates that value matches; tag is
// value's tag for the candidates' client ("" when no tag key is
// configured: every live secret is then verified). candidates may be empty
// (unknown client); the work done is the same. The match is returned with
// its stored hash and tag: when its Tag is not tag, the caller stores tag
// on it.
func (v *Verifier) Match(candidates []Hashed, value, tag string, now time.Time) (Hashed, bool) {
	if c, ok := v.warm(candidates, value, now); ok {
		return c, true
	}
	checked := make([]Hashed, 0, 1)
	for _, c := range candidates {
		if !c.ExpiredAt(now) && !(tag != "" && c.Tag != tag && sameKey(c.Tag, tag)) {
			checked = append(checked, c)
		}
	}
	if len(checked) == 0 {
		_, _ = v.hasher.Verify(v.hasher.Decoy(), value)
		return Hashed{}, false
	}
	for _, c := range checked {
		ok, err := v.hasher.Verify(c.Hash, value)
		if err != nil {
			// A malformed stored hash matches nothing; say which secret
			// without saying anything about the hash.
			slog.Error("stored secret hash is malformed", "secretId", c.ID)
			continue
		}
		if ok {
			v.remember(v.digest(c.Hash, value))
			return c, true
		}
	}
	return Hashed{}, false
}

func (v *Verifier) digest(hash, value string) [sha256.Size]byte {
	// Keyed HMACs are reused: making one costs more than the digest of a
	// short input, and every warm token request makes one per secret.
	m, _ := v.macs.Get().(gohash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, v.key)
	}
	m.Reset()
	_, _ = io.WriteString(m, hash)
	_, _ = m.Write([]byte{0})
	_, _ = io.WriteString(m, value)
	var d [sha256.Size]byte
	m.Sum(d[:0])
	v.macs.Put(m)
	return d
}

func (v *Verifier) cached(d [sha256.Size]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.matches[d]
	return ok
}

func (v *Verifier) remember(d [sha256.Size]byte) {
	if v.max <= 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.matches) >= v.max {
		// Evict an arbitrary entry: a miss only costs one argon2 run.
		for k := range v.matches {
			delete(v.matches, k)
			break
		}
	}
	v.matches[d] = struct{}{}
}
