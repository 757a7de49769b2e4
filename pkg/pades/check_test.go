package pades

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// pdfsigSig is what pdfsig says of one signature.
type pdfsigSig struct {
	text string
}

func (s pdfsigSig) has(v string) bool { return strings.Contains(s.text, v) }

// runPdfsig runs pdfsig with an NSS database trusting the test root, with
// no online OCSP check (the test CA's responder is not served), and
// splits its report per signature.
func runPdfsig(t *testing.T, f *fixture, path string) []pdfsigSig {
	t.Helper()
	bin := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	out, err := exec.Command(bin, "-no-ocsp", "-nssdir", f.nssDB(t), path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	parts := regexp.MustCompile(`(?m)^Signature #\d+:`).Split(string(out), -1)
	var sigs []pdfsigSig
	for _, p := range parts[1:] {
		sigs = append(sigs, pdfsigSig{text: p})
	}
	if len(sigs) == 0 {
		t.Fatalf("pdfsig found no signature:\n%s", out)
	}
	return sigs
}

// assertPdfsig asserts every signature is valid, trusted, of type
// ETSI.CAdES.detached, and that only the last covers the whole document.
func assertPdfsig(t *testing.T, f *fixture, path string, want int) {
	t.Helper()
	sigs := runPdfsig(t, f, path)
	if len(sigs) != want {
		t.Fatalf("pdfsig found %d signatures, want %d", len(sigs), want)
	}
	for i, s := range sigs {
		want := []string{"Signature Validation: Signature is Valid.", "Signature Type: ETSI.CAdES.detached"}
		// pdfsig 22.12 answers "Unknown issue with Certificate" for the
		// pyHanko-signed foreign certificate although certutil -V finds it
		// valid in the same database; only kyso's signer chains are held
		// to "Trusted" (pyHanko checks the foreign one's trust).
		if !s.has("Common Name: Foreign Signer") {
			want = append(want, "Certificate Validation: Certificate is Trusted.")
		}
		for _, v := range want {
			if !s.has(v) {
				t.Errorf("pdfsig signature #%d lacks %q:\n%s", i+1, v, s.text)
			}
		}
		total := s.has("Total document signed")
		if last := i == len(sigs)-1; total != last {
			t.Errorf("pdfsig signature #%d: total document signed = %v, want %v:\n%s", i+1, total, last, s.text)
		}
	}
}

func assertQpdf(t *testing.T, path string) {
	t.Helper()
	qpdf := testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	out, err := exec.Command(qpdf, "--check", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors found") ||
		strings.Contains(strings.ToLower(string(out)), "warning") {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
}

func pdfcpuPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pdfcpu"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "kyso", "bin", "pdfcpu")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testenv.Missing(t, "pdfcpu not found: scripts/test.sh installs it")
	return ""
}

func assertPdfcpu(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command(pdfcpuPath(t), "validate", "-mode", "strict", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "validation ok") {
		t.Errorf("pdfcpu validate -mode strict: %v\n%s", err, out)
	}
}

func pyhankoPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KYSO_PYHANKO"); p != "" {
		return p
	}
	if p, err := exec.LookPath("pyhanko"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "kyso", "venv", "bin", "pyhanko")
		if _, err := os.Stat(p); err == nil && !testenv.InCI() {
			return p
		}
	}
	testenv.Missing(t, "pyhanko not found: set KYSO_PYHANKO (scripts/test.sh does)")
	return ""
}

// runPyhanko validates every signature with the test root as the only
// trust anchor (and the foreign signer's root), revocation checking off (the test CA's OCSP URL is not
// served), and returns the report.
func runPyhanko(t *testing.T, f *fixture, path string) string {
	t.Helper()
	cmd := exec.Command(pyhankoPath(t), "sign", "validate", "--pretty-print", "--no-revocation-check",
		"--trust", filepath.Join(f.dir, "root.pem"), "--trust", filepath.Join(f.dir, "foreign-root.pem"), "--trust-replace", path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("pyhanko sign validate: %v\n%s", err, out)
	}
	return string(out)
}
