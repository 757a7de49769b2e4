package pdf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// checkOutside asserts what software nobody here wrote says of the PDF at
// path: qpdf --check is clean, pdfinfo counts the pages, pdftotext finds
// the text, and pdfcpu validate (when installed) accepts it.
func checkOutside(t *testing.T, path string, pages int, text string) {
	t.Helper()
	qpdf := testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	out, err := exec.Command(qpdf, "--check", path).CombinedOutput()
	if err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "No syntax or stream encoding errors found") {
		t.Errorf("qpdf --check did not report a clean file:\n%s", out)
	}
	if strings.Contains(strings.ToLower(string(out)), "warning") {
		t.Errorf("qpdf --check warned:\n%s", out)
	}

	pdfinfo := testenv.LookPath(t, "pdfinfo", "apt-get install poppler-utils")
	out, err = exec.Command(pdfinfo, path).CombinedOutput()
	if err != nil {
		t.Errorf("pdfinfo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindSubmatch(out)
	if m == nil {
		t.Errorf("pdfinfo printed no page count:\n%s", out)
	} else if n, _ := strconv.Atoi(string(m[1])); n != pages {
		t.Errorf("pdfinfo: %d pages, want %d", n, pages)
	}
	if strings.Contains(string(out), "Syntax Error") {
		t.Errorf("pdfinfo reported syntax errors:\n%s", out)
	}

	if text != "" {
		pdftotext := testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
		out, err = exec.Command(pdftotext, path, "-").CombinedOutput()
		if err != nil {
			t.Errorf("pdftotext: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), text) {
			t.Errorf("pdftotext did not find %q in:\n%s", text, out)
		}
	}

	if cmd := pdfcpuCommand(t); cmd != nil {
		cmd.Args = append(cmd.Args, "validate", "-mode", "strict", path)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "validation ok") {
			t.Errorf("pdfcpu validate -mode strict: %v\n%s", err, out)
		}
	}
}

// pdfcpuVersion is the pdfcpu release used as an outside checker; it builds
// with Go 1.26.
const pdfcpuVersion = "v0.11.0"

// pdfcpuCommand returns a command running pdfcpu: from PATH, or from the
// module cache (go install with the cache as a file:// proxy), so tests
// never fetch anything. It reports pdfcpu Missing otherwise.
func pdfcpuCommand(t *testing.T) *exec.Cmd {
	t.Helper()
	if p, err := exec.LookPath("pdfcpu"); err == nil {
		return exec.Command(p)
	}
	bin := pdfcpuBinary(t)
	if bin == "" {
		testenv.Missing(t, "pdfcpu not found: go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@%s", pdfcpuVersion)
		return nil
	}
	return exec.Command(bin)
}

// pdfcpuBuilt caches the built checker; toolDir is made and removed by
// TestMain.
var (
	pdfcpuBuilt = map[string]string{}
	toolDir     string
)

func TestMain(m *testing.M) {
	var err error
	if toolDir, err = os.MkdirTemp("", "kyso-pdf-test-tools-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(toolDir)
	os.Exit(code)
}

// pdfcpuBinary builds pdfcpu from the module cache once per test binary.
func pdfcpuBinary(t *testing.T) string {
	if bin, ok := pdfcpuBuilt[pdfcpuVersion]; ok {
		return bin
	}
	dir := toolDir
	bin := filepath.Join(dir, "pdfcpu")
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Logf("go env GOMODCACHE: %v", err)
		pdfcpuBuilt[pdfcpuVersion] = ""
		return ""
	}
	// The module cache serves as an offline proxy; its contents were
	// checked against go.sum's database when they were downloaded.
	proxy := "file://" + filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")
	cmd := exec.Command("go", "install", "github.com/pdfcpu/pdfcpu/cmd/pdfcpu@"+pdfcpuVersion)
	cmd.Env = append(os.Environ(), "GOPROXY="+proxy, "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("building pdfcpu from the module cache: %v\n%s", err, out)
		bin = ""
	}
	pdfcpuBuilt[pdfcpuVersion] = bin
	return bin
}
