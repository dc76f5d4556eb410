package kms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/fault"
)

// fakeKMS signs with in-process keys the way KMS answers: DER signatures,
// PKIX public keys, the ARN as KeyId.
type fakeKMS struct {
	keys       map[string]*ecdsa.PrivateKey
	getPublics atomic.Int64
	fail       error
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *awskms.GetPublicKeyInput, _ ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error) {
	f.getPublics.Add(1)
	k, ok := f.keys[*in.KeyId]
	if !ok {
		return nil, &kmstypes.NotFoundException{Message: aws.String("no key")}
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return &awskms.GetPublicKeyOutput{KeyId: aws.String("arn:aws:kms:eu-west-1:1:key/" + *in.KeyId), PublicKey: der,
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify}, nil
}

func (f *fakeKMS) Sign(_ context.Context, in *awskms.SignInput, _ ...func(*awskms.Options)) (*awskms.SignOutput, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	if in.MessageType != kmstypes.MessageTypeDigest || in.SigningAlgorithm != kmstypes.SigningAlgorithmSpecEcdsaSha256 {
		return nil, errors.New("unexpected sign input")
	}
	k := f.keys[(*in.KeyId)[len("arn:aws:kms:eu-west-1:1:key/"):]]
	der, err := ecdsa.SignASN1(rand.Reader, k, in.Message)
	return &awskms.SignOutput{Signature: der}, err
}

func TestSignerCachesKeysAndSignsJOSE(t *testing.T) {
	cur, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	old, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeKMS{keys: map[string]*ecdsa.PrivateKey{"cur": cur, "old": old}}
	s := New(f, "cur", "old", "deleted")
	ctx := context.Background()
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v (a deleted previous key is left out)", keys, err)
	}
	calls := f.getPublics.Load()
	digest := sha256.Sum256([]byte("x"))
	for range 3 {
		sig, err := s.Sign(ctx, digest[:])
		if err != nil || len(sig) != 64 {
			t.Fatalf("%x %v", sig, err)
		}
		if !ecdsa.Verify(&cur.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatal("signature does not verify with the current key")
		}
	}
	if _, err := s.Key(ctx); err != nil || f.getPublics.Load() != calls {
		t.Errorf("public keys must be fetched once per process: %d more calls", f.getPublics.Load()-calls)
	}
	f.fail = errors.New("ThrottlingException")
	if _, err := s.Sign(ctx, digest[:]); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("a KMS failure must read as unavailable: %v", err)
	}
	if _, err := New(f, "missing").Key(ctx); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("an unreadable current key: %v", err)
	}
}
