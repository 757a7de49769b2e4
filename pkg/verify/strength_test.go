package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// weakCA makes certificates for the strength tests by hand, since pkg/ca
// rightly refuses to issue them.
type weakCA struct {
	t    *testing.T
	now  time.Time
	next int64
}

func (w *weakCA) issue(cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, alg x509.SignatureAlgorithm) *x509.Certificate {
	w.t.Helper()
	w.next++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(w.next),
		Subject:               pkix.Name{CommonName: cn, Country: []string{"VN"}},
		NotBefore:             w.now.Add(-time.Hour),
		NotAfter:              w.now.Add(365 * 24 * time.Hour),
		SignatureAlgorithm:    alg,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		w.t.Fatalf("creating %s: %v", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sha1Signed has openssl, which still can, sign a certificate for pub's
// PEM with SHA-1 (Go's crypto/x509 no longer makes SHA-1 signatures).
func sha1Signed(t *testing.T, cn string, leafKey crypto.Signer, issuer *x509.Certificate, issuerKey *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lk, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	ik, err := x509.MarshalPKCS8PrivateKey(issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	leafPath, issuerKeyPath := write("leaf.key", "PRIVATE KEY", lk), write("issuer.key", "PRIVATE KEY", ik)
	issuerPath := write("issuer.pem", "CERTIFICATE", issuer.Raw)
	csr, out := filepath.Join(dir, "leaf.csr"), filepath.Join(dir, "leaf.der")
	ext := filepath.Join(dir, "ext.cnf")
	os.WriteFile(ext, []byte("keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n"), 0o600)
	for _, args := range [][]string{
		{"req", "-new", "-key", leafPath, "-subj", "/C=VN/CN=" + cn, "-out", csr},
		{"x509", "-req", "-in", csr, "-CA", issuerPath, "-CAkey", issuerKeyPath, "-set_serial", "99", "-days", "30", "-sha1", "-extfile", ext, "-outform", "DER", "-out", out},
	} {
		if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", args[0], err, b)
		}
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.SignatureAlgorithm != x509.SHA1WithRSA {
		t.Fatalf("openssl made a %v certificate, want SHA1-RSA", c.SignatureAlgorithm)
	}
	return c
}

// opensslSigned signs in with openssl cms -sign -cades — pkg/cms rightly
// refuses weak keys, and the validator must meet signatures made by
// software that does not: pkg/pades signs with a throwaway strong key, and
// openssl's CMS over the same signed bytes replaces that signature in
// /Contents.
func opensslSigned(t *testing.T, in []byte, key crypto.Signer, cert *x509.Certificate) []byte {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	throwaway := ecKey(t, elliptic.P256())
	w := &weakCA{t: t, now: time.Now()}
	var draft bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &draft, throwaway,
		w.issue("throwaway", throwaway.Public(), nil, throwaway, false, x509.ECDSAWithSHA256), nil,
		&pades.SignOptions{Options: pades.Options{SkipSignerCheck: true}}); err != nil {
		t.Fatal(err)
	}
	d := draft.Bytes()
	content, br := signedBytes(t, d)
	dir := t.TempDir()
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}),
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		"content":  content,
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "sig.der")
	cmd := exec.Command(openssl, "cms", "-sign", "-binary", "-cades", "-md", "sha256", "-nosmimecap", "-outform", "DER",
		"-in", filepath.Join(dir, "content"), "-signer", filepath.Join(dir, "cert.pem"), "-inkey", filepath.Join(dir, "key.pem"), "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, b)
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	hexDER := []byte(strings.ToUpper(hex.EncodeToString(der)))
	gap := d[br[1]+1 : br[2]-1] // inside < >
	if len(hexDER) > len(gap) {
		t.Fatalf("openssl's CMS (%d hex digits) does not fit /Contents (%d)", len(hexDER), len(gap))
	}
	copy(gap, hexDER)
	for k := len(hexDER); k < len(gap); k++ {
		gap[k] = '0'
	}
	return d
}

// signedBytes reads the last signature's /ByteRange of doc and returns the
// bytes it covers.
func signedBytes(t *testing.T, d []byte) ([]byte, [4]int64) {
	t.Helper()
	i := bytes.LastIndex(d, []byte("/ByteRange"))
	if i < 0 {
		t.Fatal("no /ByteRange")
	}
	var br [4]int64
	f := strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(string(d[i+len("/ByteRange") : i+len("/ByteRange")+60])))
	for j := range br {
		n, err := strconv.ParseInt(f[j], 10, 64)
		if err != nil {
			t.Fatalf("/ByteRange: %v", err)
		}
		br[j] = n
	}
	return append(append([]byte(nil), d[br[0]:br[1]]...), d[br[2]:br[2]+br[3]]...), br
}

// opensslCMSVerify has openssl check the signature of doc, trusting root,
// at security level 0 so that weak keys and SHA-1 are still verified: the
// document is well made, and only its algorithms are wrong.
func opensslCMSVerify(t *testing.T, doc []byte, root *x509.Certificate) {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	content, br := signedBytes(t, doc)
	padded, err := hex.DecodeString(string(doc[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	var der cryptobyte.String
	in := cryptobyte.String(padded)
	if !in.ReadASN1Element(&der, cbasn1.SEQUENCE) {
		t.Fatal("/Contents does not start with a DER SEQUENCE")
	}
	dir := t.TempDir()
	for n, b := range map[string][]byte{"content": content, "sig.der": []byte(der),
		"root.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})} {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := testenv.Run(exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "sig.der"),
		"-content", filepath.Join(dir, "content"), "-CAfile", filepath.Join(dir, "root.pem"), "-purpose", "any", "-auth_level", "0",
		"-out", os.DevNull))
	// openssl cms prints its verdict, "Verification successful", on stderr
	// (stdout is for the content, here sent to /dev/null): read that alone.
	if err != nil || !strings.Contains(errOut, "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s\nstdout: %s", err, errOut, out)
	}
}

// TestStrength: what Circular 15/2025 Annex I does not allow fails the
// signature with CRYPTO_CONSTRAINTS_FAILURE_NO_POE and says which
// certificate, and an RSA PKCS#1 v1.5 signature — by the signer or on a
// certificate of the path — is a warning only.
func TestStrength(t *testing.T) {
	now := time.Now().UTC()
	w := &weakCA{t: t, now: now}
	rootKey := rsaKey(t, 2048)
	root := w.issue("Gốc thử", rootKey.Public(), nil, rootKey, true, x509.SHA256WithRSAPSS)
	pss := x509.SHA256WithRSAPSS

	type sig struct {
		key   crypto.Signer
		cert  *x509.Certificate
		chain []*x509.Certificate
		alg   cms.SignatureAlgorithm
		// openssl: signed by openssl rather than pkg/cms.
		openssl bool
	}
	good := rsaKey(t, 2048)
	weakInterKey := rsaKey(t, 1024)
	weakInter := w.issue("Trung gian yếu", weakInterKey.Public(), root, rootKey, true, pss)
	small := rsaKey(t, 1024)
	p224 := ecKey(t, elliptic.P224())
	sha1Key := rsaKey(t, 2048)
	cases := []struct {
		name     string
		sig      sig
		ind      verify.Indication
		sub      verify.SubIndication
		reason   verify.Code // wanted among the reasons
		subject  string      // of the reason or warning
		warnWhat string      // wanted rsa_pkcs1v15 warning's "what"; empty: none
	}{
		{name: "rsa-1024 signer", sig: sig{small, w.issue("RSA 1024", small.Public(), root, rootKey, false, pss), nil, 0, true},
			ind: verify.Indeterminate, sub: verify.CryptoConstraintsFailureNoPOE, reason: verify.CodeWeakRSAKey, subject: "RSA 1024"},
		{name: "ecdsa-p224 signer", sig: sig{p224, w.issue("P-224", p224.Public(), root, rootKey, false, pss), nil, 0, true},
			ind: verify.Indeterminate, sub: verify.CryptoConstraintsFailureNoPOE, reason: verify.CodeWeakECKey, subject: "P-224"},
		{name: "rsa-1024 intermediate", sig: sig{good, w.issue("Dưới trung gian yếu", good.Public(), weakInter, weakInterKey, false, pss), []*x509.Certificate{weakInter}, 0, false},
			ind: verify.Indeterminate, sub: verify.CryptoConstraintsFailureNoPOE, reason: verify.CodeWeakRSAKey, subject: "Trung gian yếu"},
		{name: "sha1 certificate", sig: sig{sha1Key, sha1Signed(t, "SHA-1", sha1Key, root, rootKey), nil, 0, false},
			ind: verify.Indeterminate, sub: verify.CryptoConstraintsFailureNoPOE, reason: verify.CodeWeakCertSignature, subject: "SHA-1"},
		{name: "pkcs1v15 signature", sig: sig{good, w.issue("PKCS1 ký", good.Public(), root, rootKey, false, pss), nil, cms.RSAPKCS1v15, false},
			ind: verify.Indeterminate, sub: verify.TryLater, reason: verify.CodeRevocationUnknown, subject: "PKCS1 ký", warnWhat: "signature"},
		{name: "pkcs1v15 certificate", sig: sig{good, w.issue("PKCS1 chứng thư", good.Public(), root, rootKey, false, x509.SHA256WithRSA), nil, 0, false},
			ind: verify.Indeterminate, sub: verify.TryLater, reason: verify.CodeRevocationUnknown, subject: "PKCS1 chứng thư", warnWhat: "certificate"},
		{name: "pss everywhere", sig: sig{good, w.issue("PSS", good.Public(), root, rootKey, false, pss), nil, 0, false},
			ind: verify.Indeterminate, sub: verify.TryLater, reason: verify.CodeRevocationUnknown, subject: "PSS"},
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := formPDF()
			var doc []byte
			if tc.sig.openssl {
				doc = opensslSigned(t, in, tc.sig.key, tc.sig.cert)
			} else {
				var out bytes.Buffer
				err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, tc.sig.key, tc.sig.cert, tc.sig.chain,
					// Weak keys on purpose: the pre-signing check would refuse them.
					&pades.SignOptions{SignatureAlgorithm: tc.sig.alg, Options: pades.Options{SkipSignerCheck: true}})
				if err != nil {
					t.Fatalf("signing: %v", err)
				}
				doc = out.Bytes()
			}
			opensslCMSVerify(t, doc, root)
			rep, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), &verify.Options{Roots: roots})
			if err != nil {
				t.Fatal(err)
			}
			s := want(t, rep, 0, tc.ind, tc.sub)
			if len(s.ReasonDetails) != len(s.Reasons) || len(s.WarningDetails) != len(s.Warnings) {
				t.Fatalf("details do not match reasons one for one: %d/%d, %d/%d", len(s.ReasonDetails), len(s.Reasons), len(s.WarningDetails), len(s.Warnings))
			}
			found := false
			for _, f := range s.ReasonDetails {
				if f.Code == tc.reason && f.Params["subject"] == tc.subject {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s reason for %q among %+v", tc.reason, tc.subject, s.ReasonDetails)
			}
			var whats []string
			for _, f := range s.WarningDetails {
				if f.Code == verify.CodeRSAPKCS1v15 {
					whats = append(whats, f.Params["what"]+":"+f.Params["subject"])
					if !strings.Contains(f.Text, "RSASSA-PSS") {
						t.Errorf("warning %q does not name RSASSA-PSS", f.Text)
					}
				}
			}
			wantWhats := ""
			if tc.warnWhat != "" {
				wantWhats = tc.warnWhat + ":" + tc.subject
			}
			if strings.Join(whats, ",") != wantWhats {
				t.Errorf("PKCS#1 v1.5 warnings %v, want %q", whats, wantWhats)
			}
		})
	}
}
