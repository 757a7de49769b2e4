package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// minimalPDF is a one-page PDF 1.7 with a classic cross-reference table, as
// the simplest producers write it.
func minimalPDF(text string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	content := fmt.Sprintf("BT /F1 18 Tf 72 720 Td (%s) Tj ET", text)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// TestSignPDF signs a form as a user of the CLI would, at B-B and then B-T
// (a second signature, time-stamped by the provider's TSA), and has pdfsig
// and qpdf check the result.
func TestSignPDF(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	qpdf := testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := kyso(t, args...)
		if code != 0 {
			t.Fatalf("kyso %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	ok("ca", "init")
	chain := filepath.Join(dir, "chain.pem")
	os.WriteFile(chain, []byte(ok("ca", "chain")), 0o644)
	cert := filepath.Join(dir, "citizen.pem")
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-1", "-o", cert)
	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, minimalPDF("To khai dang ky"), 0o644)

	signed := filepath.Join(dir, "signed.pdf")
	ok("sign", "pdf", in, "-o", signed, "--key", "citizen-1", "--cert", cert, "--chain", chain, "--reason", "Tôi đồng ý", "--location", "Thành phố Hồ Chí Minh")
	orig, _ := os.ReadFile(in)
	got, _ := os.ReadFile(signed)
	if !bytes.HasPrefix(got, orig) {
		t.Fatal("the signed PDF does not keep the original bytes (not an incremental update)")
	}
	out, _ := exec.Command(pdfsig, signed).CombinedOutput()
	for _, want := range []string{"Signature is Valid.", "Signature Type: ETSI.CAdES.detached", "Total document signed"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("pdfsig lacks %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command(qpdf, "--check", signed).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors found") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}

	// B-T: a second signature, time-stamped by the provider's TSA.
	d, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := d.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tsaCert, tsaKey, err := opened.CA.TSASigner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, _ := opened.CA.Hierarchy(context.Background())
	srv, err := tsa.New(tsa.Config{Certificate: tsaCert, Chain: []*x509.Certificate{h.Issuing, h.Root}, Signer: tsaKey, Policy: tsa.PlaceholderPolicy})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cert2 := filepath.Join(dir, "officer.pem")
	ok("cert", "issue", "--profile", "organisation", "--mst", "0101234567", "--name", "UBND Phường Bến Thành", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "seal-1", "-o", cert2)
	opened.Close()
	twice := filepath.Join(dir, "twice.pdf")
	ok("sign", "pdf", signed, "-o", twice, "--key", "seal-1", "--cert", cert2, "--chain", chain, "--level", "B-T", "--tsa", ts.URL)
	out, _ = exec.Command(pdfsig, twice).CombinedOutput()
	if strings.Count(string(out), "Signature is Valid.") != 2 {
		t.Fatalf("pdfsig after the second signature:\n%s", out)
	}

	// Refusals a user can hit.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", "pdf", in, "-o", in, "--key", "citizen-1", "--cert", cert}, "must not be the input"},
		{[]string{"sign", "pdf", in, "-o", filepath.Join(dir, "x.pdf"), "--key", "seal-1", "--cert", cert}, "not the key certified"},
		{[]string{"sign", "pdf", in, "-o", filepath.Join(dir, "x.pdf"), "--key", "citizen-1", "--cert", cert, "--level", "B-T"}, "needs --tsa"},
		{[]string{"sign", "pdf", chain, "-o", filepath.Join(dir, "x.pdf"), "--key", "citizen-1", "--cert", cert}, "pades"},
	} {
		if _, errOut, code := kyso(t, c.args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
		t.Error("a failed signing left an output file behind")
	}
}
