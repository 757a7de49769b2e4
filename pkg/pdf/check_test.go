package pdf

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// checkOutside asserts what software nobody here wrote says of the PDF at
// path: qpdf --check is clean, pdfinfo counts the pages, pdftotext finds
// the text, and pdfcpu validate -mode strict accepts it.
func checkOutside(t *testing.T, path string, pages int, text string) {
	t.Helper()
	testenv.CheckQpdf(t, path)

	pdfinfo := testenv.LookPath(t, "pdfinfo", "apt-get install poppler-utils")
	out, errOut, err := testenv.Run(exec.Command(pdfinfo, path))
	if err != nil {
		t.Errorf("pdfinfo: %v\n%s\nstderr: %s", err, out, errOut)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Errorf("pdfinfo printed no page count:\n%s\nstderr: %s", out, errOut)
	} else if n, _ := strconv.Atoi(m[1]); n != pages {
		t.Errorf("pdfinfo: %d pages, want %d", n, pages)
	}
	// Poppler reports what it could not parse on stderr alone: there, a
	// "Syntax Error" is the verdict.
	if strings.Contains(errOut, "Syntax Error") {
		t.Errorf("pdfinfo reported syntax errors:\n%s", errOut)
	}

	if text != "" {
		pdftotext := testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
		out, errOut, err := testenv.Run(exec.Command(pdftotext, path, "-"))
		if err != nil {
			t.Errorf("pdftotext: %v\n%s\nstderr: %s", err, out, errOut)
		}
		if !strings.Contains(out, text) {
			t.Errorf("pdftotext did not find %q in:\n%s\nstderr: %s", text, out, errOut)
		}
	}

	testenv.CheckPDFCPU(t, path)
}
