package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/kyso-pki/kyso/cmd/internal/bench/padesbench"
)

// benchPDF measures signing a one-page, a 10 MB and a 100 MB PDF (issue:
// time and peak memory) with kyso, in this process and as `kyso sign pdf`,
// next to the floor — read, SHA-256, one signature, write — and to pyHanko
// and poppler's pdfsig signing the same files in the same run, and prints
// the ratios against the aims.
//
// With --floor KEY.pem IN.pdf OUT.pdf it only does the floor, once: that is
// the child process of the floor-cli row.
func benchPDF(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench pdf", "bench pdf [--sizes 1page,10MB,100MB] [--runs 3] [--key p256|rsa2048] [--output json]")
	sizes := fs.String("sizes", "1page,10MB,100MB", "documents to sign: 1page, or NKB / NMB (MiB) of scanned pages")
	runs := fs.Int("runs", 3, "times each row is run (round-robin); the best is compared, the median shown")
	key := fs.String("key", padesbench.KeyP256, "signing key type for every row: p256 or rsa2048")
	floorKey := fs.String("floor", "", "internal: do only the floor, once, on IN.pdf OUT.pdf with this PKCS#8 PEM key (the floor-cli row's child)")
	out := outputFlag(fs)
	// Positional arguments are for --floor only.
	var pos []string
	for rest := args; ; rest = fs.Args()[1:] {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usagef("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
	}
	switch {
	case *floorKey == "" && len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case *floorKey != "" && len(pos) != 2:
		return usagef("--floor KEY.pem wants IN.pdf OUT.pdf, got %d argument(s)", len(pos))
	}
	if *floorKey != "" {
		k, err := padesbench.LoadKey(*floorKey)
		if err != nil {
			return err
		}
		return padesbench.Floor(pos[0], pos[1], k)
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	zs, err := padesbench.ParseSizes(*sizes)
	if err != nil {
		return usagef("--sizes: %v", err)
	}
	if *runs < 1 {
		return usagef("--runs must be ≥ 1")
	}
	if *key != padesbench.KeyP256 && *key != padesbench.KeyRSA2048 {
		return usagef("--key is %q, want p256 or rsa2048", *key)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench pdf: finding this kyso binary for the child rows: %w", err)
	}
	tmp, err := os.MkdirTemp("", "kyso-bench-pdf-")
	if err != nil {
		return fmt.Errorf("bench pdf: %w", err)
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(e.stderr, "kyso bench pdf: %s, %d run(s) per row, %d CPU; temporary files in %s\n", *sizes, *runs, runtime.NumCPU(), tmp)
	rep, err := padesbench.Run(ctx, &padesbench.Options{
		Sizes: zs, Runs: *runs, Key: *key, Dir: tmp,
		Tools:    padesbench.Tools{Kyso: self, Pyhanko: os.Getenv("KYSO_PYHANKO")},
		Progress: func(r padesbench.Result) { benchPDFProgress(e, r) },
	})
	if err != nil {
		return fmt.Errorf("bench pdf: %w", err)
	}
	if *out == "json" {
		return writeJSON(e.stdout, rep)
	}
	return padesbench.Print(e.stdout, rep)
}

// benchPDFProgress prints one row to stderr as it is measured.
func benchPDFProgress(e *env, r padesbench.Result) {
	if r.Err != "" {
		fmt.Fprintf(e.stderr, "  %-6s %-9s failed: %.200s\n", r.Size, r.Name, r.Err)
		return
	}
	fmt.Fprintf(e.stderr, "  %-6s %-9s best %8.1f ms", r.Size, r.Name, r.Best*1e3)
	if r.MaxRSS > 0 {
		fmt.Fprintf(e.stderr, ", peak RSS %6.1f MiB", float64(r.MaxRSS)/(1<<20))
	}
	fmt.Fprintln(e.stderr)
}
