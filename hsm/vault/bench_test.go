package vault

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// BenchmarkSign measures one Transit signature, round trip and local
// verification included, from many goroutines at once.
func BenchmarkSign(b *testing.B) {
	v := testenv.NewVault(b)
	s := open(b, v.URI())
	ctx := context.Background()
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		// Outside b.Run, whose function runs once per b.N tried.
		if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "bench-" + string(alg), Algorithm: alg}); err != nil {
			b.Fatal(err)
		}
		b.Run(string(alg), func(b *testing.B) {
			signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: "bench-" + string(alg)})
			if err != nil {
				b.Fatal(err)
			}
			d := sha256.Sum256([]byte("benchmark"))
			b.ResetTimer()
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
