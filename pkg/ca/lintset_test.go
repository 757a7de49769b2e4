package ca

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
)

var updateLints = flag.Bool("update-lints", false, "rewrite testdata/citizen-lints.golden from this run")

// TestLintSet pins the lints issuance runs on a citizen certificate and
// which of them apply (testdata/citizen-lints.golden: name and status,
// pass for those that apply, NA or NE for the others): a change that
// makes issuance cheaper must not make it lint less. Each certificate
// lint of the registry runs as lintCertificate runs it, on the citizen
// certificate issued; a lint added, dropped or no longer applying fails
// here and must be judged (go test -run TestLintSet -update-lints).
func TestLintSet(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	cert, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	zc, err := zx509.ParseCertificate(cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	applies := 0
	conf := f.a.reg.GetConfiguration()
	for _, l := range f.a.reg.CertificateLints().Lints() {
		r := l.Execute(zc, conf)
		if r.Status == lint.Pass {
			applies++
		}
		lines = append(lines, l.Name+" "+r.Status.String())
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "citizen-lints.golden")
	if *updateLints {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the lints run on a citizen certificate changed (%d lines, %d apply); got:\n%s\nwant:\n%s", len(lines), applies, got, want)
	}
	if applies < 50 {
		t.Errorf("only %d lints apply to a citizen certificate", applies)
	}
}
