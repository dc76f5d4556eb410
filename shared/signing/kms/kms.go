// Package kms implements signer.Signer and signer.KeySet with AWS KMS
// asymmetric keys: the private key never leaves KMS; each signature is one
// kms:Sign call over a locally computed digest. The configured key ids are
// usually aliases, which an operator points at a new key to rotate, so each
// is resolved again (kms:GetPublicKey) once its resolution is older than
// ResolveEvery; a key that stopped being current stays published for
// Retain, the life of the tokens it signed. A key that cannot be read is not
// asked for again before RetryAfter, so requests (the JWKS is public) cannot
// drive kms:GetPublicKey traffic. With Shared and ShareKey set, instances
// share their resolutions (in the table): a new instance takes a resolution
// another made less than ResolveEvery ago instead of asking KMS, so a burst
// of cold starts costs no kms:GetPublicKey while any instance resolved
// recently. Each shared resolution carries a MAC under ShareKey, which is
// kept out of the table: whoever may write the table but not read the key
// cannot plant a verification key.
package kms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/signing/signer"
)

// API is the part of the KMS client this package calls.
type API interface {
	Sign(ctx context.Context, in *awskms.SignInput, opts ...func(*awskms.Options)) (*awskms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput, opts ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error)
}

// Resolution is what a configured key id resolved to, as shared between
// instances: the key's ARN and its public key (DER, as kms:GetPublicKey
// returns it), read from KMS at At, and the MAC of all four under the instances'
// ShareKey.
type Resolution struct {
	KeyID     string
	ARN       string
	PublicKey []byte
	At        time.Time
	MAC       []byte
}

// MinShareKeyLength is the shortest ShareKey a Signer shares with.
const MinShareKeyLength = 32

// Shared keeps the latest Resolution of each configured key id for every
// instance. Whoever may write it can publish a verification key, so it
// lives where only the service's own functions write.
type Shared interface {
	Resolutions(ctx context.Context) (map[string]Resolution, error)
	PutResolution(ctx context.Context, r Resolution) error
}

// Defaults of a Signer's intervals.
const (
	DefaultResolveEvery = 5 * time.Minute
	DefaultRetryAfter   = 30 * time.Second
)

// Signer signs with the current KMS key and lists it together with the
// previous keys kept for rotation.
type Signer struct {
	api      API
	current  string
	previous []string

	// ResolveEvery is how old a resolution may grow before it is made
	// again; RetryAfter how long a failed one is remembered (and the least
	// time between two forced refreshes); Retain how long a key that was
	// current stays published after it was replaced.
	ResolveEvery, RetryAfter, Retain time.Duration
	Now                              func() time.Time
	// Shared, when set together with ShareKey (at least
	// MinShareKeyLength bytes), is read before KMS and written after it;
	// a resolution in it whose MAC under ShareKey does not verify is
	// ignored.
	Shared   Shared
	ShareKey []byte

	mu     sync.Mutex
	keys   map[string]*entry // by configured key id or alias
	arns   map[string]string // key ARN by kid, of every key resolved
	former []formerKey
	forced time.Time // last Refresh call that resolved anything
	// shared is the last read of Shared, reused for a second so that
	// resolving several ids reads it once.
	shared   map[string]Resolution
	sharedAt time.Time
}

type resolved struct {
	key signer.Key
	arn string
	at  time.Time // when it was read from KMS
}

// entry is the last resolution of one configured id: a key, or the error
// that kept it from being read (and no key), with when it was made. direct
// asks the next resolution to go to KMS, past Shared.
type entry struct {
	r      resolved
	err    error
	at     time.Time
	direct bool
}

type formerKey struct {
	key   signer.Key
	until time.Time
}

var (
	_ signer.Signer    = (*Signer)(nil)
	_ signer.KeySet    = (*Signer)(nil)
	_ signer.Refresher = (*Signer)(nil)
)

// New returns a Signer for the key current (key id, ARN or alias) that also
// publishes previous, with the default intervals and a retention of one
// hour (set Retain to the token lifetime plus leeway).
func New(api API, current string, previous ...string) *Signer {
	return &Signer{api: api, current: current, previous: previous, keys: map[string]*entry{}, arns: map[string]string{},
		ResolveEvery: DefaultResolveEvery, RetryAfter: DefaultRetryAfter, Retain: time.Hour, Now: time.Now}
}

// Key implements signer.Signer.
func (s *Signer) Key(ctx context.Context) (signer.Key, error) {
	r, err := s.resolve(ctx, s.current)
	return r.key, err
}

// Keys implements signer.KeySet: the current key, the keys that were
// current within Retain, and the previous keys. A previous key that cannot
// be read is left out (it may have been deleted once its tokens expired);
// the current key must be readable.
func (s *Signer) Keys(ctx context.Context) ([]signer.Key, error) {
	cur, err := s.resolve(ctx, s.current)
	if err != nil {
		return nil, err
	}
	keys := []signer.Key{cur.key}
	add := func(k signer.Key) {
		for _, have := range keys {
			if have.ID == k.ID {
				return
			}
		}
		keys = append(keys, k)
	}
	now := s.Now()
	s.mu.Lock()
	for _, f := range s.former {
		if now.Before(f.until) {
			add(f.key)
		}
	}
	s.mu.Unlock()
	for _, id := range s.previous {
		if r, err := s.resolve(ctx, id); err == nil {
			add(r.key)
		}
	}
	return keys, nil
}

// Refresh implements signer.Refresher: it resolves every configured id
// again, at most once per RetryAfter, so that a token signed by a key rotated in
// a moment ago verifies at once, and unknown key ids in forged tokens cannot
// drive kms:GetPublicKey traffic.
func (s *Signer) Refresh(ctx context.Context) {
	now := s.Now()
	s.mu.Lock()
	if now.Sub(s.forced) < s.RetryAfter {
		s.mu.Unlock()
		return
	}
	s.forced = now
	for _, e := range s.keys {
		// Due, and from KMS: what is shared may be what is out of date.
		e.at, e.direct = time.Time{}, true
	}
	s.mu.Unlock()
	_, _ = s.Keys(ctx)
}

// Sign implements signer.Signer: it signs with the KMS key whose public key
// is key, by that key's ARN, so the signature always matches the header's
// kid, whatever the aliases point at by now.
func (s *Signer) Sign(ctx context.Context, key signer.Key, digest []byte) ([]byte, error) {
	s.mu.Lock()
	arn, ok := s.arns[key.ID]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("kms: key %s was never resolved here", key.ID)
	}
	alg := kmstypes.SigningAlgorithmSpecEcdsaSha256
	if key.Algorithm == signer.RS256 {
		alg = kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256
	}
	out, err := s.api.Sign(ctx, &awskms.SignInput{
		KeyId:            aws.String(arn),
		Message:          digest,
		MessageType:      kmstypes.MessageTypeDigest,
		SigningAlgorithm: alg,
	})
	if err != nil {
		return nil, fault.Unavailable("kms:Sign", err)
	}
	if key.Algorithm == signer.ES256 {
		return signer.ECDSAFromDER(out.Signature, 32)
	}
	return out.Signature, nil
}

// resolve returns keyID's key, reading it from KMS when its last
// resolution is older than ResolveEvery (or, for a failure, RetryAfter). A
// failed read keeps serving the key read before, if any: an outage of KMS
// must not unpublish keys. When an id resolves to another key, the one it
// replaces stays published for Retain.
func (s *Signer) resolve(ctx context.Context, keyID string) (resolved, error) {
	now := s.Now()
	s.mu.Lock()
	e, ok := s.keys[keyID]
	direct := false
	if ok {
		ttl := s.ResolveEvery
		if e.err != nil {
			ttl = s.RetryAfter
		}
		if now.Sub(e.at) < ttl {
			s.mu.Unlock()
			return e.r, e.err
		}
		direct = e.direct
	}
	s.mu.Unlock()
	r, err := s.fetch(ctx, keyID, now, direct)
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.keys[keyID]
	switch {
	case err != nil && prev != nil && prev.err == nil:
		// Keep the key, try again after RetryAfter.
		s.keys[keyID] = &entry{r: prev.r, at: now.Add(s.RetryAfter - s.ResolveEvery)}
		return prev.r, nil
	case err != nil:
		s.keys[keyID] = &entry{err: err, at: now}
		return resolved{}, err
	}
	if prev != nil && prev.err == nil && prev.r.key.ID != r.key.ID {
		s.former = append(slicesDeleteExpired(s.former, now), formerKey{key: prev.r.key, until: now.Add(s.Retain)})
	}
	// A shared resolution ages from when it was read from KMS, so the
	// fleet asks KMS again once per ResolveEvery, not once per instance.
	s.keys[keyID] = &entry{r: r, at: r.at}
	s.arns[r.key.ID] = r.arn
	return r, nil
}

// slicesDeleteExpired drops the former keys whose retention ended.
func slicesDeleteExpired(former []formerKey, now time.Time) []formerKey {
	out := former[:0]
	for _, f := range former {
		if now.Before(f.until) {
			out = append(out, f)
		}
	}
	return out
}

// fetch resolves keyID: from Shared when it holds a resolution younger
// than ResolveEvery (unless direct), else from KMS, and then shares it.
func (s *Signer) fetch(ctx context.Context, keyID string, now time.Time, direct bool) (resolved, error) {
	sharing := s.Shared != nil && len(s.ShareKey) >= MinShareKeyLength
	if sharing && !direct {
		// Authenticated first, so that anything planted is logged,
		// whatever its age.
		if sr, ok := s.sharedResolution(ctx, keyID, now); ok && s.authentic(ctx, keyID, sr) && now.Sub(sr.At) < s.ResolveEvery && !sr.At.After(now) {
			if r, err := parse(keyID, sr.ARN, sr.PublicKey); err == nil {
				r.at = sr.At
				return r, nil
			}
		}
	}
	out, err := s.api.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return resolved{}, fault.Unavailable("kms:GetPublicKey", err)
	}
	if out.KeyUsage != kmstypes.KeyUsageTypeSignVerify {
		return resolved{}, fmt.Errorf("kms key %s is not a SIGN_VERIFY key", keyID)
	}
	switch out.KeySpec {
	case kmstypes.KeySpecEccNistP256, kmstypes.KeySpecRsa2048:
	default:
		return resolved{}, fmt.Errorf("kms key %s has key spec %s; use ECC_NIST_P256 or RSA_2048", keyID, out.KeySpec)
	}
	r, err := parse(keyID, aws.ToString(out.KeyId), out.PublicKey)
	if err != nil {
		return resolved{}, err
	}
	r.at = now
	if sharing {
		// Sharing is an optimisation: a failure costs other instances
		// one kms:GetPublicKey each, nothing more.
		share := Resolution{KeyID: keyID, ARN: r.arn, PublicKey: out.PublicKey, At: now}
		share.MAC = s.mac(share)
		if err := s.Shared.PutResolution(ctx, share); err != nil {
			slog.WarnContext(ctx, "signing key resolution not shared", "error", err.Error())
		}
	}
	return r, nil
}

// mac is the MAC of r's fields under ShareKey, each length-prefixed so no
// two resolutions have the same input.
func (s *Signer) mac(r Resolution) []byte {
	h := hmac.New(sha256.New, s.ShareKey)
	for _, field := range [][]byte{[]byte("machine-iam signing-key resolution v1"), []byte(r.KeyID), []byte(r.ARN),
		binary.BigEndian.AppendUint64(nil, uint64(r.At.UnixMilli())), r.PublicKey} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(field))))
		h.Write(field)
	}
	return h.Sum(nil)
}

// authentic reports whether r is keyID's resolution and its MAC verifies
// under ShareKey. One that is not was written by someone without the key
// (or under a replaced one), or copied from another key id's: KMS is asked
// instead, and the failure logged for the operator.
func (s *Signer) authentic(ctx context.Context, keyID string, r Resolution) bool {
	if r.KeyID == keyID && hmac.Equal(r.MAC, s.mac(r)) {
		return true
	}
	slog.WarnContext(ctx, "shared signing key resolution failed authentication; reading the key from KMS", "keyId", r.KeyID)
	return false
}

// sharedResolution returns keyID's resolution from Shared, read at most
// once a second.
func (s *Signer) sharedResolution(ctx context.Context, keyID string, now time.Time) (Resolution, bool) {
	s.mu.Lock()
	all, at := s.shared, s.sharedAt
	s.mu.Unlock()
	if all == nil || now.Sub(at) >= time.Second || now.Before(at) {
		var err error
		if all, err = s.Shared.Resolutions(ctx); err != nil {
			slog.WarnContext(ctx, "shared signing key resolutions not readable", "error", err.Error())
			return Resolution{}, false
		}
		s.mu.Lock()
		s.shared, s.sharedAt = all, now
		s.mu.Unlock()
	}
	r, ok := all[keyID]
	return r, ok
}

// parse makes a resolution of a public key (DER) of the key arn.
func parse(keyID, arn string, der []byte) (resolved, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return resolved{}, fmt.Errorf("kms key %s: unreadable public key", keyID)
	}
	k, err := signer.NewKey(pub)
	if err != nil {
		return resolved{}, err
	}
	return resolved{key: k, arn: arn}, nil
}
