package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// throwawayTSA is an RFC 3161 time-stamping authority run by openssl ts
// -reply, with its own root, so the tokens come from software kyso did not
// write.
type throwawayTSA struct {
	dir string
}

const tsaConfig = `[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`

func newThrowawayTSA(t testing.TB) *throwawayTSA {
	t.Helper()
	dir := t.TempDir()
	rootKey, root := selfSigned(t, "Throwaway TSA Root", &x509.Certificate{
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Throwaway TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
		// openssl ts wants id-kp-timeStamping alone and critical (RFC 3161
		// section 2.3); crypto/x509 would write it non-critical.
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "tsa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	writePEM(t, dir, "tsa.pem", cert)
	writePEM(t, dir, "tsaroot.pem", root)
	writeFile(t, dir, "openssl-ts.cnf", []byte(tsaConfig))
	writeFile(t, dir, "tsaserial", []byte("01\n"))
	return &throwawayTSA{dir: dir}
}

// token has openssl make a TimeStampToken over data (hashed with SHA-256).
func (a *throwawayTSA) token(t testing.TB, data []byte) []byte {
	t.Helper()
	writeFile(t, a.dir, "data.bin", data)
	mustOpenSSL(t, a.dir, "ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "req.tsq")
	mustOpenSSL(t, a.dir, "ts", "-reply", "-config", "openssl-ts.cnf", "-queryfile", "req.tsq",
		"-signer", "tsa.pem", "-inkey", "tsa.key", "-token_out", "-out", "token.der")
	tok, err := os.ReadFile(filepath.Join(a.dir, "token.der"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verifyToken has openssl ts -verify check token over data against the TSA
// root.
func (a *throwawayTSA) verifyToken(t *testing.T, token, data []byte) {
	t.Helper()
	writeFile(t, a.dir, "check.der", token)
	writeFile(t, a.dir, "check.bin", data)
	out := mustOpenSSL(t, a.dir, "ts", "-verify", "-in", "check.der", "-token_in", "-data", "check.bin", "-CAfile", "tsaroot.pem")
	if !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify:\n%s", out)
	}
}

// TestTimestamp adds real RFC 3161 tokens over the signature value (B-T):
// openssl still verifies the CMS, Parse finds the token, its imprint is the
// hash of the signature value, and openssl ts -verify accepts the token as
// embedded.
func TestTimestamp(t *testing.T) {
	f := getFixture(t)
	tsa := newThrowawayTSA(t)
	ctx := context.Background()
	for _, name := range []string{"p256", "rsa2048"} {
		t.Run(name, func(t *testing.T) {
			k := f.keys[name]
			content := randomContent(t, 4096)
			der, err := Sign(ctx, &SignerInfoRequest{Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing}, ContentDigest: digest(crypto.SHA256, content)}, k.signer)
			if err != nil {
				t.Fatal(err)
			}
			sigValue, err := SignatureValue(der)
			if err != nil {
				t.Fatal(err)
			}
			tok := tsa.token(t, sigValue)
			stamped, err := AddTimestamp(der, tok)
			if err != nil {
				t.Fatalf("AddTimestamp: %v", err)
			}
			dir := t.TempDir()
			if out, ok := opensslVerify(t, dir, f, stamped, content); !ok || !strings.Contains(out, "Verification successful") {
				t.Fatalf("openssl cms -verify after AddTimestamp:\n%s", out)
			}
			if out := mustOpenSSL(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der"); !strings.Contains(out, "id-smime-aa-timeStampToken") {
				t.Errorf("openssl -print shows no time-stamp token:\n%s", out)
			}
			sd, err := Parse(stamped)
			if err != nil {
				t.Fatal(err)
			}
			if err := sd.Verify(digest(crypto.SHA256, content), VerifyOptions{Roots: f.roots()}); err != nil {
				t.Fatalf("Verify after AddTimestamp: %v", err)
			}
			if len(sd.Timestamps) != 1 {
				t.Fatalf("Parse found %d tokens", len(sd.Timestamps))
			}
			ts := sd.Timestamps[0]
			want, err := SignatureDigest(stamped, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ts.Token, tok) || ts.Hash != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want) || !ts.Covers(sd.Signature) {
				t.Fatalf("token imprint %x (%v), want %x", ts.HashedMessage, ts.Hash, want)
			}
			if time.Since(ts.GenTime) > time.Hour || ts.SerialNumber.Sign() <= 0 || ts.SignedData.Signer == nil {
				t.Errorf("TSTInfo genTime %v serial %v signer %v", ts.GenTime, ts.SerialNumber, ts.SignedData.Signer)
			}
			tsa.verifyToken(t, ts.Token, sd.Signature)

			// A second token is added beside the first.
			twice, err := AddTimestamp(stamped, tsa.token(t, sigValue))
			if err != nil {
				t.Fatal(err)
			}
			if sd2, err := Parse(twice); err != nil || len(sd2.Timestamps) != 2 {
				t.Fatalf("second AddTimestamp: %v", err)
			}
			// A token over something else is refused.
			if _, err := AddTimestamp(der, tsa.token(t, content)); !errors.Is(err, ErrTimestamp) {
				t.Fatalf("AddTimestamp of a token over other data = %v, want ErrTimestamp", err)
			}
			if _, err := AddTimestamp(der, der); !errors.Is(err, ErrTimestamp) {
				t.Fatalf("AddTimestamp of a non-token = %v, want ErrTimestamp", err)
			}
			// Verify refuses one slipped in around AddTimestamp's check.
			otherTok := tsa.token(t, content)
			slipped := reencode(t, der, func(p *parts) {
				p.si.unsigned = append(p.si.unsigned, attr(t, OIDAttributeTimeStampToken, func(b *cryptobyte.Builder) { b.AddBytes(otherTok) }))
			})
			sd3, err := Parse(slipped)
			if err != nil {
				t.Fatal(err)
			}
			if err := sd3.Verify(digest(crypto.SHA256, content), VerifyOptions{}); !errors.Is(err, ErrTimestamp) {
				t.Fatalf("Verify with a token over other data = %v, want ErrTimestamp", err)
			}
		})
	}

	// Two-phase with the token given to Finish.
	k := f.keys["rsa3072"]
	content := randomContent(t, 100)
	p, err := Prepare(&SignerInfoRequest{Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing}, ContentDigest: digest(crypto.SHA512, content), Hash: crypto.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.signer.Sign(rand.Reader, p.Digest, p.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := p.Finish(sig, WithTimestampToken(tsa.token(t, sig)))
	if err != nil {
		t.Fatalf("Finish with a token: %v", err)
	}
	if out, ok := opensslVerify(t, t.TempDir(), f, der, content); !ok {
		t.Fatalf("openssl:\n%s", out)
	}
	if sd, err := Parse(der); err != nil || len(sd.Timestamps) != 1 || !sd.Timestamps[0].Covers(sig) {
		t.Fatalf("Finish with a token: Parse %v", err)
	}
	if _, err := p.Finish(sig, WithTimestampToken(tsa.token(t, content))); !errors.Is(err, ErrTimestamp) {
		t.Fatalf("Finish with a token over other data = %v", err)
	}
}
