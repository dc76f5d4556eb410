// Package kms implements signer.Signer and signer.KeySet with AWS KMS
// asymmetric keys: the private key never leaves KMS; each signature is one
// kms:Sign call over a locally computed digest, and public keys are fetched
// once per process with kms:GetPublicKey (KMS key material never changes).
package kms

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/fault"
	"github.com/machine-iam/machine-iam/shared/signer"
)

// API is the part of the KMS client this package calls.
type API interface {
	Sign(ctx context.Context, in *awskms.SignInput, opts ...func(*awskms.Options)) (*awskms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput, opts ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error)
}

// Signer signs with the current KMS key and lists it together with the
// previous keys kept for rotation.
type Signer struct {
	api      API
	current  string
	previous []string

	mu   sync.Mutex
	keys map[string]resolved // by configured key id or alias
}

type resolved struct {
	key signer.Key
	arn string
}

var (
	_ signer.Signer = (*Signer)(nil)
	_ signer.KeySet = (*Signer)(nil)
)

// New returns a Signer for the key current (key id, ARN or alias) that also
// publishes previous.
func New(api API, current string, previous ...string) *Signer {
	return &Signer{api: api, current: current, previous: previous, keys: map[string]resolved{}}
}

// Key implements signer.Signer.
func (s *Signer) Key(ctx context.Context) (signer.Key, error) {
	r, err := s.resolve(ctx, s.current)
	return r.key, err
}

// Keys implements signer.KeySet. A previous key that cannot be read is left
// out (it may have been deleted once its tokens expired); the current key
// must be readable.
func (s *Signer) Keys(ctx context.Context) ([]signer.Key, error) {
	cur, err := s.resolve(ctx, s.current)
	if err != nil {
		return nil, err
	}
	keys := []signer.Key{cur.key}
	for _, id := range s.previous {
		if r, err := s.resolve(ctx, id); err == nil && r.key.ID != cur.key.ID {
			keys = append(keys, r.key)
		}
	}
	return keys, nil
}

// Sign implements signer.Signer.
func (s *Signer) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	r, err := s.resolve(ctx, s.current)
	if err != nil {
		return nil, err
	}
	alg := kmstypes.SigningAlgorithmSpecEcdsaSha256
	if r.key.Algorithm == signer.RS256 {
		alg = kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256
	}
	out, err := s.api.Sign(ctx, &awskms.SignInput{
		KeyId:            aws.String(r.arn),
		Message:          digest,
		MessageType:      kmstypes.MessageTypeDigest,
		SigningAlgorithm: alg,
	})
	if err != nil {
		return nil, fault.Unavailable("kms:Sign", err)
	}
	if r.key.Algorithm == signer.ES256 {
		return signer.ECDSAFromDER(out.Signature, 32)
	}
	return out.Signature, nil
}

func (s *Signer) resolve(ctx context.Context, keyID string) (resolved, error) {
	s.mu.Lock()
	r, ok := s.keys[keyID]
	s.mu.Unlock()
	if ok {
		return r, nil
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
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return resolved{}, errors.New("kms returned an unreadable public key")
	}
	k, err := signer.NewKey(pub)
	if err != nil {
		return resolved{}, err
	}
	r = resolved{key: k, arn: aws.ToString(out.KeyId)}
	s.mu.Lock()
	s.keys[keyID] = r
	s.mu.Unlock()
	return r, nil
}
