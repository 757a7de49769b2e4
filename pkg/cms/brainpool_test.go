package cms

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestBrainpoolSignatures: checkSignature verifies ECDSA on each Brainpool
// curve and refuses a signature over other data.
func TestBrainpoolSignatures(t *testing.T) {
	d := sha256.Sum256([]byte("kyso"))
	other := sha256.Sum256([]byte("other"))
	for _, b := range brainpoolCurves {
		key, err := ecdsa.GenerateKey(b.curve(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		if !isBrainpool(key.Curve) {
			t.Errorf("%s is not known as Brainpool", b.oid)
		}
		if err := checkSignature(&key.PublicKey, ECDSA, 0, 0, d[:], sig); err != nil {
			t.Errorf("%s: %v", b.oid, err)
		}
		if err := checkSignature(&key.PublicKey, ECDSA, 0, 0, other[:], sig); !errors.Is(err, ErrSignature) {
			t.Errorf("%s, other data: %v, want ErrSignature", b.oid, err)
		}
	}
}
