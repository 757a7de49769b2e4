package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
)

// BenchmarkTimestamp measures one token with a P-256 TSA key from softkey,
// in process (as PAdES B-T calls it), next to the floor: one bare P-256
// signature. The verify sub-benchmark is the client side, chain included.
func BenchmarkTimestamp(b *testing.B) {
	p := newPKI(b, hsm.ECDSAP256)
	s, err := New(Config{Certificate: p.tsa, Chain: p.chain, Signer: p.signer, Policy: PlaceholderPolicy})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	q := &Query{HashAlgorithm: crypto.SHA256, HashedMessage: testDigest[:], Nonce: bigNonce(), CertReq: true}
	b.Run("server", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Timestamp(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("server-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Timestamp(ctx, q); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	resp, _ := s.Timestamp(ctx, q)
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tok, err := ParseToken(resp.Token)
			if err != nil {
				b.Fatal(err)
			}
			if err := tok.Verify(testDigest[:], crypto.SHA256, &VerifyOptions{Roots: p.roots}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor-ecdsa-p256-sign", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.Sign(rand.Reader, testDigest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("softkey-p256-sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.signer.Sign(rand.Reader, testDigest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func bigNonce() *big.Int { return new(big.Int).SetUint64(0xE4D73A9C31A39A26) }
