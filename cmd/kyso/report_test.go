package main

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestReportCampaign: two citizens enrolled through two channels in two
// wards show in the day's report, as text, JSON and CSV; a bad day or a
// period ending before it starts is a usage error.
func TestReportCampaign(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	for _, c := range [][]string{
		{"--cccd", "079203005551", "--channel", "desk", "--staff", "staff-1", "--ward", "Phường Bến Thành", "--evidence", "cccd-chip:079203005551"},
		{"--cccd", "079203005552", "--channel", "household", "--staff", "staff-2", "--ward", "Xã Bình Chánh"},
	} {
		args := append([]string{"enroll", "--data", dir, "--name", "Trần Văn Thử", "--province", "Hồ Chí Minh", "--pin", "135791"}, c...)
		if _, stderr, code := kyso(t, args...); code != 0 {
			t.Fatalf("enroll: %s", stderr)
		}
	}
	today := time.Now().In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	stdout, stderr, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--output", "csv")
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV %q: %v", stdout, err)
	}
	want := map[string]bool{"Hồ Chí Minh,Phường Bến Thành,desk,1,1,0,0,0": true, "Hồ Chí Minh,Xã Bình Chánh,household,1,1,0,0,0": true}
	for _, r := range rows[1:] {
		if !want[strings.Join(r, ",")] {
			t.Errorf("row %v", r)
		}
	}
	stdout, _, code = kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--ward", "Xã Bình Chánh")
	if code != 0 || !strings.Contains(stdout, "household") || strings.Contains(stdout, "Bến Thành") || !strings.Contains(stdout, "TOTAL") {
		t.Errorf("one ward, as text: %q", stdout)
	}
	if stdout, _, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--output", "json"); code != 0 || !strings.Contains(stdout, `"channel": "desk"`) {
		t.Errorf("JSON: %q", stdout)
	}
	// Against the adults of a population table: 2 active of 5 adults,
	// 40%: the 2025 target met, the 2030 one not.
	pop := filepath.Join(t.TempDir(), "adults.csv")
	if err := os.WriteFile(pop, []byte("province,adults,source\nHồ Chí Minh,5,test table\nHuế,10,test table\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--population", pop)
	if code != 0 || !strings.Contains(stdout, "40.00%") || !strings.Contains(stdout, "đạt (met)") || !strings.Contains(stdout, "chưa đạt (30.00% short)") ||
		!strings.Contains(stdout, "test table") {
		t.Errorf("against the population: exit %d %q %s", code, stdout, stderr)
	}
	os.WriteFile(pop, []byte("province,adults,source\nHồ Chí Minh,-5,x\n"), 0o600)
	if _, stderr, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--population", pop); code != 2 || !strings.Contains(stderr, "positive") {
		t.Errorf("a negative population: exit %d: %s", code, stderr)
	}
	for _, bad := range [][]string{{"--from", "2026-13-01", "--to", today}, {"--from", today}, {"--from", today, "--to", today, "--output", "xlsx"}} {
		if _, stderr, code := kyso(t, append([]string{"report", "campaign", "--data", dir}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d: %s", bad, code, stderr)
		}
	}
	if _, stderr, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", "2020-01-01"); code != 1 || !strings.Contains(stderr, "start before its end") {
		t.Errorf("a backwards period: exit %d: %s", code, stderr)
	}
}

// TestReportCampaignSealed: the report to the department as a PDF,
// sealed by the provider's organisation key at B-LTA with kyso's own
// signer, and judged by qpdf, pdfsig and pyHanko; the workbook and the
// charts are written to their files; a binary format without -o, or an
// unknown chart, is a usage error.
func TestReportCampaignSealed(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	ts := newTestPKI(t)
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }
	chain, root := ts.initCA(t, dir)
	ok("enroll", "--cccd", "046203009001", "--name", "Hoàng Thị Huế", "--province", "Huế", "--pin", "135791", "--channel", "event", "--staff", "staff-9", "--ward", "Phường Thuận Hóa")
	seal := filepath.Join(dir, "seal.pem")
	ok("cert", "issue", "--profile", "organisation", "--mst", "0101234567", "--name", "Công ty Chữ ký số Thử nghiệm", "--province", "Hà Nội",
		"--keygen", "ecdsa-p256", "--label", "org-seal", "-o", seal)
	ts.start(t, data)
	today := time.Now().In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	pop := filepath.Join(dir, "adults.csv")
	os.WriteFile(pop, []byte("province,adults,source\nHuế,4,test table\n"), 0o600)
	period := []string{"report", "campaign", "--from", today, "--to", today, "--population", pop}
	report := filepath.Join(dir, "report.pdf")
	ok(append(period, "--output", "pdf", "-o", report, "--provider", "Công ty Chữ ký số Thử nghiệm")...)
	sealed := filepath.Join(dir, "report-sealed.pdf")
	ok("sign", "pdf", report, "-o", sealed, "--key", "org-seal", "--cert", seal, "--chain", chain, "--level", "B-LTA", "--tsa", ts.URL+"/tsa",
		"--reason", "Báo cáo định kỳ gửi Sở", "--location", "Hà Nội")
	testenv.CheckQpdf(t, sealed)
	if out, errOut, _ := testenv.Run(exec.Command(pdfsig, "-no-ocsp", sealed)); !strings.Contains(out, "Signature is Valid.") ||
		!strings.Contains(out, "Công ty Chữ ký số Thử nghiệm") || !strings.Contains(out, "DocTimeStamp") {
		t.Errorf("pdfsig: %s %s", out, errOut)
	}
	at := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	r := testenv.RunPyHanko(t, "sign", "adesverify", "--pretty-print", "--validation-time", at, "--trust", root, "--trust-replace", sealed)
	if r.Err != nil || !strings.Contains(r.Report, "The signature is judged VALID.") || !strings.Contains(r.Log, "AdES time slide yields") {
		t.Errorf("pyhanko sign adesverify: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	text, _, err := testenv.Run(exec.Command(testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils"), "-enc", "UTF-8", sealed, "-"))
	if err != nil || !strings.Contains(text, "Phường Thuận Hóa") || !strings.Contains(text, "25.00%") {
		t.Errorf("the sealed report's text (1 active of 4 adults: 25%%): %v\n%s", err, text)
	}
	os.WriteFile(filepath.Join(testenv.Artifacts(t), "report-sealed.pdf"), mustRead(t, sealed), 0o600)
	for _, c := range []struct{ format, magic string }{{"xlsx", "PK\x03\x04"}, {"html", "<!DOCTYPE html>"}, {"svg", "<svg "}, {"png", "\x89PNG"}} {
		f := filepath.Join(dir, "report."+c.format)
		ok(append(period, "--output", c.format, "-o", f, "--chart", "area")...)
		if b := mustRead(t, f); !strings.HasPrefix(string(b), c.magic) {
			t.Errorf("%s: begins %q", c.format, b[:min(len(b), 8)])
		}
	}
	for _, bad := range [][]string{{"--output", "pdf"}, {"--output", "svg", "-o", filepath.Join(dir, "x.svg"), "--chart", "pie"}} {
		if _, stderr, code := kyso(t, append(period, bad...)...); code != 2 {
			t.Errorf("%v: exit %d: %s", bad, code, stderr)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
