package pades_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/testvectors"
)

// Sign signs a PDF in one call with any crypto.Signer (a key in an HSM,
// Vault, a softkey file, or a remote csc.Signer): an incremental update
// holding a PAdES signature, the original bytes unchanged before it.
//
// Before signing, Sign checks the signer's certificate (SignOptions.Check:
// the roots and the revocation source, Circular 15/2025 Art. 5). This
// example's certificate is self-signed and has no OCSP responder, so it
// skips the check (SkipSignerCheck), and the verification below cannot
// learn its revocation status either; with a CA's certificate, Check and
// LevelBLT, the document would pass offline, as testvectors' form-signed.pdf
// does (see verify's example).
func ExampleSign() {
	key, cert := throwawaySigner()
	form := testvectors.Read(testvectors.Form) // e.g. os.ReadFile("form.pdf")

	var signed bytes.Buffer
	err := pades.Sign(context.Background(), bytes.NewReader(form), int64(len(form)), &signed, key, cert, nil, &pades.SignOptions{
		Options: pades.Options{Reason: "Tôi đồng ý", Location: "Hà Nội", SkipSignerCheck: true},
		Level:   pades.LevelBB})
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println("original unchanged:", bytes.HasPrefix(signed.Bytes(), form))
	r, err := verify.Verify(context.Background(), bytes.NewReader(signed.Bytes()), int64(signed.Len()), &verify.Options{})
	if err != nil {
		log.Fatal(err)
	}
	s := r.Signatures[0]
	fmt.Printf("%s: %s, intact %v, by %s, reason %q\n", s.Field, s.Level, *s.Intact, s.Signer.Name, s.Reason)
	// Output:
	// original unchanged: true
	// Signature1: PAdES-BASELINE-B, intact true, by Nguyễn Văn Đức, reason "Tôi đồng ý"
}

// Prepare, the cms package and Embed sign in phases, for a key that is
// elsewhere and an owner who approves first (examples/csc-portal does it
// over the CSC API): the PDF is laid out and its byte range hashed, the
// CAdES signed attributes over that digest are what the key signs, and
// Embed writes the signed PDF. Between the phases, p.MarshalBinary keeps
// the state; the document need not leave the caller.
func ExamplePrepare() {
	key, cert := throwawaySigner()
	form := testvectors.Read(testvectors.Form)

	p, err := pades.Prepare(bytes.NewReader(form), int64(len(form)), &pades.Options{Reason: "Tôi đồng ý", SkipSignerCheck: true})
	if err != nil {
		log.Fatal(err)
	}
	// A real signer calls p.CheckSigner here, before anything is signed.
	sp, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: cert, ContentDigest: p.Digest, Hash: p.Hash})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the owner approves a %s digest of %d bytes\n", sp.Hash, len(sp.Digest))
	sig, err := key.Sign(rand.Reader, sp.Digest, sp.SignerOpts()) // remotely: CSC signHash
	if err != nil {
		log.Fatal(err)
	}
	der, err := sp.Finish(sig)
	if err != nil {
		log.Fatal(err)
	}
	var signed bytes.Buffer
	if err := pades.Embed(bytes.NewReader(form), p, der, &signed); err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed; /ByteRange starts at 0:", p.ByteRange[0] == 0, "and ends the file:", p.ByteRange[2]+p.ByteRange[3] == int64(signed.Len()))
	// Output:
	// the owner approves a SHA-256 digest of 32 bytes
	// signed; /ByteRange starts at 0: true and ends the file: true
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
