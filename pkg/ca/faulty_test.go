package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestFaultySignerRefused: a key store whose signature does not verify
// against the issuer's certificate — made by another key, or damaged — gets
// no certificate issued or stored. issue relies on crypto/x509 to check
// the signature of a certificate with an issuer (CreateCertificate
// compares the signer's key with the issuer's and verifies what the signer
// returned); this holds Go to it.
func TestFaultySignerRefused(t *testing.T) {
	ctx := context.Background()
	a, keys, st := newFaultyAuthority(t)
	for _, fault := range []int32{faultOtherKey, faultDamaged} {
		keys.fault.Store(fault)
		key := p256(t)
		cert, err := a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, key)))
		if err == nil || cert != nil || !strings.Contains(err.Error(), "signature") {
			t.Fatalf("fault %d: issued %v, err %v; want a refusal of the signature", fault, cert, err)
		}
		t.Logf("fault %d: %v", fault, err)
		spki, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(spki)
		if certified, err := st.PublicKeyCertified(ctx, sum[:]); err != nil || certified {
			t.Errorf("fault %d: the key is certified (%v, %v) by a certificate whose signature failed", fault, certified, err)
		}
	}
	keys.fault.Store(faultNone)
	if _, err := a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err != nil {
		t.Fatalf("without the fault: %v", err)
	}
}

// The faults of faultyKeys.
const (
	faultNone int32 = iota
	faultOtherKey
	faultDamaged
)

// faultyKeys is a key store whose signers sign with another key, or damage
// the signature, while fault says so.
type faultyKeys struct {
	hsm.KeyStore
	other crypto.Signer
	fault atomic.Int32
}

// Signer wraps the key store's signer.
func (k *faultyKeys) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	s, err := k.KeyStore.Signer(ctx, req)
	if err != nil {
		return nil, err
	}
	return faultySigner{Signer: s, k: k}, nil
}

type faultySigner struct {
	crypto.Signer
	k *faultyKeys
}

// Sign signs as the fault says.
func (f faultySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch f.k.fault.Load() {
	case faultOtherKey:
		return f.k.other.Sign(r, digest, opts)
	case faultDamaged:
		sig, err := f.Signer.Sign(r, digest, opts)
		if err == nil {
			sig[len(sig)-1] ^= 1
		}
		return sig, err
	}
	return f.Signer.Sign(r, digest, opts)
}

// newFaultyAuthority is an Authority on SQLite whose key store signs with
// the fault its keys are set to (none at first).
func newFaultyAuthority(t *testing.T) (*Authority, *faultyKeys, store.Store) {
	t.Helper()
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := &faultyKeys{KeyStore: newKeyStore(t), other: other}
	st := newSQLite(t)
	a, err := New(st, keys, &Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Init(context.Background(), &InitRequest{Name: "Kyso Thử Nghiệm"}); err != nil {
		t.Fatal(err)
	}
	return a, keys, st
}
