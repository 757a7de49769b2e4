package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
)

type signCase struct {
	key  string
	alg  SignatureAlgorithm
	hash crypto.Hash
}

func (c signCase) String() string {
	return c.key + "/" + c.alg.String() + "/" + hashName(c.hash)
}

func signCases() []signCase {
	var cs []signCase
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		cs = append(cs, signCase{"p256", SignatureDefault, h}, signCase{"p384", SignatureDefault, h})
		for _, k := range []string{"rsa2048", "rsa3072"} {
			cs = append(cs, signCase{k, SignatureDefault, h}, signCase{k, RSAPKCS1v15, h})
		}
	}
	return cs
}

func randomContent(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignOpenSSL signs a file's bytes with every key type, algorithm and
// hash, and has openssl cms — which kyso did not write — verify the result
// against the test root, refuse it for altered content, and show the
// CAdES attributes; Go's own Verify and digitorus/pkcs7 (where it knows the
// algorithm) agree.
func TestSignOpenSSL(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	for _, tc := range signCases() {
		t.Run(tc.String(), func(t *testing.T) {
			k := f.keys[tc.key]
			dir := t.TempDir()
			content := randomContent(t, 64<<10)
			der, err := Sign(ctx, &SignerInfoRequest{
				Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing},
				ContentDigest: digest(tc.hash, content), Hash: tc.hash, SignatureAlgorithm: tc.alg,
			}, k.signer)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if out, ok := opensslVerify(t, dir, f, der, content); !ok || !strings.Contains(out, "Verification successful") {
				t.Fatalf("openssl cms -verify refused kyso's signature:\n%s", out)
			}
			tampered := bytes.Clone(content)
			tampered[len(tampered)/2] ^= 1
			if out, ok := opensslVerify(t, dir, f, der, tampered); ok || strings.Contains(out, "Verification successful") {
				t.Fatalf("openssl cms -verify accepted altered content:\n%s", out)
			}
			printed := mustOpenSSL(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der")
			for _, want := range []string{"id-smime-aa-signingCertificateV2", "messageDigest", "contentType"} {
				if !strings.Contains(printed, want) {
					t.Errorf("openssl -print lacks %s:\n%s", want, printed)
				}
			}
			if strings.Contains(printed, "signingTime") {
				t.Error("signing-time attribute present; PAdES (EN 319 142-1) forbids it")
			}
			wantPSS := strings.HasPrefix(tc.key, "rsa") && tc.alg != RSAPKCS1v15
			if got := strings.Contains(printed, "rsassaPss"); got != wantPSS {
				t.Errorf("rsassaPss in openssl -print = %v, want %v", got, wantPSS)
			}

			sd, err := Parse(der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := sd.Verify(digest(tc.hash, content), VerifyOptions{Roots: f.roots()}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := sd.Verify(digest(tc.hash, tampered), VerifyOptions{Roots: f.roots()}); !errors.Is(err, ErrMessageDigest) {
				t.Fatalf("Verify of altered content = %v, want ErrMessageDigest", err)
			}
			if !sd.Signer.Equal(k.cert) || len(sd.Certificates) != 2 || sd.Hash != tc.hash || sd.Version != 1 || sd.Content != nil {
				t.Errorf("parsed: signer %v, %d certs, hash %v, version %d", sd.Signer.Subject, len(sd.Certificates), sd.Hash, sd.Version)
			}
			if !sd.SigningCertificateV2.Matches(k.cert) || sd.SigningCertificateV2.Serial != nil || sd.SigningCertificateV2.Hash != crypto.SHA256 {
				t.Error("signing-certificate-v2 is not the signer's SHA-256 hash alone (EN 319 122-1 clause 6.3 g: no issuerSerial)")
			}
			if wantPSS && (sd.SignatureAlgorithm != RSAPSS || sd.PSSSaltLength != tc.hash.Size()) {
				t.Errorf("PSS parameters: %v salt %d", sd.SignatureAlgorithm, sd.PSSSaltLength)
			}

			// digitorus/pkcs7, a second implementation, for the algorithms
			// it has (no RSASSA-PSS).
			if !wantPSS {
				p7, err := pkcs7.Parse(der)
				if err != nil {
					t.Fatalf("pkcs7.Parse: %v", err)
				}
				p7.Content = content
				if err := p7.Verify(); err != nil {
					t.Errorf("digitorus/pkcs7 Verify: %v", err)
				}
				p7.Content = tampered
				if err := p7.Verify(); err == nil {
					t.Error("digitorus/pkcs7 accepted altered content")
				}
			}
		})
	}
}

// TestTwoPhase prepares, stores and restores the prepared state, signs the
// digest elsewhere — the key store, as a remote signer would — and
// finishes; a signature by another key is refused.
func TestTwoPhase(t *testing.T) {
	f := getFixture(t)
	for _, name := range f.order {
		t.Run(name, func(t *testing.T) {
			k := f.keys[name]
			content := randomContent(t, 1000)
			p, err := Prepare(&SignerInfoRequest{Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing, k.cert}, ContentDigest: digest(crypto.SHA384, content), Hash: crypto.SHA384})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if len(p.Chain) != 1 {
				t.Errorf("chain kept %d certificates; the signer and duplicates belong out", len(p.Chain))
			}
			stored, err := p.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			var q Prepared
			if err := q.UnmarshalBinary(stored); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if !bytes.Equal(q.Digest, p.Digest) || q.Algorithm != p.Algorithm || q.Hash != p.Hash {
				t.Fatal("restored state differs")
			}
			if !strings.HasPrefix(name, "rsa") && q.Algorithm != ECDSA || strings.HasPrefix(name, "rsa") && q.Algorithm != RSAPSS {
				t.Errorf("default algorithm for %s is %v", name, q.Algorithm)
			}
			sig, err := k.signer.Sign(rand.Reader, q.Digest, q.SignerOpts())
			if err != nil {
				t.Fatalf("key store Sign: %v", err)
			}
			der, err := q.Finish(sig)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if out, ok := opensslVerify(t, t.TempDir(), f, der, content); !ok || !strings.Contains(out, "Verification successful") {
				t.Fatalf("openssl cms -verify:\n%s", out)
			}

			// A signature over the same digest by another key of the same kind.
			other := f.keys[map[string]string{"p256": "p384", "p384": "p256", "rsa2048": "rsa3072", "rsa3072": "rsa2048"}[name]]
			if strings.HasPrefix(name, "p") {
				key, _ := selfSigned(t, "other", nil)
				other = &signerKey{signer: key}
			}
			bad, err := other.signer.Sign(rand.Reader, q.Digest, q.SignerOpts())
			if err != nil {
				t.Fatalf("other key Sign: %v", err)
			}
			if _, err := q.Finish(bad); !errors.Is(err, ErrSignature) {
				t.Fatalf("Finish with another key's signature = %v, want ErrSignature", err)
			}
			// A signature over another digest by the right key.
			wrong, _ := k.signer.Sign(rand.Reader, digest(crypto.SHA384, []byte("other")), q.SignerOpts())
			if _, err := q.Finish(wrong); !errors.Is(err, ErrSignature) {
				t.Fatalf("Finish with a signature over another digest = %v, want ErrSignature", err)
			}

			// Stored state that was altered is refused on restore.
			for _, field := range []string{`"digest":"`, `"signed_attrs":"`} {
				i := bytes.Index(stored, []byte(field)) + len(field) + 2
				alt := bytes.Clone(stored)
				alt[i] ^= 'A' ^ 'B'
				if alt[i] == stored[i] {
					alt[i] = 'C'
				}
				var r Prepared
				if err := r.UnmarshalBinary(alt); err == nil {
					t.Errorf("UnmarshalBinary accepted state with %s altered", field)
				}
			}
		})
	}
}

// TestSigningTimeAndContentType: for plain CAdES a caller can ask for
// signing-time and issuerSerial, and another content type makes SignedData
// version 3.
func TestSigningTimeAndContentType(t *testing.T) {
	f := getFixture(t)
	k := f.keys["p256"]
	content := []byte("hợp đồng")
	when := time.Date(2026, 11, 23, 3, 15, 0, 0, time.UTC)
	der, err := Sign(context.Background(), &SignerInfoRequest{Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing}, ContentDigest: digest(crypto.SHA256, content), SigningTime: when, IssuerSerial: true}, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, ok := opensslVerify(t, dir, f, der, content); !ok {
		t.Fatalf("openssl:\n%s", out)
	}
	if out := mustOpenSSL(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der"); !strings.Contains(out, "signingTime") {
		t.Errorf("no signingTime in:\n%s", out)
	}
	sd, err := Parse(der)
	if err != nil || !sd.SigningTime.Equal(when) {
		t.Fatalf("SigningTime = %v, %v", sd.SigningTime, err)
	}
	if id := sd.SigningCertificateV2; id.Serial == nil || id.Serial.Cmp(k.cert.SerialNumber) != 0 || !bytes.Equal(id.Issuer, k.cert.RawIssuer) || !id.Matches(k.cert) {
		t.Errorf("issuerSerial asked for, got %+v", id)
	}
	if err := sd.Verify(digest(crypto.SHA256, content), VerifyOptions{Roots: f.roots()}); err != nil {
		t.Fatal(err)
	}

	ct := OIDTSTInfo // any type other than id-data
	der, err = Sign(context.Background(), &SignerInfoRequest{Certificate: k.cert, ContentDigest: digest(crypto.SHA256, content), ContentType: ct}, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	if sd, err = Parse(der); err != nil || sd.Version != 3 || !sd.ContentType.Equal(ct) || !sd.ContentTypeAttribute.Equal(ct) {
		t.Fatalf("content type %v/%v version %d, %v", sd.ContentType, sd.ContentTypeAttribute, sd.Version, err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(f.h.Issuing)
	if err := sd.Verify(digest(crypto.SHA256, content), VerifyOptions{Roots: f.roots()}); err == nil {
		t.Fatal("Verify built a chain without the issuing CA")
	}
	if err := sd.Verify(digest(crypto.SHA256, content), VerifyOptions{Roots: f.roots(), Intermediates: inter}); err != nil {
		t.Fatal(err)
	}
}

// TestSignAttached: a SignedData carrying its content is verified by
// openssl cms with no -content, which prints exactly the content, and is
// refused once a byte of the carried content changes; Parse reads the
// content back.
func TestSignAttached(t *testing.T) {
	f := getFixture(t)
	k := f.keys["p256"]
	content := []byte(`{"version":1,"note":"<script>alert(1)</script> Tôi đồng ý"}`)
	der, err := SignAttached(context.Background(), &SignerInfoRequest{Certificate: k.cert, Chain: []*x509.Certificate{f.h.Issuing},
		SigningTime: time.Now()}, content, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(der)
	if err != nil || !bytes.Equal(sd.Content, content) {
		t.Fatalf("Parse: content %q, %v", sd.Content, err)
	}
	dir := t.TempDir()
	writePEM(t, dir, "root.pem", f.h.Root)
	writePEM(t, dir, "issuing.pem", f.h.Issuing)
	verify := func(sig []byte) (string, string, bool) {
		writeFile(t, dir, "r.p7m", sig)
		return openssl(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "r.p7m",
			"-CAfile", "root.pem", "-certfile", "issuing.pem", "-purpose", "any")
	}
	out, said, ok := verify(der)
	if !ok || !strings.Contains(said, "Verification successful") || out != string(content) {
		t.Fatalf("openssl cms -verify of an attached signature: ok=%v, said %q, printed %q", ok, said, out)
	}
	i := bytes.Index(der, []byte("alert(1)"))
	tampered := bytes.Clone(der)
	tampered[i] = 'A'
	if _, said, ok := verify(tampered); ok || strings.Contains(said, "Verification successful") {
		t.Fatalf("openssl accepted altered content: %s", said)
	}
}
