// Package signer is the seam between token minting and the key that signs:
// a Signer signs digests with a private key it never reveals and publishes
// the public keys a verifier may need. The production implementation is
// signer/kms; Local signs in-process for tests and benchmarks.
package signer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/go-jose/go-jose/v4"
)

// JOSE algorithms the service signs with. PS256 is deliberately absent.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// Key is a public verification key.
type Key struct {
	// ID is the RFC 7638 SHA-256 thumbprint of the public key: the JWT kid.
	ID        string
	Algorithm string
	Public    crypto.PublicKey
}

// Signer signs tokens.
type Signer interface {
	// Key returns the key new tokens are signed with.
	Key(ctx context.Context) (Key, error)
	// Sign returns the JWS signature (RFC 7518 §3) of a SHA-256 digest of
	// the signing input, made with key, which Key returned: the key a
	// token's header names, even if the current key changed meanwhile.
	Sign(ctx context.Context, key Key, digest []byte) ([]byte, error)
}

// KeySet lists every key that may have signed a token still alive: the
// current one and those named for rotation.
type KeySet interface {
	Keys(ctx context.Context) ([]Key, error)
}

// Refresher is a KeySet whose keys can change (rotation): Refresh reads
// them again, within limits of its own, when a verifier meets a key id it
// does not know.
type Refresher interface {
	Refresh(ctx context.Context)
}

// NewKey describes pub, deriving its algorithm and RFC 7638 thumbprint.
func NewKey(pub crypto.PublicKey) (Key, error) {
	var alg string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return Key{}, errors.New("signer: only P-256 ECDSA keys are supported")
		}
		alg = ES256
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return Key{}, errors.New("signer: RSA keys must have at least 2048 bits")
		}
		alg = RS256
	default:
		return Key{}, fmt.Errorf("signer: unsupported public key type %T", pub)
	}
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: base64.RawURLEncoding.EncodeToString(tp), Algorithm: alg, Public: pub}, nil
}

// JWKS renders keys as an RFC 7517 key set.
func JWKS(keys []Key) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
	}
	return set
}

// ECDSAFromDER converts an ASN.1 DER ECDSA signature, as KMS returns it, to
// the fixed-width r||s form JWS requires (RFC 7518 §3.4).
func ECDSAFromDER(der []byte, byteLen int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil {
		return nil, errors.New("signer: malformed ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > byteLen*8 || sig.S.BitLen() > byteLen*8 {
		return nil, errors.New("signer: ECDSA signature out of range")
	}
	out := make([]byte, 2*byteLen)
	sig.R.FillBytes(out[:byteLen])
	sig.S.FillBytes(out[byteLen:])
	return out, nil
}

// Local signs with an in-process private key. It is for tests and
// benchmarks; production keys live in KMS.
type Local struct {
	private crypto.Signer
	key     Key
}

// NewLocal returns a Local for an ECDSA P-256 or RSA private key.
func NewLocal(private crypto.Signer) (*Local, error) {
	k, err := NewKey(private.Public())
	if err != nil {
		return nil, err
	}
	return &Local{private: private, key: k}, nil
}

// Key implements Signer.
func (l *Local) Key(context.Context) (Key, error) { return l.key, nil }

// Keys implements KeySet.
func (l *Local) Keys(context.Context) ([]Key, error) { return []Key{l.key}, nil }

// Sign implements Signer.
func (l *Local) Sign(_ context.Context, key Key, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, errors.New("signer: digest must be SHA-256")
	}
	if key.ID != l.key.ID {
		return nil, errors.New("signer: not this signer's key")
	}
	switch l.key.Algorithm {
	case ES256:
		der, err := l.private.Sign(rand.Reader, digest, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return ECDSAFromDER(der, 32)
	default:
		return l.private.Sign(rand.Reader, digest, crypto.SHA256)
	}
}
