package cms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// BenchmarkSign measures one-shot signing: Prepare, the key store's Sign,
// Finish (which verifies the signature). "keystore" signs with the softkey
// store as kysod would; "memory" with an in-memory key and a self-signed
// certificate, to show what the key store adds.
func BenchmarkSign(b *testing.B) {
	f := getFixture(b)
	d := digest(crypto.SHA256, []byte("benchmark"))
	for _, name := range []string{"p256", "rsa2048"} {
		k := f.keys[name]
		req := &SignerInfoRequest{Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing}, ContentDigest: d}
		b.Run(name+"/keystore", func(b *testing.B) {
			for b.Loop() {
				if _, err := Sign(context.Background(), req, k.signer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// CMS work alone: Prepare and Finish around an in-memory key with its own
	// self-signed certificate.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"p256/memory", ecKey}, {"rsa2048/memory", rsaKey}} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
		if err != nil {
			b.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		req := &SignerInfoRequest{Certificate: cert, ContentDigest: d}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Sign(context.Background(), req, tc.key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures Parse and Verify, with the chain to the test
// root ("chain") and without it.
func BenchmarkVerify(b *testing.B) {
	f := getFixture(b)
	content := []byte("benchmark")
	d := digest(crypto.SHA256, content)
	for _, name := range []string{"p256", "rsa2048"} {
		der := signed(b, f, name, content, SignatureDefault)
		for _, chain := range []bool{false, true} {
			opts, sub := VerifyOptions{}, name+"/nochain"
			if chain {
				opts, sub = VerifyOptions{Roots: f.roots()}, name+"/chain"
			}
			b.Run(sub, func(b *testing.B) {
				for b.Loop() {
					sd, err := Parse(der)
					if err != nil {
						b.Fatal(err)
					}
					if err := sd.Verify(d, opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
