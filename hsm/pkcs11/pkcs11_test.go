//go:build cgo

package pkcs11

import (
	"context"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/hsmtest"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// openStore opens a store on a fresh SoftHSM token and closes it when the
// test ends.
func openStore(t testing.TB) (*Store, *testenv.SoftHSM) {
	t.Helper()
	sh := testenv.NewSoftHSM(t)
	s, err := Open(context.Background(), sh.URI(), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, sh
}

// TestConformance runs the key store suite every backend runs, Ed25519
// included: SoftHSM 2.6 has CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA.
func TestConformance(t *testing.T) {
	s, _ := openStore(t)
	hsmtest.Run(t, s, hsmtest.Config{
		Algorithms: []hsm.Algorithm{hsm.RSA2048, hsm.RSA3072, hsm.RSA4096, hsm.ECDSAP256, hsm.ECDSAP384, hsm.Ed25519},
	})
}
