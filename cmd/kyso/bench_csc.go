package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/internal/cscbench"
	"github.com/kyso-pki/kyso/internal/keybench"
)

// benchCSC measures remote signing through the CSC API: signatures/signHash
// over HTTPS with keep-alive, 1 and 20 hashes a request, with 1 and N
// clients, and the authorize+signHash round trip, next to a bare PKCS#11
// C_Sign loop with the same key on the same throwaway SoftHSM token, in the
// same run, with the ratios (issue "Speed (benchmark)": signHash at least
// 85% of the bare loop). The service, its CA and the credentials' keys are
// all on that token; the database is SQLite in a temporary directory.
func benchCSC(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench csc", "bench csc [--duration 2s] [--clients N] [--alg ecdsa-p256,rsa-2048] [--hashes 1,20] [--no-roundtrip] [--module PATH] [--dir DIR] [--output json]")
	dur := fs.Duration("duration", 2*time.Second, "how long to measure each row")
	n := fs.Int("clients", 2*runtime.NumCPU(), "the N of the 1 and N client rows: concurrent HTTPS clients, and goroutines of the bare loop")
	algs := fs.String("alg", "ecdsa-p256,rsa-2048", "credential key algorithms, comma-separated")
	hashList := fs.String("hashes", "1,20", "hashes per signHash request, comma-separated")
	noRT := fs.Bool("no-roundtrip", false, "leave out the authorize+signHash round-trip rows")
	module := fs.String("module", "/usr/lib/softhsm/libsofthsm2.so", "SoftHSM PKCS#11 module; a throwaway token is made in a temporary directory")
	dir := fs.String("dir", "", "where the temporary directory holding the SQLite database is made (its disk's fsync latency matters); empty means the system's temporary directory")
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
	bare, err := keybench.OpenBare(*module, tok.label, []byte(tok.pin))
	if err != nil {
		return err
	}
	defer bare.Close()

	fmt.Fprintf(e.stderr, "kyso bench csc: throwaway SoftHSM token in %s, database in %s; enrolling %d owners…\n", tok.dir, tmp, 2**n*len(alglist))
	env, err := cscbench.Open(ctx, &cscbench.Options{Keys: p11, Dir: tmp, Algorithms: alglist, Clients: *n})
	if err != nil {
		return fmt.Errorf("bench csc: %w", err)
	}
	defer env.Close()
	fmt.Fprintf(e.stderr, "kyso bench csc: %v per row, 1 and %d clients, %d CPU\n", *dur, *n, runtime.NumCPU())
	rep := cscbench.Run(ctx, env, cscbench.RunOptions{
		Clients: *n, Duration: *dur, Hashes: hashes, RoundTrip: !*noRT,
		Bare:     bare.SignFunc,
		Database: "SQLite (WAL, synchronous=FULL) in " + tmp,
		Progress: func(r cscbench.Result) { benchCSCProgress(e, r) },
	})
	if *out == "json" {
		return writeJSON(e.stdout, rep)
	}
	return cscbench.Print(e.stdout, rep)
}

// benchCSCProgress prints one row to stderr as it is measured.
func benchCSCProgress(e *env, r cscbench.Result) {
	if r.Err != "" {
		fmt.Fprintf(e.stderr, "  %-10s %-9s %3d hashes %3d clients: failed: %.300s\n", r.Algorithm, r.Row, r.Hashes, r.Clients, r.Err)
		return
	}
	prep := ""
	if r.Prepared > 0 {
		prep = fmt.Sprintf(" (%d SADs made ahead in %.1fs)", r.Prepared, r.PrepareSeconds)
	}
	fmt.Fprintf(e.stderr, "  %-10s %-9s %3d hashes %3d clients: %8.0f sig/s, p50 %6.2fms, p99 %6.2fms%s\n",
		r.Algorithm, r.Row, r.Hashes, r.Clients, r.PerSecond, r.P50*1e3, r.P99*1e3, prep)
}
