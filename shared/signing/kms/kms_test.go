package kms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
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
	curKey, _ := s.Key(ctx)
	for range 3 {
		sig, err := s.Sign(ctx, curKey, digest[:])
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
	if _, err := s.Sign(ctx, curKey, digest[:]); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("a KMS failure must read as unavailable: %v", err)
	}
	if _, err := New(f, "missing").Key(ctx); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("an unreadable current key: %v", err)
	}
}

// TestSignerFollowsRotation: a configured alias is resolved again after
// ResolveEvery; the key it replaced stays published for Retain; unreadable
// keys and forced refreshes are asked of KMS at most once per RetryAfter.
func TestSignerFollowsRotation(t *testing.T) {
	first, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	second, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeKMS{keys: map[string]*ecdsa.PrivateKey{"alias/current": first}}
	now := time.Unix(1_800_000_000, 0)
	s := New(f, "alias/current", "alias/deleted")
	s.Now = func() time.Time { return now }
	s.ResolveEvery, s.RetryAfter, s.Retain = 5*time.Minute, 30*time.Second, time.Hour
	ctx := context.Background()
	kid := func() string {
		k, err := s.Key(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	ids := func() []string {
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}
	old := kid()
	ids() // the deleted previous key is asked for once here
	// Many JWKS reads within RetryAfter ask for nothing.
	calls := f.getPublics.Load()
	for range 100 {
		ids()
	}
	if n := f.getPublics.Load() - calls; n != 0 {
		t.Errorf("%d GetPublicKey calls for 100 key-set reads within RetryAfter, want 0", n)
	}
	now = now.Add(31 * time.Second)
	ids()
	ids()
	if n := f.getPublics.Load() - calls; n != 1 {
		t.Errorf("%d GetPublicKey calls after RetryAfter, want 1 (the unreadable key, once)", n)
	}

	f.keys["alias/current"] = second // the operator points the alias at a new key
	if kid() != old {
		t.Error("resolved again before ResolveEvery")
	}
	now = now.Add(5 * time.Minute)
	rotated := kid()
	if rotated == old {
		t.Fatal("not resolved again after ResolveEvery")
	}
	if got := ids(); len(got) != 2 || got[0] != rotated || got[1] != old {
		t.Errorf("keys after rotation %v, want the new and the replaced one", got)
	}
	now = now.Add(time.Hour)
	if got := ids(); len(got) != 1 || got[0] != rotated {
		t.Errorf("keys after Retain %v, want only the current one", got)
	}

	// A forced refresh (an unknown kid) reads at most once per RetryAfter.
	calls = f.getPublics.Load()
	for range 50 {
		s.Refresh(ctx)
	}
	if n := f.getPublics.Load() - calls; n > 2 {
		t.Errorf("%d GetPublicKey calls for 50 forced refreshes, want at most one per configured key", n)
	}
	// KMS failing keeps the keys published.
	f.keys = map[string]*ecdsa.PrivateKey{}
	now = now.Add(time.Hour)
	if got := ids(); len(got) != 1 || got[0] != rotated {
		t.Errorf("keys while KMS cannot read them %v, want the last ones read", got)
	}
}

type memoryShared struct {
	rs   map[string]Resolution
	puts int
}

func (m *memoryShared) Resolutions(context.Context) (map[string]Resolution, error) { return m.rs, nil }
func (m *memoryShared) PutResolution(_ context.Context, r Resolution) error {
	m.puts++
	m.rs[r.KeyID] = r
	return nil
}

var shareKey = []byte("fixture-share-key-of-32-characters")

// TestPlantedResolutionsAreIgnored: a resolution written without the share
// key (a table writer planting a public key of its own, under the real
// key's ARN or another) is never published or trusted; KMS is asked, and a
// signer without a share key neither reads nor writes what is shared.
func TestPlantedResolutionsAreIgnored(t *testing.T) {
	cur, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	planted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeKMS{keys: map[string]*ecdsa.PrivateKey{"cur": cur}}
	now := time.Unix(1_000_000, 0)
	der, _ := x509.MarshalPKIXPublicKey(&planted.PublicKey)
	plant := Resolution{KeyID: "cur", ARN: "arn:aws:kms:eu-north-1:111122223333:key/cur", PublicKey: der, At: now.Add(-time.Second)}
	forged := plant
	forged.MAC = (&Signer{ShareKey: []byte("someone-else's-key-of-32-characters")}).mac(plant)
	honest := (&Signer{ShareKey: shareKey}).mac(plant)
	ctx := context.Background()
	for name, mac := range map[string][]byte{"no MAC": nil, "a MAC under another key": forged.MAC, "a truncated MAC": honest[:31]} {
		plant.MAC = mac
		shared := &memoryShared{rs: map[string]Resolution{"cur": plant}}
		s := New(f, "cur")
		s.Shared, s.ShareKey, s.Now = shared, shareKey, func() time.Time { return now }
		before := f.getPublics.Load()
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 1 || f.getPublics.Load() != before+1 {
			t.Fatalf("%s: %v, %d keys, %d KMS reads, want the key read from KMS", name, err, len(keys), f.getPublics.Load()-before)
		}
		if x, _ := keys[0].Public.(*ecdsa.PublicKey); x == nil || !x.Equal(&cur.PublicKey) {
			t.Errorf("%s: published %v, want KMS's key, never the planted one", name, keys[0].ID)
		}
		if got := shared.rs["cur"]; !hmac.Equal(got.MAC, (&Signer{ShareKey: shareKey}).mac(got)) {
			t.Errorf("%s: what KMS said was not shared back with a valid MAC", name)
		}
	}
	// The previous key's honest resolution copied under the current key's
	// id does not make the previous key current.
	prevKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	prevDER, _ := x509.MarshalPKIXPublicKey(&prevKey.PublicKey)
	copied := Resolution{KeyID: "prev", ARN: "arn:aws:kms:eu-north-1:111122223333:key/prev", PublicKey: prevDER, At: now.Add(-time.Second)}
	copied.MAC = (&Signer{ShareKey: shareKey}).mac(copied)
	s := New(f, "cur")
	s.Shared, s.ShareKey, s.Now = &memoryShared{rs: map[string]Resolution{"cur": copied}}, shareKey, func() time.Time { return now }
	if k, err := s.Key(ctx); err != nil || k.Public.(*ecdsa.PublicKey).Equal(&prevKey.PublicKey) {
		t.Errorf("another key id's resolution was taken for the current key: %v", err)
	}
	// Without a share key nothing shared is read, and nothing is written.
	shared := &memoryShared{rs: map[string]Resolution{}}
	s = New(f, "cur")
	s.Shared, s.Now = shared, func() time.Time { return now }
	if _, err := s.Keys(ctx); err != nil || shared.puts != 0 {
		t.Errorf("without a share key: %v, %d resolutions shared", err, shared.puts)
	}
}

// TestSignerSharesResolutions: a new instance takes a fresh shared
// resolution without asking KMS; a stale one, or a forced refresh, asks KMS
// and shares what it read.
func TestSignerSharesResolutions(t *testing.T) {
	cur, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeKMS{keys: map[string]*ecdsa.PrivateKey{"cur": cur}}
	shared := &memoryShared{rs: map[string]Resolution{}}
	now := time.Unix(1_000_000, 0)
	start := func() *Signer {
		s := New(f, "cur")
		s.Shared, s.ShareKey, s.Now = shared, shareKey, func() time.Time { return now }
		return s
	}
	ctx := context.Background()
	first, err := start().Key(ctx)
	if err != nil || f.getPublics.Load() != 1 || shared.puts != 1 {
		t.Fatalf("first instance: %v, %d reads, %d shared", err, f.getPublics.Load(), shared.puts)
	}
	now = now.Add(DefaultResolveEvery - time.Second)
	s := start()
	if k, err := s.Key(ctx); err != nil || k.ID != first.ID || f.getPublics.Load() != 1 {
		t.Fatalf("second instance: %v, %d reads, want the shared key", err, f.getPublics.Load())
	}
	if _, err := s.Sign(ctx, first, make([]byte, 32)); err != nil {
		t.Fatalf("a shared resolution must carry the ARN to sign with: %v", err)
	}
	// The shared resolution ages from its KMS read: a second later both
	// this instance and a new one ask KMS.
	now = now.Add(time.Second)
	if _, err := start().Key(ctx); err != nil || f.getPublics.Load() != 2 || shared.puts != 2 {
		t.Fatalf("stale: %v, %d reads, %d shared", err, f.getPublics.Load(), shared.puts)
	}
	s.Refresh(ctx)
	if f.getPublics.Load() != 3 {
		t.Fatalf("a forced refresh must ask KMS: %d reads", f.getPublics.Load())
	}
}
