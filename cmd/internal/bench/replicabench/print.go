package replicabench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
)

// Print writes the report as text: the machine, the throughput table
// (one kysod, then N, with the ratio), the kill, and the checks with
// their verdict.
func Print(w io.Writer, rep *Report) error {
	m := rep.Machine
	cpu := m.CPUModel
	if cpu == "" {
		cpu = "unknown CPU"
	}
	fmt.Fprintf(w, "Machine: %d CPU (%s), %s, %s. %d kysod on one PostgreSQL database, %d owners per signing kind, %d hashes per SAD and per transaction.\n",
		m.CPUs, cpu, m.Platform, m.Go, rep.Replicas, rep.Owners, rep.Hashes)
	fmt.Fprintf(w, "Front: %s.\n", rep.Front)
	fmt.Fprintf(w, "Clients: enrol %d, authorize+signHash %d, SmartCA %d, OCSP %d.\n\n",
		rep.Clients[KindEnrol], rep.Clients[KindSignHash], rep.Clients[KindSmartCA], rep.Clients[KindOCSP])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tkind\tops\tops/s\tsig/s\tp50\tp99\tfailed\tinterrupted\towner wait\tvs 1 kysod")
	for _, ph := range rep.Phases {
		for _, r := range ph.Rows {
			sig, vs, wait := "-", "-", "-"
			if r.SigPerSec > 0 {
				sig = fmt.Sprintf("%.0f", r.SigPerSec)
			}
			if r.Kind == KindSignHash || r.Kind == KindSmartCA {
				wait = fmt.Sprintf("%.0f%%", 100*r.OwnerWait)
			}
			if r.VsOne > 0 {
				vs = fmt.Sprintf("%.2f×", r.VsOne)
			}
			fmt.Fprintf(tw, "%s (%.0fs)\t%s\t%d\t%.1f\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", ph.Name, ph.Seconds, r.Kind, r.Ops, r.PerSecond, sig,
				bench.Seconds(r.P50), bench.Seconds(r.P99), r.Failed, r.Interrupted, wait, vs)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if k := rep.Kill; k != nil {
		fmt.Fprintf(w, "\nKilled: kysod %d (SIGKILL) at %.1fs, down %.1fs, serving again %.1fs after its start.\n", k.Replica+1, k.At, k.Down, k.Restarted)
	}
	if len(rep.Connections) > 0 {
		addrs := make([]string, 0, len(rep.Connections))
		for a := range rep.Connections {
			addrs = append(addrs, a)
		}
		slices.Sort(addrs)
		fmt.Fprint(w, "Connections through the front:")
		for _, a := range addrs {
			fmt.Fprintf(w, " %s %d;", a, rep.Connections[a])
		}
		fmt.Fprintln(w)
	}
	c := rep.Checks
	j := c.Judged
	fmt.Fprintf(w, "\nChecks (from the database and the portal's side, after recovery):\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(what string, n int, seen string) {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", what, n, seen)
	}
	line("transactions lost (answered, not stored; approved as signed, not signed)", c.LostTransactions, fmt.Sprintf("of %d submitted", c.Transactions))
	line("transactions doubled (one portal ID stored twice)", c.DoubledTransactions, "")
	line("transactions stuck approved", j.Stuck, fmt.Sprintf("signed %d, failed %d, pending %d", j.Signed, j.Failed, j.Pending))
	line("webhooks lost (a final state never delivered)", j.Lost, fmt.Sprintf("%d idempotency keys delivered", c.WebhookKeys))
	line("webhooks with a wrong idempotency key", j.Keys, "")
	line("webhooks delivered twice, not explained by the kill", c.UnexplainedDuplicates, fmt.Sprintf("%d duplicate deliveries in all (at least once; the portal acts once per key)", c.Duplicates))
	line("signatures unaudited, or claimed and not delivered", j.Unaudited+j.FalseClaims+c.Unaudited, "")
	line("SADs that signed twice", c.DoubleSAD, fmt.Sprintf("of %d SADs", c.SADs))
	line("signatures that do not verify", c.BadSignatures, "")
	line("duplicate serials (answered or stored)", c.DuplicateSerials, fmt.Sprintf("%d enrolments answered", c.Serials))
	line("serials answered, not stored", c.MissingSerials, "")
	line("OCSP answers not good or not verified", int(c.BadOCSP), fmt.Sprintf("of %d checked", c.OCSP))
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "all 0"
	if v := c.Violations(); v > 0 {
		verdict = fmt.Sprintf("%d VIOLATIONS", v)
	}
	fmt.Fprintf(w, "Verdict: %s.\n", verdict)
	bench.WriteTail(w, rep.Errors, []string{
		"ops/s are operations answered as they should be; an authorize+signHash or SmartCA op signs the hashes named; SmartCA ops are counted when the approval answers signed.",
		"vs 1 kysod: the replicas' ops/s over one kysod's with the same clients on the same machine; with every replica on this machine's CPUs the sum cannot exceed what one process gets from them.",
		"Owners pass PIN and code once per 30-second TOTP step: owners ÷ 30 per second bounds each signing kind; owner wait is the share of its clients' time spent waiting for such an owner (near 100%, the owners, not kysod, bound the row: run with more --owners).",
	})
	return nil
}
