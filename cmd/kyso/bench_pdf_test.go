package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/bench/padesbench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestBenchPDF runs `kyso bench pdf` on the one-page document, once per
// row, with each key type, as an operator would, and checks that every row — the floor, kyso in
// this process and as `kyso sign pdf`, pyHanko and pdfsig — signed, that
// pdfsig found each signed output valid, and that the ratios and aims are
// there. The figures themselves are not asserted: speed is reported, not
// tested.
func TestBenchPDF(t *testing.T) {
	bin, _ := binaries(t)
	for _, tool := range []struct{ name, hint string }{
		{"pdfsig", "apt-get install poppler-utils"},
		{"certutil", "apt-get install libnss3-tools"},
		{"pk12util", "apt-get install libnss3-tools"},
		{"openssl", "apt-get install openssl"},
	} {
		testenv.LookPath(t, tool.name, tool.hint)
	}
	pyhanko := testenv.PyHanko(t)

	for key, alg := range map[string]string{"p256": "ecdsa-p256", "rsa2048": "rsa-2048"} {
		t.Run(key, func(t *testing.T) {
			out, errOut, code := runBin(t, bin, []string{"KYSO_PYHANKO=" + pyhanko}, "bench", "pdf", "--sizes", "1page", "--runs", "1", "--key", key, "--output", "json")
			if code != 0 {
				t.Fatalf("bench pdf: exit %d\n%s\n%s", code, out, errOut)
			}
			var rep padesbench.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("bench pdf --output json: %v\n%s", err, out)
			}
			if rep.Machine.CPUs < 1 || rep.Machine.Platform == "" || rep.Key != alg || rep.Runs != 1 {
				t.Errorf("report header: %+v, key %q, runs %d", rep.Machine, rep.Key, rep.Runs)
			}
			rows := map[string]padesbench.Result{}
			for _, r := range rep.Rows {
				if _, dup := rows[r.Name]; dup {
					t.Errorf("row %s twice", r.Name)
				}
				rows[r.Name] = r
				if r.Err != "" || r.Runs != 1 || r.Best <= 0 || r.Size != "1page" || r.FileBytes <= 0 {
					t.Errorf("row %s did not measure: %+v", r.Name, r)
				}
			}
			signs := map[string]bool{padesbench.RowKyso: true, padesbench.RowKysoCLI: true, padesbench.RowPyhanko: true, padesbench.RowPdfsig: true}
			ratios := map[string][]string{
				padesbench.RowKyso:    {padesbench.RowFloor},
				padesbench.RowKysoCLI: {padesbench.RowFloor, padesbench.RowFloorCLI},
				padesbench.RowPyhanko: {padesbench.RowKysoCLI},
				padesbench.RowPdfsig:  {padesbench.RowKysoCLI},
			}
			for _, name := range padesbench.Rows {
				r, ok := rows[name]
				if !ok {
					t.Errorf("no row %s", name)
					continue
				}
				if r.Child != (r.MaxRSS > 0) || (name != padesbench.RowFloor && name != padesbench.RowKyso) != r.Child {
					t.Errorf("row %s: child %v, peak RSS %d", name, r.Child, r.MaxRSS)
				}
				if signs[name] != strings.Contains(r.Checked, "Signature is Valid") {
					t.Errorf("row %s: pdfsig said %q", name, r.Checked)
				}
				for _, to := range ratios[name] {
					if r.Ratios[to] <= 0 {
						t.Errorf("row %s has no ratio to %s: %v", name, to, r.Ratios)
					}
				}
			}
			if len(rows) != len(padesbench.Rows) {
				t.Errorf("%d rows, want %d", len(rows), len(padesbench.Rows))
			}
			if len(rep.Aims) != 5 {
				t.Errorf("%d aims, want 5: %+v", len(rep.Aims), rep.Aims)
			}
			for _, a := range rep.Aims {
				if a.Value <= 0 {
					t.Errorf("aim not measured: %+v", a)
				}
			}
		})
	}

	// Refusals, before anything is measured.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sizes", "2page"}, "--sizes"},
		{[]string{"--key", "ed25519"}, "--key"},
		{[]string{"--runs", "0"}, "--runs"},
		{[]string{"--output", "yaml"}, "--output"},
		{[]string{"stray.pdf"}, "unexpected argument"},
		{[]string{"--floor", "key.pem", "in.pdf"}, "IN.pdf OUT.pdf"},
	} {
		if _, errOut, code := runBin(t, bin, nil, append([]string{"bench", "pdf"}, c.args...)...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("bench pdf %v: exit %d %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}
