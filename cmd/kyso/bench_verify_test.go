package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/bench/verifybench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestBenchVerify runs `kyso bench verify` once per row, as an operator
// would, and checks that every row of both documents ran, that each
// validator found every signature valid, and that the ratios are there;
// the times themselves are not asserted (speed is reported, not tested).
func TestBenchVerify(t *testing.T) {
	bin, _ := binaries(t)
	testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	testenv.LookPath(t, "certutil", "apt-get install libnss3-tools")
	pyhanko := testenv.PyHanko(t)
	out, errOut, code := runBin(t, bin, []string{"KYSO_PYHANKO=" + pyhanko}, "bench", "verify", "--runs", "1", "--output", "json")
	if code != 0 {
		t.Fatalf("bench verify: exit %d\n%s\n%s", code, out, errOut)
	}
	var rep verifybench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench verify --output json: %v\n%s", err, out)
	}
	if rep.CPUs < 1 || rep.Runs != 1 {
		t.Errorf("report header: %d CPU, %d runs", rep.CPUs, rep.Runs)
	}
	rows := map[string]verifybench.Result{}
	for _, r := range rep.Rows {
		key := r.Doc + "/" + r.Name
		if _, dup := rows[key]; dup {
			t.Errorf("row %s twice", key)
		}
		rows[key] = r
	}
	ratios := map[string][]string{
		verifybench.RowKysoCLI: {verifybench.RowKyso},
		verifybench.RowPdfsig:  {verifybench.RowKyso, verifybench.RowKysoCLI},
		verifybench.RowPyhanko: {verifybench.RowKyso, verifybench.RowKysoCLI},
	}
	for _, doc := range []struct {
		name string
		sigs int
	}{{"1sig", 1}, {"5sig", 5}} {
		for _, name := range verifybench.Rows {
			r, ok := rows[doc.name+"/"+name]
			if !ok {
				t.Errorf("no row %s/%s", doc.name, name)
				continue
			}
			if r.Err != "" || r.Runs != 1 || r.Best <= 0 || r.Signatures != doc.sigs || r.FileBytes <= 0 {
				t.Errorf("row %s/%s did not measure: %+v", doc.name, name, r)
			}
			if (name != verifybench.RowKyso) != r.Child {
				t.Errorf("row %s/%s: child %v", doc.name, name, r.Child)
			}
			if !strings.HasPrefix(r.Verdict, fmt.Sprintf("%d× ", doc.sigs)) {
				t.Errorf("row %s/%s: verdict %q, want all %d signatures valid", doc.name, name, r.Verdict, doc.sigs)
			}
			for _, to := range ratios[name] {
				if r.Ratios[to] <= 0 {
					t.Errorf("row %s/%s has no ratio to %s: %v", doc.name, name, to, r.Ratios)
				}
			}
		}
	}
	if len(rows) != 2*len(verifybench.Rows) {
		t.Errorf("%d rows, want %d:\n%s", len(rows), 2*len(verifybench.Rows), out)
	}

	// The text form names each document and row.
	text, errOut, code := runBin(t, bin, []string{"KYSO_PYHANKO=" + pyhanko}, "bench", "verify", "--runs", "1")
	if code != 0 {
		t.Fatalf("bench verify: exit %d\n%s\n%s", code, text, errOut)
	}
	for _, want := range []string{"1sig: 1 signature(s), B-LT", "5sig: 5 signature(s), B-LT", "kyso-cli", "pdfsig", "pyhanko", "× kyso-cli"} {
		if !strings.Contains(text, want) {
			t.Errorf("bench verify prints no %q:\n%s", want, text)
		}
	}

	if _, errOut, code := runBin(t, bin, nil, "bench", "verify", "--runs", "0"); code != 2 || !strings.Contains(errOut, "--runs") {
		t.Errorf("bench verify --runs 0: exit %d, want 2 and a usage error:\n%s", code, errOut)
	}
}
