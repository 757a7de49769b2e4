package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench/cscbench"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/pkcs11/pkcs11bench"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// benchCSC measures remote signing through the CSC API: signatures/signHash
// over HTTPS with keep-alive, 1 and 20 hashes a request, with 1 and N
// clients, and the authorize+signHash round trip, next to a bare PKCS#11
// C_Sign loop with the same key on the same throwaway SoftHSM token, in the
// same run, with the ratios (issue "Speed (benchmark)": signHash at least
// 85% of the bare loop). The service, its CA and the credentials' keys are
// all on that token; the database is SQLite in a temporary directory, or
// --db's.
// Last, the flood row (issue 13) runs a real kysod and floods its
// oauth2/token with unauthenticated requests while a client signs:
// kysod's peak resident memory and signHash's p99, flooded and quiet.
func benchCSC(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench csc", "bench csc [--duration 2s] [--clients N] [--alg ecdsa-p256,rsa-2048] [--hashes 1,20] [--no-roundtrip] [--flood 500] [--flood-sources 1] [--flood-samples 100] [--kysod PATH] [--module PATH] [--dir DIR] [--db DSN] [--cpuprofile FILE] [--output json]")
	dur := fs.Duration("duration", 2*time.Second, "how long to measure each row")
	n := fs.Int("clients", 2*runtime.NumCPU(), "the N of the 1 and N client rows: concurrent HTTPS clients, and goroutines of the bare loop")
	algs := fs.String("alg", "ecdsa-p256,rsa-2048", "credential key algorithms, comma-separated")
	hashList := fs.String("hashes", "1,20", "hashes per signHash request, comma-separated")
	noRT := fs.Bool("no-roundtrip", false, "leave out the authorize+signHash round-trip rows")
	flood := fs.Int("flood", 500, "connections of the flood row: unauthenticated oauth2/token requests to a real kysod while a client signs; 0 leaves the row out")
	floodSources := fs.Int("flood-sources", 1, "loopback source addresses the flood comes from (1: one attacker; as many as --flood: a botnet that per-source limits do not hold back)")
	floodSamples := fs.Int("flood-samples", 100, "signHash requests timed quiet, and again during the flood")
	kysodBin := fs.String("kysod", "", "the kysod binary of the flood row; default: kysod beside this kyso, else in PATH")
	module := fs.String("module", "/usr/lib/softhsm/libsofthsm2.so", "SoftHSM PKCS#11 module; a throwaway token is made in a temporary directory")
	dir := fs.String("dir", "", "where the temporary directory holding the SQLite database is made (its disk's fsync latency matters); empty means the system's temporary directory")
	dsn := fs.String("db", "", "the database instead of SQLite in --dir (postgres://…). WARNING: give an empty, throwaway database: the bench creates kyso's tables and a CA in it and leaves them behind")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the first N-client signhash row to FILE: the clients' samples labelled side=client, the service's side=server (go tool pprof -tagfocus side=server)")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *n < 1 || *dur <= 0 {
		return usagef("--clients must be ≥ 1 and --duration > 0")
	}
	if *flood < 0 || *floodSources < 1 || *floodSources > 250*256 || *floodSamples < 1 {
		return usagef("--flood must be ≥ 0, --flood-sources from 1 to 64000, --flood-samples ≥ 1")
	}
	var alglist []hsm.Algorithm
	for _, s := range strings.Split(*algs, ",") {
		a, err := hsm.ParseAlgorithm(strings.TrimSpace(s))
		if err != nil {
			return usagef("--alg: %v", err)
		}
		if a == hsm.Ed25519 {
			return usagef("--alg: the bare loop has no %s (SoftHSM 2.6 signs RSA and ECDSA)", a)
		}
		alglist = append(alglist, a)
	}
	var hashes []int
	for _, s := range strings.Split(*hashList, ",") {
		var h int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &h); err != nil || h < 1 || h > 1000 {
			return usagef("--hashes: %q is not a number from 1 to 1000", s)
		}
		hashes = append(hashes, h)
	}

	tok, err := newBenchToken(*module)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tok.dir)
	tmp, err := os.MkdirTemp(*dir, "kyso-bench-csc-")
	if err != nil {
		return fmt.Errorf("bench csc: %w", err)
	}
	defer os.RemoveAll(tmp)
	p11, err := pkcs11.Open(ctx, tok.uri, nil)
	if err != nil {
		return err
	}
	defer p11.Close()
	bare, err := pkcs11bench.OpenBare(*module, tok.label, []byte(tok.pin))
	if err != nil {
		return err
	}
	defer bare.Close()

	database := "SQLite (WAL, synchronous=FULL) in " + tmp
	if *dsn != "" {
		database = storeopen.Redact(*dsn)
	}
	fmt.Fprintf(e.stderr, "kyso bench csc: throwaway SoftHSM token in %s, database %s; enrolling %d owners…\n", tok.dir, database, 2**n*len(alglist))
	var env *cscbench.Env
	// Everything the service starts carries the server's profiler labels.
	pprof.Do(ctx, cscbench.ServerLabels, func(ctx context.Context) {
		env, err = cscbench.Open(ctx, &cscbench.Options{Keys: p11, Dir: tmp, DSN: *dsn, Algorithms: alglist, Clients: *n})
	})
	if err != nil {
		return fmt.Errorf("bench csc: %w", err)
	}
	defer env.Close()
	fmt.Fprintf(e.stderr, "kyso bench csc: %v per row, 1 and %d clients, %d CPU\n", *dur, *n, runtime.NumCPU())
	var floodRow *cscbench.FloodRowOptions
	if *flood > 0 {
		floodRow = &cscbench.FloodRowOptions{Kysod: findKysod(*kysodBin), Dir: tmp, Concurrency: *flood, Sources: *floodSources, Samples: *floodSamples, Log: e.stderr}
	}
	var profile io.Writer
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench csc: %w", err)
		}
		defer f.Close()
		profile = f
	}
	rep := cscbench.Run(ctx, env, cscbench.RunOptions{
		CPUProfile: profile,
		Clients:    *n, Duration: *dur, Hashes: hashes, RoundTrip: !*noRT,
		Bare:     bare.SignFunc,
		Database: database,
		Progress: func(r cscbench.Result) { benchCSCProgress(e, r) },
		Flood:    floodRow,
	})
	if *out == "json" {
		return writeJSON(e.stdout, rep)
	}
	return cscbench.Print(e.stdout, rep)
}

// findKysod returns the kysod binary: flag when given, else kysod beside
// this executable, else kysod in PATH; "" when there is none.
func findKysod(flag string) string {
	if flag != "" {
		return flag
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "kysod")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	p, _ := exec.LookPath("kysod")
	return p
}

// benchCSCProgress prints one row to stderr as it is measured.
func benchCSCProgress(e *env, r cscbench.Result) {
	if r.Err != "" {
		fmt.Fprintf(e.stderr, "  %-10s %-9s %3d hashes %3d clients: failed: %.300s\n", r.Algorithm, r.Row, r.Hashes, r.Clients, r.Err)
		return
	}
	if r.Row == cscbench.RowFlood && r.FloodStats != nil {
		fmt.Fprintf(e.stderr, "  %-10s %-9s %3d conns  %3d sources: signHash p99 %6.2fms quiet, %6.2fms flooded; kysod RSS %d MB → peak %d MB\n",
			r.Algorithm, r.Row, r.Flood, r.FloodSources, r.QuietP99*1e3, r.P99*1e3, r.FloodStats.RSSBefore>>20, r.FloodStats.RSSPeak>>20)
		return
	}
	prep := ""
	if r.Prepared > 0 {
		prep = fmt.Sprintf(" (%d SADs made ahead in %.1fs)", r.Prepared, r.PrepareSeconds)
	}
	fmt.Fprintf(e.stderr, "  %-10s %-9s %3d hashes %3d clients: %8.0f sig/s, p50 %6.2fms, p99 %6.2fms%s\n",
		r.Algorithm, r.Row, r.Hashes, r.Clients, r.PerSecond, r.P50*1e3, r.P99*1e3, prep)
}
