package verifybench

import (
	"strings"
	"testing"
)

func TestRatiosAndPrint(t *testing.T) {
	rs := []Result{
		{Doc: "1sig", Signatures: 1, Name: RowKyso, Runs: 1, Best: 0.010, Median: 0.010, Verdict: "1× TOTAL-PASSED"},
		{Doc: "1sig", Signatures: 1, Name: RowKysoCLI, Child: true, Runs: 1, Best: 0.020, Median: 0.020},
		{Doc: "1sig", Signatures: 1, Name: RowPdfsig, Child: true, Runs: 1, Best: 0.030, Median: 0.030},
		{Doc: "1sig", Signatures: 1, Name: RowPyhanko, Child: true, Err: "pyhanko not found"},
	}
	Ratios(rs)
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if r := rs[1].Ratios; len(r) != 1 || !near(r[RowKyso], 2) {
		t.Errorf("kyso-cli ratios %v, want 2× kyso", r)
	}
	if r := rs[2].Ratios; len(r) != 2 || !near(r[RowKyso], 3) || !near(r[RowKysoCLI], 1.5) {
		t.Errorf("pdfsig ratios %v, want 3× kyso, 1.5× kyso-cli", r)
	}
	if rs[0].Ratios != nil || rs[3].Ratios != nil {
		t.Errorf("kyso %v and a failed row %v have ratios", rs[0].Ratios, rs[3].Ratios)
	}
	var b strings.Builder
	if err := Print(&b, &Report{CPUs: 2, Platform: "linux/amd64", Go: "go1.26", Runs: 1, Rows: rs}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1sig: 1 signature(s)", "3.00× kyso, 1.50× kyso-cli", "failed", "1. 1sig pyhanko: pyhanko not found"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, b.String())
		}
	}
}
