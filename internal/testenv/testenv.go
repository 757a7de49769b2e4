// Package testenv finds and starts the real outside parts kyso's tests use —
// SoftHSM, a Vault-API server, checkers — and decides what a missing one
// means: a failure under CI=true, a skip with the reason on a laptop.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where nothing may be
// skipped for want of a dependency.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing reports a dependency that is not there: t.Fatal under CI, t.Skip
// otherwise. The message says what to install.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("missing dependency (CI=true forbids skipping): %s", msg)
	}
	t.Skipf("missing dependency: %s (run the README's test command to install it)", msg)
}

// LookPath finds a command, or reports it Missing.
func LookPath(t testing.TB, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found in PATH: %s", name, hint)
	}
	return p
}
