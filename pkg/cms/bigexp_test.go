package cms

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestVerifyPKCS1v15Big holds the math/big verification of RSASSA-PKCS1-
// v1_5, used for exponents crypto/rsa refuses, to crypto/rsa's answers
// with an exponent both take.
func TestVerifyPKCS1v15Big(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("kyso"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyPKCS1v15Big(&key.PublicKey, crypto.SHA256, d[:], sig); err != nil {
		t.Errorf("a good signature: %v", err)
	}
	bad := append([]byte(nil), sig...)
	bad[10] ^= 1
	other := sha256.Sum256([]byte("other"))
	for name, c := range map[string]struct{ d, sig []byte }{
		"changed signature": {d[:], bad},
		"other digest":      {other[:], sig},
		"short signature":   {d[:], sig[1:]},
		"signature = n":     {d[:], key.N.Bytes()},
	} {
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, c.d, c.sig) == nil {
			t.Fatalf("%s: crypto/rsa accepts it", name)
		}
		if err := verifyPKCS1v15Big(&key.PublicKey, crypto.SHA256, c.d, c.sig); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}
}
