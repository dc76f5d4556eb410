package signer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"testing"
)

// RFC 7638 §3.1 gives the thumbprint of this RSA key.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	k, err := NewKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" || k.Algorithm != RS256 {
		t.Fatalf("key = %+v", k)
	}
}

func TestNewKeyRejectsWeakAndOtherCurves(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewKey(&p384.PublicKey); err == nil {
		t.Error("P-384 must be refused: the service signs ES256 only")
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := NewKey(&small.PublicKey); err == nil {
		t.Error("RSA-1024 must be refused")
	}
}

func TestLocalSignsVerifiableJOSE(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := NewLocal(priv)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("header.payload"))
	sig, err := s.Sign(context.Background(), s.key, digest[:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("sig %d bytes, %v", len(sig), err)
	}
	r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&priv.PublicKey, digest[:], r, ss) {
		t.Fatal("r||s does not verify")
	}
}

func TestECDSAFromDER(t *testing.T) {
	for _, der := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}, []byte("garbage")} {
		if _, err := ECDSAFromDER(der, 32); err == nil {
			t.Errorf("%x: want an error", der)
		}
	}
	// Small r and s are left-padded to 32 bytes each.
	out, err := ECDSAFromDER([]byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07}, 32)
	if err != nil || len(out) != 64 || out[31] != 5 || out[63] != 7 || out[0] != 0 {
		t.Fatalf("%x %v", out, err)
	}
}
