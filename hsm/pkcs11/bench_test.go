//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11/pkcs11bench"
)

// BenchmarkSign compares kyso's signer (pool, handle cache, checks) with the
// bare C_SignInit+C_Sign loop a C programmer would write, one session per
// goroutine, on the same SoftHSM token.
func BenchmarkSign(b *testing.B) {
	s, sh := openStore(b)
	ctx := context.Background()
	bare, err := pkcs11bench.OpenBare(sh.Module, sh.TokenLabel, []byte(sh.PIN))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bare.Close)
	d := sha256.Sum256([]byte("benchmark"))
	for _, alg := range []hsm.Algorithm{hsm.RSA2048, hsm.ECDSAP256} {
		label := "bench-" + string(alg)
		// Outside b.Run, whose function runs once per b.N tried.
		if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg}); err != nil {
			b.Fatal(err)
		}
		signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: label})
		if err != nil {
			b.Fatal(err)
		}
		bareSign, err := bare.SignFunc(label, alg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(alg)+"/kyso", func(b *testing.B) {
			for b.Loop() {
				if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/bare", func(b *testing.B) {
			for b.Loop() {
				if err := bareSign(0, d[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/kyso-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		var worker atomic.Int64
		b.Run(string(alg)+"/bare-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				w := int(worker.Add(1))
				for pb.Next() {
					if err := bareSign(w, d[:]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkWrappedSign measures a signature with a wrapped key: unwrap into
// a session object, sign, destroy, verify.
func BenchmarkWrappedSign(b *testing.B) {
	s, _ := openStore(b)
	ctx := context.Background()
	if err := s.CreateMasterKey(ctx, ""); err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("benchmark"))
	for _, alg := range []hsm.Algorithm{hsm.RSA2048, hsm.ECDSAP256} {
		wk, err := s.CreateWrappedKey(ctx, &hsm.CreateWrappedKeyRequest{Algorithm: alg})
		if err != nil {
			b.Fatal(err)
		}
		signer, err := s.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk.Blob})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(alg), func(b *testing.B) {
			for b.Loop() {
				if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
