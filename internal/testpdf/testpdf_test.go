package testpdf_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
)

// TestCheckers has qpdf find each document free of errors and pdftotext
// and pdfinfo read back its text and pages.
func TestCheckers(t *testing.T) {
	pdftotext := testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	pdfinfo := testenv.LookPath(t, "pdfinfo", "apt-get install poppler-utils")
	for _, c := range []struct {
		name string
		doc  []byte
		text []string
	}{
		{"minimal-blank", testpdf.Minimal(""), nil},
		{"minimal-text", testpdf.Minimal(`To khai (ban 2) a\b`), []string{`To khai (ban 2) a\b`}},
		{"form", testpdf.Form(), []string{"DON DE NGHI CAP BAN SAO", "Ho va ten: Nguyen Van Duc"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "doc.pdf")
			if err := os.WriteFile(path, c.doc, 0o600); err != nil {
				t.Fatal(err)
			}
			// qpdf --check exits 0 only with no errors and no warnings
			// (3 is warnings): a broken xref offset would be a warning.
			testenv.CheckQpdf(t, path)
			out, errOut, err := testenv.Run(exec.Command(pdfinfo, path))
			if err != nil {
				t.Fatalf("pdfinfo: %v\n%s\nstderr: %s", err, out, errOut)
			}
			info := map[string]string{}
			for _, l := range strings.Split(out, "\n") {
				if k, v, ok := strings.Cut(l, ":"); ok {
					info[k] = strings.TrimSpace(v)
				}
			}
			form := "none"
			if c.name == "form" {
				form = "AcroForm"
			}
			if info["Pages"] != "1" || info["Page size"] != "595 x 842 pts (A4)" || info["Form"] != form {
				t.Errorf("pdfinfo: want 1 A4 page and form %s:\n%s", form, out)
			}
			out, errOut, err = testenv.Run(exec.Command(pdftotext, "-layout", path, "-"))
			if err != nil {
				t.Fatalf("pdftotext: %v\n%s\nstderr: %s", err, out, errOut)
			}
			for _, s := range c.text {
				if !strings.Contains(out, s) {
					t.Errorf("pdftotext lacks %q:\n%s", s, out)
				}
			}
			if len(c.text) == 0 && strings.TrimSpace(out) != "" {
				t.Errorf("pdftotext finds text on a blank page:\n%s", out)
			}
		})
	}
}

func TestMinimalRejectsNonASCII(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "not printable ASCII") {
			t.Fatalf("Minimal(\"Tờ khai\") panicked with %v, want a word on ASCII", r)
		}
	}()
	testpdf.Minimal("Tờ khai")
}
