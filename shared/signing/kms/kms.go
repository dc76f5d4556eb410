// Package kms implements signer.Signer and signer.KeySet with AWS KMS
// asymmetric keys: the private key never leaves KMS; each signature is one
// kms:Sign call over a locally computed digest. The configured key ids are
// usually aliases, which an operator points at a new key to rotate, so each
// is resolved again (kms:GetPublicKey) once its resolution is older than
// ResolveEvery; a key that stopped being current stays published for
// Retain, the life of the tokens it signed. A key that cannot be read is not
// asked for again before RetryAfter, so requests (the JWKS is public) cannot
// drive kms:GetPublicKey traffic.
package kms

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
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

	mu     sync.Mutex
	keys   map[string]*entry // by configured key id or alias
	arns   map[string]string // key ARN by kid, of every key resolved
	former []formerKey
	forced time.Time // last Refresh call that resolved anything
}

type resolved struct {
	key signer.Key
	arn string
}

// entry is the last resolution of one configured id: a key, or the error
// that kept it from being read (and no key), with when it was made.
type entry struct {
	r   resolved
	err error
	at  time.Time
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
		e.at = time.Time{} // due
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
	if ok {
		ttl := s.ResolveEvery
		if e.err != nil {
			ttl = s.RetryAfter
		}
		if now.Sub(e.at) < ttl {
			s.mu.Unlock()
			return e.r, e.err
		}
	}
	s.mu.Unlock()
	r, err := s.fetch(ctx, keyID)
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
	s.keys[keyID] = &entry{r: r, at: now}
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

// fetch reads keyID's public key from KMS and checks it can sign tokens.
func (s *Signer) fetch(ctx context.Context, keyID string) (resolved, error) {
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
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return resolved{}, errors.New("kms returned an unreadable public key")
	}
	k, err := signer.NewKey(pub)
	if err != nil {
		return resolved{}, err
	}
	return resolved{key: k, arn: aws.ToString(out.KeyId)}, nil
}
