package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PyHanko returns the pyhanko command scripts/test.sh installs: $KYSO_PYHANKO,
// else pyhanko in PATH, else (outside CI) the venv under ~/.cache/kyso. A
// missing one is Missing: a failure under CI=true.
func PyHanko(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KYSO_PYHANKO"); p != "" {
		return p
	}
	if p, err := exec.LookPath("pyhanko"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "kyso", "venv", "bin", "pyhanko")
		if _, err := os.Stat(p); err == nil && !InCI() {
			return p
		}
	}
	Missing(t, "pyhanko not found: set KYSO_PYHANKO (scripts/test.sh installs it in a venv)")
	return ""
}
