// Command selfsigned shows kyso's key custody as a Go developer uses it: open
// a key store by URI, make a key inside it, and sign an X.509 certificate
// with the crypto.Signer it hands out. The private key never leaves the store.
//
//	export KYSO_PASS='a long passphrase'
//	go run ./examples/selfsigned 'softkey:?dir=/tmp/demo-keys&passphrase-source=env:KYSO_PASS'
//	go run ./examples/selfsigned 'pkcs11:token=kyso?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:KYSO_PIN'
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: selfsigned KEYSTORE-URI")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "selfsigned:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, uri string) error {
	ks, _, err := keystore.Open(ctx, uri, nil)
	if err != nil {
		return err
	}
	defer ks.Close()
	const label = "example-selfsigned"
	_, err = ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: hsm.ECDSAP256})
	if err != nil && !errors.Is(err, hsm.ErrKeyExists) {
		return err
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "kyso example", Country: []string{"VN"}},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return err
	}
	return pem.Encode(os.Stdout, &pem.Block{Type: "CERTIFICATE", Bytes: der})
}
