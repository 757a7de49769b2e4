package cms_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/kyso-pki/kyso/pkg/cms"
)

// Signing in two phases, as a remote signer does: Prepare gives the digest
// of the signed attributes for the key's owner to approve (a portal would
// store p.MarshalBinary() meanwhile), the key signs it wherever it lives,
// and Finish wraps the signature value into the CAdES detached
// SignedData. Parse and Verify read it back against the content's digest.
func ExamplePrepare() {
	key, cert := throwawaySigner()
	content := sha256.Sum256([]byte("Tờ khai đăng ký thường trú"))

	p, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: cert, ContentDigest: content[:]})
	if err != nil {
		log.Fatal(err)
	}
	sig, err := key.Sign(rand.Reader, p.Digest, p.SignerOpts()) // e.g. a CSC signHash of p.Digest
	if err != nil {
		log.Fatal(err)
	}
	der, err := p.Finish(sig)
	if err != nil {
		log.Fatal(err)
	}

	sd, err := cms.Parse(der)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signer:", sd.Signer.Subject.CommonName)
	fmt.Println("verifies:", sd.Verify(content[:], cms.VerifyOptions{}))
	other := sha256.Sum256([]byte("another document"))
	fmt.Println("over another document:", sd.Verify(other[:], cms.VerifyOptions{}))
	// Output:
	// signer: Nguyễn Văn Đức
	// verifies: <nil>
	// over another document: cms: message digest does not match the content
}

// Sign does the three steps in one call with a crypto.Signer at hand.
func ExampleSign() {
	key, cert := throwawaySigner()
	content := sha256.Sum256([]byte("Tờ khai đăng ký thường trú"))
	der, err := cms.Sign(context.Background(), &cms.SignerInfoRequest{Certificate: cert, ContentDigest: content[:]}, key)
	if err != nil {
		log.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sd.SignatureAlgorithm, sd.Hash, sd.Verify(content[:], cms.VerifyOptions{}))
	// Output: ecdsa SHA-256 <nil>
}

// throwawaySigner is an ECDSA P-256 key and a self-signed certificate for
// it; a real signer's comes from a CA (pkg/ca) and its key from a key
// store (hsm/...).
func throwawaySigner() (*ecdsa.PrivateKey, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Nguyễn Văn Đức", Country: []string{"VN"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return key, cert
}
