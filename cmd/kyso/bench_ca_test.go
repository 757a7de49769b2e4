package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/bench/cabench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestBenchCA runs `kyso bench ca` briefly against SQLite and a throwaway
// PostgreSQL database, as an operator would, and checks that every row is
// there and measured, with its ratios; the figures themselves are not
// asserted (speed is reported, not tested).
func TestBenchCA(t *testing.T) {
	bin, _ := binaries(t)
	testenv.LookPath(t, "softhsm2-util", "apt-get install softhsm2")
	testenv.LookPath(t, "openssl", "apt-get install openssl")
	dsn := testenv.NewPostgres(t)
	out, errOut, code := runBin(t, bin, nil, "bench", "ca", "--duration", "200ms", "--goroutines", "2", "--db", dsn, "--output", "json")
	if code != 0 {
		t.Fatalf("bench ca: %d\n%s\n%s", code, out, errOut)
	}
	var rs []cabench.Result
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("bench ca --output json: %v\n%s", err, out)
	}
	rows := map[string]cabench.Result{}
	for _, r := range rs {
		key := r.Kind + "/" + r.Name + "/" + r.Database
		if _, dup := rows[key]; dup {
			t.Errorf("row %s twice", key)
		}
		rows[key] = r
		if r.Err != "" || r.Count == 0 || r.PerSecond <= 0 || r.Seconds <= 0 || r.Goroutines != 2 {
			t.Errorf("row %s did not measure: %+v", key, r)
		}
	}
	want := map[string][]string{ // row: the ratios it must carry
		"issue/csr/sqlite":           nil,
		"issue/softhsm-key/sqlite":   {"csr"},
		"issue/csr/postgres":         {"sqlite"},
		"issue/softhsm-key/postgres": {"csr", "sqlite"},
		"ocsp/kyso/sqlite":           {"openssl"},
		"ocsp/kyso-nonce/sqlite":     {"openssl"},
		"ocsp/openssl/sqlite":        nil,
	}
	if runtime.NumCPU() > 1 {
		want["ocsp/openssl-multi/sqlite"] = []string{"openssl"}
		want["ocsp/kyso/sqlite"] = append(want["ocsp/kyso/sqlite"], "openssl-multi")
		want["ocsp/kyso-nonce/sqlite"] = append(want["ocsp/kyso-nonce/sqlite"], "openssl-multi")
	}
	for key, ratios := range want {
		r, ok := rows[key]
		if !ok {
			t.Errorf("no row %s", key)
			continue
		}
		for _, to := range ratios {
			if r.Ratios[to] <= 0 {
				t.Errorf("row %s has no ratio to %s: %v", key, to, r.Ratios)
			}
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d: %s", len(rows), len(want), out)
	}
	if r := rows["ocsp/kyso/sqlite"]; !strings.Contains(r.Note, "cache") {
		t.Errorf("the kyso OCSP row does not say it serves cached responses: %q", r.Note)
	}

	// The same database again is refused, in its rows: it already holds a
	// hierarchy. The SQLite rows are measured all the same.
	out, errOut, code = runBin(t, bin, nil, "bench", "ca", "--duration", "50ms", "--goroutines", "1", "--db", dsn, "--output", "json")
	rs = nil
	if code != 0 || json.Unmarshal([]byte(out), &rs) != nil {
		t.Fatalf("bench ca on a used database: %d\n%s\n%s", code, out, errOut)
	}
	for _, r := range rs {
		used := r.Database == "postgres"
		if used != strings.Contains(r.Err, "already holds a CA hierarchy") || (!used && r.PerSecond <= 0) {
			t.Errorf("bench ca on a used database: row %+v", r)
		}
	}
}
