package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The outside checkers scripts/test.sh installs, pinned (tools/python's
// hashed lock, tools/gotools' go.sum, tools/dss-validate's
// dependencies.lock), each exported in an environment variable. Tests run
// these, by path, never whatever else PATH offers: another pyHanko or
// pdfcpu may answer differently.

// cacheDir is where scripts/test.sh installs the checkers: $KYSO_CACHE,
// else $XDG_CACHE_HOME/kyso, else ~/.cache/kyso, as the script computes it.
func cacheDir() (string, error) {
	if d := os.Getenv("KYSO_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "kyso"), nil
}

// installed returns the checker named by the environment variable env,
// which scripts/test.sh exports; outside CI, when env is unset, the one
// the script installs at rel (a glob) under its cache. A missing one is
// Missing: a failure under CI=true.
func installed(t testing.TB, env, rel, what string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			Missing(t, "%s=%s: %v (scripts/test.sh installs %s and exports %s)", env, p, err, what, env)
		}
		return p
	}
	if dir, err := cacheDir(); err == nil && !InCI() {
		if m, _ := filepath.Glob(filepath.Join(dir, rel)); len(m) > 0 {
			return m[0]
		}
	}
	Missing(t, "%s not found: set %s (scripts/test.sh installs it under $KYSO_CACHE/%s and exports %s)", what, env, rel, env)
	return ""
}

// Schemathesis returns the schemathesis command: $KYSO_SCHEMATHESIS, else
// (outside CI) the one in the venv under the cache.
func Schemathesis(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_SCHEMATHESIS", "venv/bin/schemathesis", "schemathesis")
}

// PDFCPU returns the pdfcpu command: $KYSO_PDFCPU, else (outside CI) the
// one scripts/test.sh builds from tools/gotools into the cache.
func PDFCPU(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_PDFCPU", "bin/pdfcpu", "pdfcpu")
}

// Jaeger returns the Jaeger v2 all-in-one command (an OTLP receiver with
// a query API, the tracing tests' real receiver): $KYSO_JAEGER, else
// (outside CI) the one scripts/test.sh builds from tools/jaeger into the
// cache.
func Jaeger(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_JAEGER", "bin/jaeger", "Jaeger")
}

// Command returns a command running the checker at path with args in
// CheckerEnv's environment.
func Command(t testing.TB, path string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = CheckerEnv(t)
	return cmd
}

// CheckerEnv is this process's environment with HOME and the XDG
// directories in a fresh directory of t's, so that whatever configuration
// or cache a checker keeps lives and dies with the test.
func CheckerEnv(t testing.TB) []string {
	t.Helper()
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"))
}

// Run runs cmd and returns what it wrote to stdout and to stderr, apart.
// A checker's verdict is read from stdout (or its report); stderr, where
// libraries print their deprecation warnings, belongs in failure messages.
func Run(cmd *exec.Cmd) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// CheckQpdf asserts qpdf --check finds the PDF at path clean: exit status
// 0 (qpdf exits 3 on warnings, 2 on errors) and its "no errors" line on
// stdout, with no warning there.
func CheckQpdf(t testing.TB, path string) {
	t.Helper()
	qpdf := LookPath(t, "qpdf", "apt-get install qpdf")
	out, errOut, err := Run(exec.Command(qpdf, "--check", path))
	if err != nil || !strings.Contains(out, "No syntax or stream encoding errors found") ||
		strings.Contains(strings.ToLower(out), "warning") {
		t.Errorf("qpdf --check %s: %v\n%s\nstderr: %s", path, err, out, errOut)
	}
}

// Qpdf runs qpdf ARGS… IN OUT on the PDF in and returns what qpdf wrote;
// it fails t if qpdf fails.
func Qpdf(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	qpdf := LookPath(t, "qpdf", "apt-get install qpdf")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qpdf, append(args, src, dst)...).CombinedOutput(); err != nil {
		t.Fatalf("qpdf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CheckPDFCPU asserts pdfcpu validate -mode strict accepts the PDF at
// path. pdfcpu runs with its configuration directory disabled, so it
// neither reads nor writes one.
func CheckPDFCPU(t testing.TB, path string) {
	t.Helper()
	cmd := Command(t, PDFCPU(t), "validate", "-c", "disable", "-mode", "strict", path)
	out, errOut, err := Run(cmd)
	if err != nil || !strings.Contains(out, "validation ok") {
		t.Errorf("pdfcpu validate -mode strict %s: %v\n%s\nstderr: %s", path, err, out, errOut)
	}
}
