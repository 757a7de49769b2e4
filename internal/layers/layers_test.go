// Package layers holds one test: that kyso's imports flow one way, as
// docs/DESIGN.md draws them. It has no code of its own.
package layers

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

const module = "github.com/kyso-pki/kyso/"

// rank orders the library's packages: a package imports only packages of
// a lower rank, or those of its own family (a package and the packages
// below its directory: pkg/verify/report imports pkg/verify). Commands
// (cmd/), examples and test helpers sit above everything and are not
// listed. A new package gets its rank here, with its line in DESIGN.md.
var rank = map[string]int{
	// Leaves: interfaces, encodings and the PDF reader.
	"hsm": 0, "pkg/store": 0, "pkg/algid": 0, "pkg/metrics": 0, "pkg/display": 0, "pkg/clientaddr": 0, "pkg/pdf": 0, "pkg/render": 0, "testvectors": 0,
	"internal/tlsmin": 0, "internal/version": 0, "internal/crashpoint": 0, "internal/tracing": 0, "pkg/ocsp/ocspbench": 0,
	// Formats, key stores, stores and their checks.
	"pkg/cms": 1, "pkg/stamp": 1, "pkg/revocation": 1, "pkg/tsa": 1, "pkg/ocsp": 1, "pkg/trust": 1,
	"hsm/softkey": 1, "hsm/pkcs11": 1, "hsm/vault": 1, "hsm/keystore": 2,
	"pkg/store/sqlite": 1, "pkg/store/postgres": 1, "pkg/store/storeopen": 2, "pkg/audit": 1, "pkg/staff": 1, "pkg/campaignreg": 1,
	// What the signing core uses.
	"pkg/signercheck": 2, "pkg/verify": 2, "pkg/ca": 2,
	"pkg/pades": 3, "pkg/verify/report": 3,
	// The core.
	"pkg/signing": 4,
	// The HTTP edge and the API dialects.
	"pkg/httpedge": 5, "pkg/server": 5, "pkg/campaign": 5,
	"pkg/csc": 6, "pkg/smartca": 6, "pkg/owner": 6, "pkg/admin": 6, "pkg/verifyapi": 6, "pkg/app": 6,
}

// helper reports whether a package is a command, an example, a test
// helper or a bench: above the library, free to import any of it.
func helper(p string) bool {
	if _, ranked := rank[p]; ranked {
		return false
	}
	last := p[strings.LastIndex(p, "/")+1:]
	return strings.HasPrefix(p, "cmd/") || p == "examples" || strings.HasPrefix(p, "examples/") || strings.HasPrefix(p, "internal/") ||
		strings.HasSuffix(last, "test") || strings.HasSuffix(last, "bench")
}

// family reports whether a and b are one package and one below its
// directory, or two below one directory's internal/.
func family(a, b string) bool {
	return strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") ||
		strings.Contains(b, "/internal/") && strings.HasPrefix(a, b[:strings.Index(b, "/internal/")])
}

// TestImportsFlowOneWay: every library package imports only lower ranks or
// its family, and internal/ imports only leaves.
func TestImportsFlowOneWay(t *testing.T) {
	testenv.LookPath(t, "go", "install Go 1.26")
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "../../...")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list: %v\n%s", err, ee.Stderr)
	} else if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(name, "internal/") {
			// internal/ holds leaves only: what it imports of kyso's is
			// another of internal/ or a leaf of the library.
			for _, imp := range p.Imports {
				dep, ok := strings.CutPrefix(imp, module)
				if r, ranked := rank[dep]; ok && !strings.HasPrefix(dep, "internal/") && (!ranked || r > 0) {
					t.Errorf("%s imports %s: internal/ holds leaves only (docs/DESIGN.md)", name, dep)
				}
			}
		}
		if helper(name) {
			continue
		}
		r, ok := rank[name]
		if i := strings.Index(name, "/internal/"); !ok && i > 0 {
			// Private to its family: ranked as the package above it.
			r, ok = rank[name[:i]]
		}
		if !ok {
			t.Errorf("%s has no rank in internal/layers (and, likely, no line in docs/DESIGN.md)", name)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok || family(name, dep) {
				continue
			}
			if dr, ranked := rank[dep]; !ranked || dr >= r {
				t.Errorf("%s (rank %d) imports %s (rank %d, ranked %v): imports flow one way, down (docs/DESIGN.md)", name, r, dep, dr, ranked)
			}
		}
	}
	if seen < len(rank)/2 {
		t.Errorf("only %d of %d ranked packages listed", seen, len(rank))
	}
}
