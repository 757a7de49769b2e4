package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/bench/cscbench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestBenchCSC runs `kyso bench csc` briefly, as an operator would, and
// checks that every row is there, measured, verified and compared with the
// bare loop, and that every aim is judged; the figures themselves are not
// asserted (speed is reported, not tested).
func TestBenchCSC(t *testing.T) {
	bin, _ := binaries(t)
	testenv.LookPath(t, "softhsm2-util", "apt-get install softhsm2")
	prof := filepath.Join(t.TempDir(), "csc.pprof")
	out, errOut, code := runBin(t, bin, nil, "bench", "csc", "--duration", "300ms", "--clients", "2", "--flood", "0", "--cpuprofile", prof, "--output", "json")
	if code != 0 {
		t.Fatalf("bench csc: %d\n%s\n%s", code, out, errOut)
	}
	// The profile of the 2-client signhash row carries the service's
	// label, as pprof reads it. (The clients' share of so short a row is
	// a sample or none at 100 Hz, so only the service's is required.)
	tags, err := exec.Command("go", "tool", "pprof", "-tags", prof).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -tags: %v\n%s", err, tags)
	}
	if !strings.Contains(string(tags), "side:") || !strings.Contains(string(tags), "server") {
		t.Errorf("the CPU profile has no samples labelled side=server:\n%s", tags)
	}
	var rep cscbench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench csc --output json: %v\n%s", err, out)
	}
	if rep.Machine.CPUs < 1 || rep.Clients != 2 || rep.Seconds != 0.3 || !strings.Contains(rep.Database, "SQLite") {
		t.Errorf("report header: %+v %d clients, %v s, %q", rep.Machine, rep.Clients, rep.Seconds, rep.Database)
	}
	rows := map[string]cscbench.Result{}
	for _, r := range rep.Rows {
		key := fmt.Sprintf("%s/%s/%d/%d", r.Algorithm, r.Row, r.Hashes, r.Clients)
		if _, dup := rows[key]; dup {
			t.Errorf("row %s twice", key)
		}
		rows[key] = r
		if r.Err != "" || r.Requests == 0 || r.Signatures != r.Requests*int64(r.Hashes) || r.PerSecond <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("row %s did not measure: %+v", key, r)
		}
		if r.Row != cscbench.RowBare && r.VsBare <= 0 {
			t.Errorf("row %s has no ratio to the bare loop", key)
		}
		if (r.Row == cscbench.RowSignHash || r.Row == cscbench.RowRoundTrip) && r.VsKey <= 0 {
			t.Errorf("row %s has no ratio to cred-key", key)
		}
		if r.Row == cscbench.RowSignHash && r.VsFloor <= 0 {
			t.Errorf("row %s has no ratio to the floor", key)
		}
	}
	want := 0
	for _, alg := range []string{"ecdsa-p256", "rsa-2048"} {
		for _, c := range []int{1, 2} {
			for _, row := range []string{"bare/1", "cred-key/1", "floor/1", "floor/20", "signhash/1", "signhash/20", "roundtrip/1", "roundtrip/20"} {
				want++
				if _, ok := rows[fmt.Sprintf("%s/%s/%d", alg, row, c)]; !ok {
					t.Errorf("no row %s %s with %d clients", alg, row, c)
				}
			}
		}
	}
	if len(rows) != want {
		t.Errorf("%d rows, want %d", len(rows), want)
	}
	if len(rep.Aims) != 16 {
		t.Errorf("%d aims, want 16 (against bare and the floor, per signhash row): %+v", len(rep.Aims), rep.Aims)
	}
	for _, a := range rep.Aims {
		if a.Value <= 0 {
			t.Errorf("aim not judged: %+v", a)
		}
	}

	// The text form: one algorithm and hash count, without round trips.
	text, errOut, code := runBin(t, bin, nil, "bench", "csc", "--duration", "50ms", "--clients", "1", "--alg", "ecdsa-p256", "--hashes", "5", "--no-roundtrip", "--flood", "0")
	if code != 0 {
		t.Fatalf("bench csc: %d\n%s\n%s", code, text, errOut)
	}
	for _, s := range []string{"Machine:", "N = 1 clients", "vs bare", "ecdsa-p256  bare", "ecdsa-p256  signhash  5", "Aims:", "signhash ≥ 0.85× bare", "Notes:"} {
		if !strings.Contains(text, s) {
			t.Errorf("bench csc prints no %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "rsa-2048") || strings.Contains(text, "roundtrip  ") {
		t.Errorf("bench csc --alg ecdsa-p256 --no-roundtrip prints other rows:\n%s", text)
	}

	for _, args := range [][]string{{"--clients", "0"}, {"--alg", "dsa"}, {"--hashes", "0"}, {"--alg", "ed25519"}, {"--flood", "-1"}, {"--flood-sources", "0"}, {"--flood-samples", "0"}} {
		if _, errOut, code := runBin(t, bin, nil, append([]string{"bench", "csc"}, args...)...); code != 2 || !strings.Contains(errOut, args[0]) {
			t.Errorf("bench csc %v: exit %d, want 2 and a usage error naming %s:\n%s", args, code, args[0], errOut)
		}
	}
}

var (
	kysodOnce sync.Once
	kysodBin  string
	kysodErr  error
)

// kysodBinary builds kysod once, for the flood row.
func kysodBinary(t *testing.T) string {
	t.Helper()
	binaries(t)
	kysodOnce.Do(func() {
		kysodBin = filepath.Join(binDir, "kysod")
		if out, err := exec.Command("go", "build", "-o", kysodBin, "../kysod").CombinedOutput(); err != nil {
			kysodErr = &buildError{"kysod", err, string(out)}
		}
	})
	if kysodErr != nil {
		t.Fatal(kysodErr)
	}
	return kysodBin
}

// TestBenchCSCFlood runs the flood row briefly against a real kysod and
// checks that it is measured and judged: kysod's resident memory before
// and at the peak, signHash's p99 quiet and flooded, the flood's answers,
// both aims; the figures themselves are not asserted. Without a kysod the
// row fails saying how to get one.
func TestBenchCSCFlood(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the flood row reads kysod's resident memory from /proc")
	}
	bin, _ := binaries(t)
	kysod := kysodBinary(t)
	testenv.LookPath(t, "softhsm2-util", "apt-get install softhsm2")
	out, errOut, code := runBin(t, bin, nil, "bench", "csc", "--duration", "50ms", "--clients", "1", "--alg", "ecdsa-p256", "--hashes", "1", "--no-roundtrip",
		"--flood", "50", "--flood-samples", "12", "--kysod", kysod, "--output", "json")
	if code != 0 {
		t.Fatalf("bench csc --flood: %d\n%s\n%s", code, out, errOut)
	}
	var rep cscbench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench csc --output json: %v\n%s", err, out)
	}
	var flood *cscbench.Result
	for i, r := range rep.Rows {
		if r.Row == cscbench.RowFlood {
			flood = &rep.Rows[i]
		}
	}
	if flood == nil {
		t.Fatalf("no flood row: %+v", rep.Rows)
	}
	st := flood.FloodStats
	if flood.Err != "" || st == nil || flood.Flood != 50 || flood.FloodSources != 1 || flood.Requests != 12 || flood.QuietP99 <= 0 || flood.P99 <= 0 ||
		st.RSSBefore <= 0 || st.RSSPeak < st.RSSBefore || st.Requests == 0 || st.Answers["401"]+st.Answers["429"] != st.Requests || st.NoRetryAfter != 0 {
		t.Errorf("flood row not measured: %+v %+v", flood, st)
	}
	judged := 0
	for _, a := range rep.Aims {
		if strings.HasPrefix(a.What, "flood: ") {
			judged++
			if a.Value <= 0 {
				t.Errorf("flood aim not judged: %+v", a)
			}
		}
	}
	if judged != 2 {
		t.Errorf("%d flood aims, want 2 (RSS and p99): %+v", judged, rep.Aims)
	}
	text, errOut, code := runBin(t, bin, nil, "bench", "csc", "--duration", "50ms", "--clients", "1", "--alg", "ecdsa-p256", "--hashes", "1", "--no-roundtrip",
		"--flood", "20", "--flood-samples", "3", "--kysod", filepath.Join(t.TempDir(), "no-kysod"))
	if code != 0 || !strings.Contains(text, "flood") || !strings.Contains(text, "starting kysod") {
		t.Errorf("bench csc with a missing kysod: exit %d, want 0 and the flood row failed saying so:\n%s\n%s", code, text, errOut)
	}
}

// TestBenchCSCPostgres: --db runs the rows on PostgreSQL (the commit
// batcher's figures), every signature checked, the report naming the
// database without its password.
func TestBenchCSCPostgres(t *testing.T) {
	bin, _ := binaries(t)
	testenv.LookPath(t, "softhsm2-util", "apt-get install softhsm2")
	dsn := testenv.NewPostgres(t)
	out, errOut, code := runBin(t, bin, nil, "bench", "csc", "--duration", "100ms", "--clients", "4", "--flood", "0",
		"--alg", "ecdsa-p256", "--hashes", "1", "--no-roundtrip", "--db", dsn, "--output", "json")
	if code != 0 {
		t.Fatalf("bench csc --db: %d\n%s\n%s", code, out, errOut)
	}
	var rep cscbench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench csc --output json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(rep.Database, "postgres") || strings.Contains(rep.Database, "SQLite") {
		t.Errorf("report's database %q, want the PostgreSQL DSN", rep.Database)
	}
	signhash := 0
	for _, r := range rep.Rows {
		if r.Err != "" || r.Requests == 0 || r.PerSecond <= 0 {
			t.Errorf("row %s/%d did not measure: %+v", r.Row, r.Clients, r)
		}
		if r.Row == cscbench.RowSignHash {
			signhash++
		}
	}
	if signhash != 2 {
		t.Errorf("%d signhash rows, want 2 (1 and 4 clients)", signhash)
	}
}
