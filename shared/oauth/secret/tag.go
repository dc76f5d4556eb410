package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// TagBits is the length of a secret's tag. A tag only has to tell apart
// the at most MaxPerClient secrets of one client, so it is short on
// purpose: whoever holds both the table and the tag key learns from a
// guess's tag only whether it is one of 1 in 4,096 values worth an
// argon2id run, and still pays argon2id for those (docs/security.md).
const TagBits = 12

// MinTagKeyLength is the shortest tag key accepted, in bytes.
const MinTagKeyLength = 32

// Tagger computes secret tags: a short keyed digest (HMAC-SHA256, cut to
// TagBits) of a client's secret value, stored with the secret's hash, that
// picks the one stored secret a presented value can match, so a request
// costs one argon2id run however many secrets the client has. The key is
// kept outside the table; a tag names the key that made it, so a tag of
// another key (the key was replaced) is treated as no tag at all.
type Tagger struct {
	key []byte
	kid string
}

// NewTagger returns a Tagger keyed with key (at least MinTagKeyLength
// bytes).
func NewTagger(key []byte) (*Tagger, error) {
	if len(key) < MinTagKeyLength {
		return nil, errors.New("secret: the tag key must be at least 32 bytes")
	}
	k := append([]byte(nil), key...)
	m := hmac.New(sha256.New, k)
	m.Write([]byte("machine-iam secret tag key id"))
	// Four bytes name the key among the few a deployment ever has; they
	// say nothing about the key itself.
	return &Tagger{key: k, kid: hex.EncodeToString(m.Sum(nil)[:4])}, nil
}

// Tag returns the tag of value as a secret of client clientID of tenant:
// "<key id>:<3 hex digits>". A nil Tagger (no key configured) returns "",
// and secrets then carry no tag.
func (t *Tagger) Tag(tenant, clientID, value string) string {
	if t == nil {
		return ""
	}
	m := hmac.New(sha256.New, t.key)
	// The client is part of the input, so one value used by two clients
	// has unrelated tags.
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write([]byte(value))
	sum := m.Sum(nil)
	n := (uint16(sum[0])<<8 | uint16(sum[1])) >> (16 - TagBits)
	const digits = "0123456789abcdef"
	return t.kid + ":" + string([]byte{digits[n>>8&0xf], digits[n>>4&0xf], digits[n&0xf]})
}

// sameKey reports whether tags a and b were made with the same key.
func sameKey(a, b string) bool {
	ka, _, okA := strings.Cut(a, ":")
	kb, _, okB := strings.Cut(b, ":")
	return okA && okB && ka == kb
}
