package pades

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// signerKey is a citizen certificate whose key is in the softkey store.
type signerKey struct {
	cert   *x509.Certificate
	signer crypto.Signer
}

// fixture is one throwaway hierarchy on SQLite and softkey (fast KDF),
// shared by the package's tests and benchmarks, with an in-process TSA.
type fixture struct {
	h     *ca.Hierarchy
	chain []*x509.Certificate // issuing CA, for the CMS
	keys  map[string]*signerKey
	tsa   *tsa.Server
	dir   string
	nss   string // "sql:DIR" NSS database trusting the root, for pdfsig

	nssOnce sync.Once
	nssErr  string
}

// shared is the package's fixture.
var shared = testenv.Shared[*fixture]{Prefix: "kyso-pades-test-", Build: newFixture}

func TestMain(m *testing.M) { shared.Main(m) }

func getFixture(tb testing.TB) *fixture {
	tb.Helper()
	return shared.Get(tb)
}

func newFixture(dir string) (*fixture, error) {
	ctx := context.Background()
	p, err := catest.New(ctx, dir)
	if err != nil {
		return nil, err
	}
	a, h := p.CA, p.Hierarchy
	f := &fixture{h: h, chain: []*x509.Certificate{h.Issuing}, keys: map[string]*signerKey{}, dir: dir}
	for i, k := range []struct {
		name string
		alg  hsm.Algorithm
	}{{"p256", hsm.ECDSAP256}, {"rsa2048", hsm.RSA2048}, {"p256b", hsm.ECDSAP256}} {
		cert, s, err := p.Citizen(ctx, "pades-test-"+k.name, k.alg, fmt.Sprintf("07920300123%d", i))
		if err != nil {
			return nil, err
		}
		f.keys[k.name] = &signerKey{cert: cert, signer: s}
	}
	tcert, tkey, err := a.TSASigner(ctx)
	if err != nil {
		return nil, err
	}
	chain, err := a.Chain(ctx)
	if err != nil {
		return nil, err
	}
	if f.tsa, err = tsa.New(tsa.Config{Certificate: tcert, Chain: chain, Signer: tkey, Policy: tsa.PlaceholderPolicy}); err != nil {
		return nil, err
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.Root.Raw})
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), root, 0o600); err != nil {
		return nil, err
	}
	if err := foreignSigner(dir); err != nil {
		return nil, err
	}
	return f, nil
}

// nssDB makes, once, an NSS database trusting the test root for pdfsig.
func (f *fixture) nssDB(t testing.TB) string {
	t.Helper()
	certutil := testenv.LookPath(t, "certutil", "apt-get install libnss3-tools")
	f.nssOnce.Do(func() {
		db := filepath.Join(f.dir, "nss")
		if err := os.MkdirAll(db, 0o700); err != nil {
			f.nssErr = err.Error()
			return
		}
		for _, args := range [][]string{
			{"-N", "-d", "sql:" + db, "--empty-password"},
			{"-A", "-n", "kyso-test-root", "-t", "CT,C,C", "-i", filepath.Join(f.dir, "root.pem"), "-d", "sql:" + db},
			{"-A", "-n", "foreign-test-root", "-t", "CT,C,C", "-i", filepath.Join(f.dir, "foreign-root.pem"), "-d", "sql:" + db},
		} {
			cmd := exec.Command(certutil, args...)
			cmd.Stdin = strings.NewReader("")
			if out, err := cmd.CombinedOutput(); err != nil {
				f.nssErr = fmt.Sprintf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
		f.nss = "sql:" + db
	})
	if f.nssErr != "" {
		t.Fatal(f.nssErr)
	}
	return f.nss
}

// buildClassic lays out a PDF with a classic cross-reference table (ISO
// 32000-2 §7.5.4): objs[i] is the body of object i+1.
func buildClassic(version string, objs []string, extra string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n", version)
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, extra, xref)
	return b.Bytes()
}

func stream(data []byte, compress bool) string {
	if !compress {
		return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(data), data)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	return fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes())
}

var helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" +
	strings.Repeat("556 ", 95) + "] /FontDescriptor %d 0 R >>"

const helveticaDescriptor = "<< /Type /FontDescriptor /FontName /Helvetica /Flags 32 /FontBBox [-166 -225 1000 931] /ItalicAngle 0 /Ascent 718 /Descent -207 /CapHeight 718 /StemV 88 >>"

const id = "/ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>] "

// minimalPDF is a one-page PDF with text; extra pads it with an
// uncompressed image-like stream of that many bytes (for benchmarks).
func minimalPDF(version string, extra int) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		stream([]byte("BT /F1 24 Tf 72 720 Td (Hello kyso) Tj ET"), true),
		fmt.Sprintf(helvetica, 6),
		helveticaDescriptor,
	}
	if extra > 0 {
		objs[2] = "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 7 0 R >> >> >>"
		data := bytes.Repeat([]byte{0x5a}, extra)
		objs = append(objs, fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream", extra, extra, data))
	}
	return buildClassic(version, objs, id)
}

// formPDF has an AcroForm with an empty signature field and a text field,
// and the page's /Annots as an indirect array.
func formPDF() []byte {
	return buildClassic("1.7", []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R 7 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots 9 0 R >>",
		stream([]byte("BT /F1 24 Tf 72 720 Td (Hello kyso) Tj ET"), false),
		fmt.Sprintf(helvetica, 8),
		"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R >>",
		"<< /FT /Tx /T (ten) /V (Nguyen) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /DA (/Helv 12 Tf 0 g) >>",
		helveticaDescriptor,
		"[6 0 R 7 0 R]",
	}, id)
}

// encryptedPDF has an /Encrypt entry in its trailer.
func encryptedPDF() []byte {
	return buildClassic("1.7", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R >>",
		"<< /Filter /Standard /V 2 /R 3 /Length 128 /P -4 /O <00> /U <00> >>",
	}, id+"/Encrypt 4 0 R ")
}

func runQpdf(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	qpdf := testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(qpdf, append(append([]string{"--deterministic-id"}, args...), src, dst)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qpdf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type input struct {
	name string
	make func(t testing.TB) []byte
}

func inputs() []input {
	return []input{
		{"classic-1.4", func(testing.TB) []byte { return minimalPDF("1.4", 0) }},
		{"pdf-2.0", func(testing.TB) []byte { return minimalPDF("2.0", 0) }},
		{"form-empty-sig", func(testing.TB) []byte { return formPDF() }},
		{"qpdf-objstm", func(t testing.TB) []byte { return runQpdf(t, formPDF(), "--object-streams=generate") }},
		{"qpdf-linearized", func(t testing.TB) []byte { return runQpdf(t, minimalPDF("1.7", 0), "--linearize") }},
		{"qpdf-linearized-objstm", func(t testing.TB) []byte {
			return runQpdf(t, formPDF(), "--linearize", "--object-streams=generate")
		}},
	}
}

func (f *fixture) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.h.Root)
	return p
}

// foreignSigner writes, under dir, a throwaway root (foreign-root.pem) and a
// signer certificate and key (foreign-cert.pem, foreign-key.pem) for
// signing with software other than kyso (pyHanko).
func foreignSigner(dir string) error {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Foreign Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Foreign Signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, key.Public(), rootKey)
	if err != nil {
		return err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	for name, b := range map[string]*pem.Block{
		"foreign-root.pem": {Type: "CERTIFICATE", Bytes: rootDER},
		"foreign-cert.pem": {Type: "CERTIFICATE", Bytes: leafDER},
		"foreign-key.pem":  {Type: "PRIVATE KEY", Bytes: pk},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}
