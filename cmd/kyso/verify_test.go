package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// TestVerifyPDF signs a form with the CLI against a provider whose PKI
// (OCSP, CRL, TSA) is served over HTTP at the URLs in its certificates, and
// verifies it as a recipient would: trusting the data directory's root,
// online and offline, intact and tampered.
func TestVerifyPDF(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	var pki atomic.Pointer[server.PKI]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := pki.Load(); p != nil {
			p.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]string{"base_url": ts.URL})
	if err := os.WriteFile(filepath.Join(data, datadir.ConfigFile), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }
	ok("ca", "init")
	chain := filepath.Join(dir, "chain.pem")
	os.WriteFile(chain, []byte(ok("ca", "chain")), 0o644)
	cert := filepath.Join(dir, "citizen.pem")
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-1", "-o", cert)

	d, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := d.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	p, err := server.NewPKI(context.Background(), opened.CA, opened.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	pki.Store(p)

	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai dang ky"), 0o644)
	signed := filepath.Join(dir, "signed.pdf")
	ok("sign", "pdf", in, "-o", signed, "--key", "citizen-1", "--cert", cert, "--chain", chain, "--level", "B-T", "--tsa", ts.URL+"/tsa")

	out := ok("verify", signed)
	for _, want := range []string{"signed.pdf: Tài liệu hợp lệ", "Kết quả: Chữ ký hợp lệ", "TOTAL-PASSED", "Người ký: Nguyễn Văn Đức\n", "Số định danh: CCCD 079203001234\n",
		"Tổ chức cung cấp dịch vụ chứng thực chữ ký số: ", "PAdES-BASELINE-T", "toàn bộ tài liệu"} {
		if !strings.Contains(out, want) {
			t.Errorf("kyso verify lacks %q:\n%s", want, out)
		}
	}
	out = ok("verify", signed, "--lang", "en")
	for _, want := range []string{"signed.pdf: The document is valid", "TOTAL-PASSED", "Signer: Nguyễn Văn Đức\n", "Identifier: CCCD 079203001234\n", "PAdES-BASELINE-T", "the whole document"} {
		if !strings.Contains(out, want) {
			t.Errorf("kyso verify --lang en lacks %q:\n%s", want, out)
		}
	}
	// Times in Vietnam's time by default, in either language, and in the
	// zone --tz names otherwise; the zone's offset is always shown.
	for _, c := range []struct {
		args    []string
		want    string
		wantNot string
	}{
		{[]string{"verify", signed}, " (GMT+7)", " (GMT-"},
		{[]string{"verify", signed, "--lang", "en"}, " (GMT+7)", " UTC"},
		{[]string{"verify", signed, "--tz", "America/New_York"}, " (GMT-", " (GMT+7)"},
		{[]string{"verify", signed, "--lang", "en", "--tz", "UTC"}, " (GMT)", " (GMT+7)"},
	} {
		if out := ok(c.args...); !strings.Contains(out, c.want) || strings.Contains(out, c.wantNot) {
			t.Errorf("kyso %s: want times with %q, none with %q:\n%s", strings.Join(c.args[2:], " "), c.want, c.wantNot, out)
		}
	}
	html := ok("verify", signed, "--output", "html")
	if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, `<html lang="vi">`) || !strings.Contains(html, "Chữ ký hợp lệ") {
		t.Errorf("kyso verify --output html:\n%s", html)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(ok("verify", signed, "--output", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || len(rep.Signatures) != 1 || rep.Signatures[0].Signer.CCCD != "079203001234" {
		t.Errorf("JSON report: %+v", rep)
	}

	// B-LT and B-LTA carry their validation data: valid offline too.
	for _, lvl := range []struct{ flag, want string }{{"B-LT", "PAdES-BASELINE-LT"}, {"B-LTA", "PAdES-BASELINE-LTA"}} {
		ltv := filepath.Join(dir, lvl.flag+".pdf")
		ok("sign", "pdf", in, "-o", ltv, "--key", "citizen-1", "--cert", cert, "--chain", chain, "--level", lvl.flag, "--tsa", ts.URL+"/tsa")
		out := ok("verify", "--offline", ltv, "--lang", "en")
		if !strings.Contains(out, "The document is valid") || !strings.Contains(out, lvl.want+"\n") {
			t.Errorf("kyso verify --offline on %s:\n%s", lvl.flag, out)
		}
	}

	out, errOut, code := kyso(t, "verify", "--offline", signed, "--lang", "en")
	if code != 1 || !strings.Contains(out, "INDETERMINATE / TRY_LATER") || !strings.Contains(errOut, "1 of 1 signatures did not pass") {
		t.Errorf("offline: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = kyso(t, "verify", "--offline", signed)
	if code != 1 || !strings.Contains(out, "Cảnh báo: không kiểm tra được trạng thái thu hồi của chứng thư số") || !strings.Contains(errOut, "1/1 chữ ký không hợp lệ") {
		t.Errorf("offline, in Vietnamese: exit %d\n%s%s", code, out, errOut)
	}
	doc, _ := os.ReadFile(signed)
	i := strings.Index(string(doc), "To khai")
	doc[i] = 'X'
	tampered := filepath.Join(dir, "tampered.pdf")
	os.WriteFile(tampered, doc, 0o644)
	out, _, code = kyso(t, "verify", tampered, "--trust", chain)
	if code != 1 || !strings.Contains(out, "TOTAL-FAILED / HASH_FAILURE") || !strings.Contains(out, "Tài liệu không hợp lệ") || !strings.Contains(out, "Chữ ký không hợp lệ") {
		t.Errorf("tampered: exit %d\n%s", code, out)
	}

	// A trust folder holding, besides the anchor, a certificate with a
	// negative serial number (read) and one with a Brainpool key (which
	// crypto/x509 cannot read): the run goes on, saying what it skipped.
	folder := filepath.Join(dir, "trust-folder")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	anchor, _ := os.ReadFile(chain)
	os.WriteFile(filepath.Join(folder, "anchor.pem"), anchor, 0o600)
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	for _, c := range []struct{ name, curve, serial string }{{"negative", "P-256", "-4660"}, {"brainpool", "brainpoolP256r1", "4661"}} {
		key := filepath.Join(folder, c.name+".key")
		for _, args := range [][]string{
			{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + c.curve, "-out", key},
			{"req", "-x509", "-new", "-key", key, "-subj", "/CN=" + c.name, "-set_serial", c.serial, "-days", "30", "-out", filepath.Join(folder, c.name+".pem")},
		} {
			if out, errOut, err := testenv.Run(exec.Command(openssl, args...)); err != nil {
				t.Fatalf("openssl %v: %v\n%s%s", args, err, out, errOut)
			}
		}
	}
	out, errOut, code = kyso(t, "verify", signed, "--trust", folder, "--lang", "en")
	if code != 0 || !strings.Contains(out, "The document is valid") || !strings.Contains(errOut, "brainpool.pem: skipping certificate 1, which kyso cannot read (unsupported)") ||
		strings.Contains(errOut, "negative.pem") {
		t.Errorf("a trust folder with certificates crypto/x509 refuses: exit %d\n%s%s", code, out, errOut)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify", in}, 1, "no signatures"},
		{[]string{"verify", filepath.Join(dir, "missing.pdf")}, 1, "no such file"},
		{[]string{"verify", signed, "--trust", filepath.Join(dir, "nowhere.pem")}, 2, "--trust"},
		{[]string{"verify", signed, "--trust", in}, 2, "no certificate"},
		{[]string{"verify", signed, "--data", filepath.Join(dir, "empty")}, 2, "no --trust given"},
		{[]string{"verify"}, 2, "FILE.pdf"},
		{[]string{"verify", signed, "--lang", "fr"}, 2, "--lang"},
		{[]string{"verify", signed, "--tz", "Mars/Olympus_Mons"}, 2, "--tz"},
		{[]string{"verify", signed, "--output", "pdf"}, 2, "--output"},
	} {
		if _, errOut, code := kyso(t, c.args...); code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
