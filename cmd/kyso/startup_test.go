package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/zmap/zlint/v3/lint"
)

// Every package linked into kyso is initialised at every start, whatever
// the verb: these tests pin down what the binary links, since Go has no
// lazy package initialisation.

// TestLinksOnlyKysosLintSources: each zlint lint package registers its
// lints from init, so the binary links only the sources pkg/ca lints with
// (ca.lintSources), not zlint/v3 and its ten packages.
func TestLinksOnlyKysosLintSources(t *testing.T) {
	want := map[lint.LintSource]bool{
		lint.RFC5280: true, lint.RFC5480: true, lint.RFC8813: true, lint.RFC3279: true,
		lint.RFC5891: true, lint.RFC6960: true, lint.RFC6962: true, lint.EtsiEsi: true, lint.Community: true,
	}
	for _, s := range lint.GlobalRegistry().Sources() {
		if !want[s] {
			t.Errorf("kyso registers zlint lints of source %s, which pkg/ca never runs", s)
		}
	}
}

// TestClientPackagesAreLeaves: the packages behind kyso verify, sign pdf
// and extend link no store driver, CA, zlint or Vault client, so a program
// made of them alone starts as fast as they allow.
func TestClientPackagesAreLeaves(t *testing.T) {
	testenv.LookPath(t, "go", "install Go 1.26")
	pkgs := []string{"../../pkg/verify", "../../pkg/verify/report", "../../pkg/pades", "../../pkg/revocation", "../../pkg/tsa"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"github.com/zmap/", "github.com/jackc/pgx", "modernc.org/", "github.com/hashicorp/", "github.com/kyso-pki/kyso/pkg/ca", "github.com/kyso-pki/kyso/pkg/store"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("%v link %s", pkgs, dep)
			}
		}
	}
}
