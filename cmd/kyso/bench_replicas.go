package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench/replicabench"
)

// benchReplicas runs N kysod on one PostgreSQL database behind one
// address under a mixed load (enrolment, authorize+signHash, SmartCA with
// webhooks, OCSP), first one kysod alone, then all N with one killed
// (SIGKILL) and started again mid-run, and judges from the database and
// the portal's side that nothing was lost or done twice
// (cmd/internal/bench/replicabench). It fails when anything was.
func benchReplicas(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench replicas", "bench replicas --db postgres://… [--replicas 3] [--duration 1m] [--baseline 15s] [--kill-at 0.4] [--down 5s] [--owners 200] [--hashes 20] [--enrol-clients 1] [--sign-clients 4] [--smartca-clients 2] [--ocsp-clients 2] [--kysod PATH] [--dir DIR] [--keep DIR] [--output json]")
	db := fs.String("db", os.Getenv("KYSO_DB"), "the PostgreSQL database the replicas share (postgres://…), empty: kysod migrates it and makes a development CA in it (default $KYSO_DB)")
	replicas := fs.Int("replicas", 3, "how many kysod")
	dur := fs.Duration("duration", time.Minute, "how long the replicas are driven")
	baseline := fs.Duration("baseline", 0, "how long one kysod alone is driven first (default a quarter of --duration)")
	killAt := fs.Float64("kill-at", 0.4, "when the second replica is killed (SIGKILL), as a share of --duration")
	down := fs.Duration("down", 5*time.Second, "how long the killed replica stays down")
	owners := fs.Int("owners", 200, "owners per signing kind (authorize+signHash, SmartCA); each passes PIN and code once per 30-second step")
	hashes := fs.Int("hashes", 20, "hashes per SAD and per SmartCA transaction")
	enrolC := fs.Int("enrol-clients", 1, "concurrent enrolments through the officers' API")
	signC := fs.Int("sign-clients", 4, "concurrent authorize+signHash clients")
	caC := fs.Int("smartca-clients", 2, "concurrent SmartCA portal+owner clients")
	ocspC := fs.Int("ocsp-clients", 2, "concurrent OCSP clients")
	kysodBin := fs.String("kysod", "", "the kysod binary; default: kysod beside this kyso, else in PATH")
	dir := fs.String("dir", "", "where the temporary data directory is made; empty means the system's temporary directory")
	keep := fs.String("keep", "", "a directory to leave root.pem, issuing.pem, cert.pem and ocsp.der in (an OCSP response served through the front after the load), for openssl ocsp -respin")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *db == "" {
		return usagef("--db: the replicas need a PostgreSQL database (postgres://…)")
	}
	if *replicas < 2 || *dur <= 0 || *baseline < 0 || *killAt <= 0 || *killAt >= 1 || *owners < 1 || *hashes < 1 || *hashes > 1000 ||
		*enrolC < 0 || *signC < 0 || *caC < 0 || *ocspC < 0 {
		return usagef("--replicas ≥ 2, --duration > 0, --kill-at between 0 and 1, --owners ≥ 1, --hashes 1 to 1000, clients ≥ 0")
	}
	bin := findKysod(*kysodBin)
	if bin == "" {
		return fmt.Errorf("bench replicas: no kysod binary: build it (go build ./cmd/kysod) beside kyso, or pass --kysod")
	}
	tmp, err := os.MkdirTemp(*dir, "kyso-bench-replicas-")
	if err != nil {
		return fmt.Errorf("bench replicas: %w", err)
	}
	defer os.RemoveAll(tmp)
	rep, err := replicabench.Run(ctx, replicabench.Options{Kysod: bin, DSN: *db, Dir: tmp, Replicas: *replicas, Duration: *dur, Baseline: *baseline,
		KillAt: *killAt, Down: *down, Owners: *owners, Hashes: *hashes, Keep: *keep, Log: e.stderr,
		Clients: map[string]int{replicabench.KindEnrol: *enrolC, replicabench.KindSignHash: *signC, replicabench.KindSmartCA: *caC, replicabench.KindOCSP: *ocspC}})
	if err != nil {
		return fmt.Errorf("bench replicas: %w", err)
	}
	if *out == "json" {
		err = writeJSON(e.stdout, rep)
	} else {
		err = replicabench.Print(e.stdout, rep)
	}
	if err != nil {
		return err
	}
	if v := rep.Checks.Violations(); v > 0 {
		return fmt.Errorf("bench replicas: %d violations (see the checks)", v)
	}
	return nil
}
