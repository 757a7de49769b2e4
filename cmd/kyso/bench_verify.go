package main

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/kyso-pki/kyso/cmd/internal/bench/verifybench"
)

// benchVerify measures validating a one-signature and a five-signature
// PDF carrying their validation data (PAdES B-LT), offline: kyso's
// pkg/verify in this process and `kyso verify --offline` as a command,
// next to poppler's pdfsig and pyHanko's validate on the same files in the
// same run, with the ratios.
func benchVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench verify", "bench verify [--runs 5] [--output json]")
	runs := fs.Int("runs", 5, "times each row is run (round-robin); the best is compared, the median shown")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *runs < 1 {
		return usagef("--runs must be ≥ 1")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench verify: finding this kyso binary for the kyso-cli row: %w", err)
	}
	tmp, err := os.MkdirTemp("", "kyso-bench-verify-")
	if err != nil {
		return fmt.Errorf("bench verify: %w", err)
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(e.stderr, "kyso bench verify: %d run(s) per row, %d CPU; temporary files in %s\n", *runs, runtime.NumCPU(), tmp)
	rep, err := verifybench.Run(ctx, &verifybench.Options{
		Runs: *runs, Dir: tmp,
		Tools:    verifybench.Tools{Kyso: self, Pyhanko: os.Getenv("KYSO_PYHANKO")},
		Progress: func(r verifybench.Result) { benchVerifyProgress(e, r) },
	})
	if err != nil {
		return fmt.Errorf("bench verify: %w", err)
	}
	if *out == "json" {
		return writeJSON(e.stdout, rep)
	}
	return verifybench.Print(e.stdout, rep)
}

// benchVerifyProgress prints one row to stderr as it is measured.
func benchVerifyProgress(e *env, r verifybench.Result) {
	if r.Err != "" {
		fmt.Fprintf(e.stderr, "  %-5s %-8s failed: %.200s\n", r.Doc, r.Name, r.Err)
		return
	}
	fmt.Fprintf(e.stderr, "  %-5s %-8s best %8.1f ms\n", r.Doc, r.Name, r.Best*1e3)
}
