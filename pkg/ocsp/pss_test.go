package ocsp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// rsaResponder adds to p an RSA-2048 delegated responder certificate
// (id-kp-OCSPSigning, id-pkix-ocsp-nocheck) signed by the root, and
// returns it with its key.
func rsaResponder(t testing.TB, p *testPKI) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	nullDER, _ := asn1.Marshal(asn1.NullRawValue)
	cert := mustCert(t, &x509.Certificate{
		SerialNumber:    big.NewInt(3),
		Subject:         pkix.Name{Country: []string{"VN"}, Organization: []string{"kyso test"}, CommonName: "kyso test RSA OCSP responder"},
		NotBefore:       p.notBefore,
		NotAfter:        p.ocspUntil,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: nullDER}},
	}, p.root, key.Public(), p.rootKey)
	return cert, key
}

// basicSignature returns the signatureAlgorithm (full DER) and signature
// of a successful response.
func basicSignature(t testing.TB, der []byte) (alg []byte, tbs []byte, sig []byte) {
	t.Helper()
	var resp struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type asn1.ObjectIdentifier
			Resp []byte
		} `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) > 0 {
		t.Fatalf("OCSPResponse: %v", err)
	}
	var basic struct {
		TBS   asn1.RawValue
		Alg   asn1.RawValue
		Sig   asn1.BitString
		Certs []asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(resp.Bytes.Resp, &basic); err != nil || len(rest) > 0 {
		t.Fatalf("BasicOCSPResponse: %v", err)
	}
	return basic.Alg.FullBytes, basic.TBS.FullBytes, basic.Sig.RightAlign()
}

// certSignatureAlgorithm is the signatureAlgorithm crypto/x509 writes for
// a certificate signed with alg by key: an encoding kyso did not write.
func certSignatureAlgorithm(t testing.TB, key crypto.Signer, alg x509.SignatureAlgorithm) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), SignatureAlgorithm: alg}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &c); err != nil {
		t.Fatal(err)
	}
	return c.Alg.FullBytes
}

// TestRSAResponder has an RSA responder key sign responses: RSASSA-PSS
// with SHA-256, MGF1-SHA-256 and a 32-byte salt by default (Circular
// 15/2025 Annex I), with the RFC 4055 parameters spelt out as crypto/x509
// spells them for certificates, and sha256WithRSAEncryption only under
// Config.RSAPKCS1v15 — also for a key swapped in with SetSigner. openssl
// must verify each response against the root and read the parameters.
func TestRSAResponder(t *testing.T) {
	testenv.LookPath(t, "openssl", "apt-get install openssl")
	p := newTestPKI(t)
	rcert, rkey := rsaResponder(t, p)
	rcertPEM := p.writePEM(t, "rsa-ocsp.pem", "CERTIFICATE", rcert.Raw)
	for _, tc := range []struct {
		name      string
		legacy    bool
		swap      bool // start with the P-256 key, SetSigner the RSA one
		x509Alg   x509.SignatureAlgorithm
		opensslIs []string
	}{
		{name: "pss", x509Alg: x509.SHA256WithRSAPSS, opensslIs: []string{"Signature Algorithm: rsassaPss",
			"Hash Algorithm: sha256", "Mask Algorithm: mgf1 with sha256", "Salt Length: 0x20", "Trailer Field: 0x01 (default)"}},
		{name: "pss after SetSigner", swap: true, x509Alg: x509.SHA256WithRSAPSS, opensslIs: []string{"Signature Algorithm: rsassaPss"}},
		{name: "pkcs1v15", legacy: true, x509Alg: x509.SHA256WithRSA, opensslIs: []string{"Signature Algorithm: sha256WithRSAEncryption"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Issuer: p.root, Signer: rkey, SignerCert: rcert, Source: newMapSource(p.good), RSAPKCS1v15: tc.legacy}
			if tc.swap {
				cfg.Signer, cfg.SignerCert = p.ocspKey, p.ocsp
			}
			r, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.swap {
				if err := r.SetSigner(rkey, rcert); err != nil {
					t.Fatal(err)
				}
			}
			w := post(t, r, reqFor(t, p.good, p.root, crypto.SHA1))
			der := w.Body.Bytes()
			alg, tbs, sig := basicSignature(t, der)
			if want := certSignatureAlgorithm(t, rkey, tc.x509Alg); string(alg) != string(want) {
				t.Errorf("signatureAlgorithm %x, want %x (crypto/x509's %v)", alg, want, tc.x509Alg)
			}
			if err := rcert.CheckSignature(tc.x509Alg, tbs, sig); err != nil {
				t.Errorf("signature does not verify as %v: %v", tc.x509Alg, err)
			}
			if tc.x509Alg == x509.SHA256WithRSAPSS {
				// Exactly a 32-byte salt: crypto/x509 accepts only that.
				h := sha256.Sum256(tbs)
				if err := rsa.VerifyPSS(&rkey.PublicKey, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
					t.Errorf("not PSS with a 32-byte salt: %v", err)
				}
			}

			file := filepath.Join(p.dir, tc.name+".der")
			if err := os.WriteFile(file, der, 0o600); err != nil {
				t.Fatal(err)
			}
			out := openssl(t, p.dir, "ocsp", "-respin", file, "-issuer", p.rootPEM, "-CAfile", p.rootPEM,
				"-verify_other", rcertPEM, "-cert", p.goodPEM, "-no_nonce", "-resp_text")
			out.verified(t)
			wantAll(t, out.Out, append([]string{p.goodPEM + ": good"}, tc.opensslIs...)...)

			// A flipped bit near the signature's end: openssl must refuse it.
			bad := []byte(string(der))
			bad[len(bad)-len(rcert.Raw)-20] ^= 1
			if err := os.WriteFile(file, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			out = openssl(t, p.dir, "ocsp", "-respin", file, "-issuer", p.rootPEM, "-CAfile", p.rootPEM,
				"-verify_other", rcertPEM, "-cert", p.goodPEM, "-no_nonce")
			wantAll(t, out.Err, "Response Verify Failure")
			wantNone(t, out.Err, "Response verify OK")
		})
	}
}
