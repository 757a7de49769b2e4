package pades

import (
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
	out, errOut, err := testenv.Run(exec.Command(bin, "-no-ocsp", "-nssdir", f.nssDB(t), path))
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s\nstderr: %s", err, out, errOut)
	}
	parts := regexp.MustCompile(`(?m)^Signature #\d+:`).Split(out, -1)
	var sigs []pdfsigSig
	for _, p := range parts[1:] {
		sigs = append(sigs, pdfsigSig{text: p})
	}
	if len(sigs) == 0 {
		t.Fatalf("pdfsig found no signature:\n%s\nstderr: %s", out, errOut)
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
	testenv.CheckQpdf(t, path)
}

func assertPdfcpu(t *testing.T, path string) {
	t.Helper()
	testenv.CheckPDFCPU(t, path)
}

// runPyhanko validates every signature with the test root as the only
// trust anchor (and the foreign signer's root), revocation checking off (the test CA's OCSP URL is not
// served), and returns the report.
func runPyhanko(t *testing.T, f *fixture, path string) string {
	t.Helper()
	r := testenv.RunPyHanko(t, "sign", "validate", "--pretty-print", "--no-revocation-check",
		"--trust", filepath.Join(f.dir, "root.pem"), "--trust", filepath.Join(f.dir, "foreign-root.pem"), "--trust-replace", path)
	if r.Err != nil {
		t.Errorf("pyhanko sign validate: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	return r.Report
}
