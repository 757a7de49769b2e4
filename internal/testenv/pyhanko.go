package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// PyHanko returns the pyhanko command: $KYSO_PYHANKO, else (outside CI)
// the one in the venv under the cache scripts/test.sh uses.
func PyHanko(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_PYHANKO", "venv/bin/pyhanko", "pyHanko")
}

// PyHankoPython returns the Python interpreter of pyHanko's virtualenv,
// next to PyHanko, for scripts that use pyHanko as a library.
func PyHankoPython(t testing.TB) string {
	t.Helper()
	py := filepath.Join(filepath.Dir(PyHanko(t)), "python")
	if _, err := os.Stat(py); err != nil {
		Missing(t, "no Python interpreter next to pyHanko: %v (scripts/test.sh installs both in a venv)", err)
	}
	return py
}

// PyHankoRun is what one run of pyHanko's command line said, stream by
// stream.
type PyHankoRun struct {
	// Report is stdout: the validation report.
	Report string
	// Log is pyHanko's log, INFO and up, from the file its configuration
	// sends it to; some findings (e.g. "AdES time slide yields ...", how
	// it found proof of existence) are told there alone.
	Log string
	// Stderr is what else was written: Python's warnings, and the line by
	// which click ends a failed command ("Error: Validation failed").
	Stderr string
	Err    error
}

// RunPyHanko runs PyHanko with args after a --config whose only setting
// sends pyHanko's log to a file of t's (without one, the CLI logs to
// stderr, among Python's warnings, and reads a pyhanko.yml in the working
// directory if there is one).
func RunPyHanko(t testing.TB, args ...string) PyHankoRun {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "pyhanko.log")
	conf := filepath.Join(dir, "pyhanko.yml")
	// A JSON string is a YAML double-quoted scalar.
	yml := "logging:\n  root-level: INFO\n  root-output: " + strconv.Quote(logPath) + "\n"
	if err := os.WriteFile(conf, []byte(yml), 0o600); err != nil {
		t.Fatalf("testenv: writing pyHanko's configuration: %v", err)
	}
	var r PyHankoRun
	r.Report, r.Stderr, r.Err = Run(Command(t, PyHanko(t), append([]string{"--config", conf}, args...)...))
	log, _ := os.ReadFile(logPath)
	r.Log = string(log)
	return r
}
