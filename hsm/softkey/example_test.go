package softkey_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
)

// Open makes (or opens) a directory of encrypted key files; a key made in
// it signs through the crypto.Signer it hands out, its private half
// staying encrypted on disk. The passphrase is named by a source, never
// written in the URI.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "softkey-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Setenv("EXAMPLE_PASSPHRASE", "a long passphrase nobody guesses")
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase-source=env:EXAMPLE_PASSPHRASE")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// DefaultKDF (the zero Options) costs an attacker, and the example, a
	// noticeable time per passphrase; a smaller cost keeps the example
	// quick. WARNING: only tests and examples should lower it.
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer ks.Close()

	info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "seal-0101234567", Algorithm: hsm.ECDSAP256})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: "seal-0101234567"})
	if err != nil {
		log.Fatal(err)
	}
	digest := sha256.Sum256([]byte("Tờ khai đăng ký thường trú"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Label, info.Algorithm)
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(signer.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output:
	// seal-0101234567 ecdsa-p256
	// signature verifies: true
}
