package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// TestSignPDF signs a form as a user of the CLI would, at B-B and then B-T
// (a second signature, time-stamped by the provider's TSA), and has pdfsig
// and qpdf check the result.
func TestSignPDF(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }
	ok("ca", "init")
	chain := filepath.Join(dir, "chain.pem")
	os.WriteFile(chain, []byte(ok("ca", "chain")), 0o644)
	cert := filepath.Join(dir, "citizen.pem")
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-1", "-o", cert)
	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai dang ky"), 0o644)

	signed := filepath.Join(dir, "signed.pdf")
	// This test is about the PDF; TestSignPDFChecks about the check.
	ok("sign", "pdf", in, "-o", signed, "--skip-signer-check", "--key", "citizen-1", "--cert", cert, "--chain", chain, "--reason", "Tôi đồng ý", "--location", "Thành phố Hồ Chí Minh")
	orig, _ := os.ReadFile(in)
	got, _ := os.ReadFile(signed)
	if !bytes.HasPrefix(got, orig) {
		t.Fatal("the signed PDF does not keep the original bytes (not an incremental update)")
	}
	out, errOut, _ := testenv.Run(exec.Command(pdfsig, signed))
	for _, want := range []string{"Signature is Valid.", "Signature Type: ETSI.CAdES.detached", "Total document signed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("pdfsig lacks %q:\n%s\nstderr: %s", want, out, errOut)
		}
	}
	testenv.CheckQpdf(t, signed)

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
	ok("sign", "pdf", signed, "-o", twice, "--skip-signer-check", "--key", "seal-1", "--cert", cert2, "--chain", chain, "--level", "B-T", "--tsa", ts.URL)
	out, errOut, _ = testenv.Run(exec.Command(pdfsig, twice))
	if strings.Count(out, "Signature is Valid.") != 2 {
		t.Fatalf("pdfsig after the second signature:\n%s\nstderr: %s", out, errOut)
	}

	// Refusals a user can hit.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", "pdf", in, "-o", in, "--key", "citizen-1", "--cert", cert}, "must not be the input"},
		{[]string{"sign", "pdf", in, "-o", filepath.Join(dir, "x.pdf"), "--skip-signer-check", "--key", "seal-1", "--cert", cert}, "not the key certified"},
		{[]string{"sign", "pdf", in, "-o", filepath.Join(dir, "x.pdf"), "--key", "citizen-1", "--cert", cert, "--level", "B-T"}, "needs --tsa"},
		{[]string{"sign", "pdf", chain, "-o", filepath.Join(dir, "x.pdf"), "--skip-signer-check", "--key", "citizen-1", "--cert", cert}, "pades"},
	} {
		if _, errOut, code := kyso(t, c.args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
		t.Error("a failed signing left an output file behind")
	}
}

// TestSignPDFVisible signs with a stamp from the CLI — chosen rectangle,
// image and QR code, then the default place — checks what poppler reads
// back, and that mistakes in the stamp flags are usage errors (exit 2)
// that leave no file behind.
func TestSignPDFVisible(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	pdftotext := testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	pdffonts := testenv.LookPath(t, "pdffonts", "apt-get install poppler-utils")
	testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	dir := t.TempDir()
	t.Setenv("KYSO_DATA", filepath.Join(dir, "data"))
	t.Setenv("KYSO_KEYSTORE", "")
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := kyso(t, args...)
		if code != 0 {
			t.Fatalf("kyso %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out + errOut
	}
	ok("ca", "init")
	chain := filepath.Join(dir, "chain.pem")
	os.WriteFile(chain, []byte(ok("ca", "chain")), 0o644)
	cert := filepath.Join(dir, "citizen.pem")
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-1", "-o", cert)
	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai dang ky"), 0o644)
	seal := filepath.Join(dir, "seal.png")
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := 0; i < 64; i++ {
		img.SetNRGBA(i, i, color.NRGBA{R: 200, A: 255})
		img.SetNRGBA(63-i, i, color.NRGBA{R: 200, A: 255})
	}
	var pngData bytes.Buffer
	png.Encode(&pngData, img)
	os.WriteFile(seal, pngData.Bytes(), 0o644)
	notImage := filepath.Join(dir, "not-an-image.png")
	os.WriteFile(notImage, []byte("just text"), 0o644)
	base := []string{"--skip-signer-check", "--key", "citizen-1", "--cert", cert, "--chain", chain}

	check := func(path string, lines ...string) {
		t.Helper()
		out, errOut, _ := testenv.Run(exec.Command(pdfsig, path))
		if !strings.Contains(out, "Signature is Valid.") {
			t.Errorf("pdfsig %s:\n%s\nstderr: %s", path, out, errOut)
		}
		testenv.CheckQpdf(t, path)
		out, errOut, err := testenv.Run(exec.Command(pdftotext, "-f", "1", "-l", "1", "-enc", "UTF-8", path, "-"))
		if err != nil {
			t.Fatalf("pdftotext: %v\n%s\nstderr: %s", err, out, errOut)
		}
		got := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			got[strings.TrimSpace(l)] = true
		}
		// The signing time in Vietnam's time, whatever the host's TZ, with
		// the zone; beside the image and QR code the line may wrap.
		if at, zone := stampTime(t, string(out)); zone != "GMT+7" || time.Since(at).Abs() > 2*time.Minute {
			t.Errorf("the stamp's signing time is %v (%s), want about now in GMT+7:\n%s", at, zone, out)
		}
		for _, l := range lines {
			if !got[l] {
				t.Errorf("pdftotext lacks the line %q:\n%s", l, out)
			}
		}
		out, errOut, _ = testenv.Run(exec.Command(pdffonts, path))
		if !regexp.MustCompile(`(?m)^[A-Z]{6}\+DejaVuSans\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes\s`).MatchString(out) {
			t.Errorf("pdffonts lists no embedded subset DejaVuSans with ToUnicode:\n%s\nstderr: %s", out, errOut)
		}
	}

	stamped := filepath.Join(dir, "stamped.pdf")
	msg := ok(append([]string{"sign", "pdf", in, "-o", stamped, "--visible", "--rect", "300,40,260,80", "--image", seal,
		"--qr", "https://kyso.example.vn/verify?id=1", "--reason", "Tôi đồng ý", "--location", "Hà Nội"}, base...)...)
	if !strings.Contains(msg, "visible") {
		t.Errorf("kyso sign pdf says %q, not that the signature is visible", msg)
	}
	check(stamped, "Ký bởi: NGUYỄN VĂN ĐỨC", "Lý do: Tôi đồng ý", "Nơi ký: Hà Nội")

	// The default place, on page 1 given explicitly, after the first;
	// --tz UTC shows that signing time in UTC.
	twice := filepath.Join(dir, "twice.pdf")
	ok(append([]string{"sign", "pdf", stamped, "-o", twice, "--visible", "--page", "1", "--tz", "UTC"}, base...)...)
	out, errOut, _ := testenv.Run(exec.Command(pdfsig, twice))
	if strings.Count(out, "Signature is Valid.") != 2 {
		t.Errorf("pdfsig after a second visible signature:\n%s\nstderr: %s", out, errOut)
	}
	out, errOut, err := testenv.Run(exec.Command(pdftotext, "-f", "1", "-l", "1", "-enc", "UTF-8", twice, "-"))
	if err != nil {
		t.Fatalf("pdftotext: %v\nstderr: %s", err, errOut)
	}
	zones := map[string]bool{}
	for _, m := range stampDate.FindAllStringSubmatch(strings.Join(strings.Fields(out), " "), -1) {
		zones[m[2]] = true
	}
	if !zones["GMT+7"] || !zones["GMT"] {
		t.Errorf("the two stamps show signing times in %v, want GMT+7 (default) and GMT (--tz UTC):\n%s", zones, out)
	}

	x := filepath.Join(dir, "x.pdf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--visible", "--rect", "1,2,3"}, `--rect is "1,2,3", want x,y,width,height`},
		{[]string{"--visible", "--rect", "a,b,c,d"}, "want x,y,width,height"},
		{[]string{"--visible", "--rect", "10,10,0,50"}, "not positive"},
		{[]string{"--visible", "--rect", "500,10,300,80"}, "is not within page 1, whose visible area is 0,0,595,842"},
		{[]string{"--visible", "--page", "5"}, "page 5 does not exist: the document has 1 page"},
		{[]string{"--visible", "--page", "-1"}, "--page is -1"},
		{[]string{"--visible", "--page", "two"}, "invalid value"},
		{[]string{"--qr", "https://kyso.example.vn/v", "--page", "1"}, "--page, --qr only place or fill a visible stamp: add --visible"},
		{[]string{"--visible", "--image", filepath.Join(dir, "missing.png")}, "--image: "},
		{[]string{"--visible", "--image", notImage}, "stamp: image is not a JPEG or PNG"},
		{[]string{"--visible", "--qr", "not a url"}, "not an absolute URL"},
		{[]string{"--visible", "--tz", "Mars/Olympus_Mons"}, `--tz is "Mars/Olympus_Mons", want an IANA time zone`},
		{[]string{"--tz", "UTC"}, "--tz only place or fill a visible stamp: add --visible"},
	} {
		args := append(append([]string{"sign", "pdf", in, "-o", x}, base...), c.args...)
		if _, errOut, code := kyso(t, args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want exit 2 and %q", c.args, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(x); err == nil {
		t.Error("a refused signing left an output file behind")
	}
}

// stampDate is a stamp's date line, display.Time's form.
var stampDate = regexp.MustCompile(`Ngày ký: (\d\d:\d\d:\d\d \d\d/\d\d/\d{4}) \((GMT[^)]*)\)`)

// stampTime finds the signing time on a stamp in pdftotext's output, the
// lines of a wrapped date joined again, and returns it with its zone.
func stampTime(t *testing.T, out string) (time.Time, string) {
	t.Helper()
	m := stampDate.FindStringSubmatch(strings.Join(strings.Fields(out), " "))
	if m == nil {
		t.Fatalf("pdftotext finds no \"Ngày ký: hh:mm:ss dd/mm/yyyy (GMT…)\":\n%s", out)
	}
	off := 0
	if m[2] != "GMT" {
		h, err := strconv.Atoi(strings.TrimPrefix(m[2], "GMT"))
		if err != nil {
			t.Fatalf("zone %q: %v", m[2], err)
		}
		off = h * 3600
	}
	at, err := time.ParseInLocation("15:04:05 02/01/2006", m[1], time.FixedZone(m[2], off))
	if err != nil {
		t.Fatal(err)
	}
	return at, m[2]
}
