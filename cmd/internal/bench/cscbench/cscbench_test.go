package cscbench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/pkcs11/pkcs11bench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestRatiosAndPrint checks the ratios, the aims and the printed table
// on made-up rows, without any tool.
func TestRatiosAndPrint(t *testing.T) {
	rs := []Result{
		{Row: RowBare, Algorithm: "ecdsa-p256", Hashes: 1, Clients: 1, Signatures: 1000, Requests: 1000, Seconds: 1, PerSecond: 1000, RequestsPerSecond: 1000, P50: 100e-6, P99: 300e-6},
		{Row: RowCredKey, Algorithm: "ecdsa-p256", Hashes: 1, Clients: 1, Signatures: 500, Requests: 500, Seconds: 1, PerSecond: 500, RequestsPerSecond: 500, P50: 2e-3, P99: 4e-3},
		{Row: RowFloor, Algorithm: "ecdsa-p256", Hashes: 20, Clients: 1, Signatures: 1000, Requests: 50, Seconds: 1, PerSecond: 1000, RequestsPerSecond: 50, P50: 20e-3, P99: 1.5},
		{Row: RowSignHash, Algorithm: "ecdsa-p256", Hashes: 20, Clients: 1, Signatures: 900, Requests: 45, Seconds: 1, PerSecond: 900, RequestsPerSecond: 45, P50: 20e-3, P99: 1.5},
		{Row: RowSignHash, Algorithm: "ecdsa-p256", Hashes: 1, Clients: 1, Signatures: 100, Requests: 100, Seconds: 1, PerSecond: 100, RequestsPerSecond: 100, P50: 9e-3, P99: 20e-3, Note: "ended early"},
		{Row: RowRoundTrip, Algorithm: "ecdsa-p256", Hashes: 1, Clients: 1, Err: "boom"},
		// No bare row at 2 clients: no ratio.
		{Row: RowSignHash, Algorithm: "ecdsa-p256", Hashes: 1, Clients: 2, Signatures: 100, Requests: 100, Seconds: 1, PerSecond: 100, RequestsPerSecond: 100, P50: 9e-3, P99: 20e-3},
	}
	Ratios(rs)
	// The floor row of 20 hashes is the 20-hash signhash row's, not the
	// 1-hash row's.
	for i, want := range []struct{ bare, key, floor float64 }{{0, 0, 0}, {0.5, 0, 0}, {1, 2, 0}, {0.9, 1.8, 0.9}, {0.1, 0.2, 0}, {0, 0, 0}, {0, 0, 0}} {
		if rs[i].VsBare != want.bare || rs[i].VsKey != want.key || rs[i].VsFloor != want.floor {
			t.Errorf("row %d (%s %d hashes %d clients): vs bare %v, vs cred-key %v, vs floor %v; want %v, %v, %v", i, rs[i].Row, rs[i].Hashes, rs[i].Clients, rs[i].VsBare, rs[i].VsKey, rs[i].VsFloor, want.bare, want.key, want.floor)
		}
	}
	aims := Aims(rs)
	if len(aims) != 6 || !aims[0].Met || !aims[1].Met || aims[2].Met || aims[3].Value != 0 || aims[4].Met || aims[4].Value != 0 {
		t.Errorf("aims: %+v", aims)
	}
	var b strings.Builder
	rep := &Report{Machine: Machine{CPUs: 2, Platform: "linux/amd64", Go: "go1.26"}, Seconds: 1, Clients: 2, Database: "SQLite in /tmp/x", Rows: rs, Aims: aims, Notes: []string{"a note"}}
	if err := Print(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{"Machine: 2 CPU (unknown CPU)", "N = 2 clients", "SQLite in /tmp/x", "vs bare", "vs cred-key",
		"0.900", "1.800", "20.00ms", "1.50s", "100µs", "failed (error 1)", "1. ecdsa-p256 roundtrip, 1 hashes, 1 clients: boom",
		"signhash ≥ 0.85× bare   0.900×  met", "signhash ≥ 0.85× floor  0.900×  met", "0.100×  missed", "not measured", "vs floor", "ended early", "a note"} {
		if !strings.Contains(out, s) {
			t.Errorf("the report prints no %q:\n%s", s, out)
		}
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {10, 1}, {100, 10}} {
		if got := percentile(d, c.p); got != c.want.Seconds() {
			t.Errorf("p%v: %v, want %v", c.p, got, c.want.Seconds())
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("the percentile of nothing is not 0")
	}
}

// TestMeasure: a row stops on time, on running out (keeping its
// figures) and on the first error.
func TestMeasure(t *testing.T) {
	ctx := context.Background()
	tm, err := measure(ctx, 2, 50*time.Millisecond, func(context.Context, int) (int, error) {
		time.Sleep(time.Millisecond)
		return 3, nil
	})
	if err != nil || tm.requests == 0 || tm.sigs != 3*tm.requests || tm.seconds < 0.05 || tm.p50 <= 0 || tm.p99 < tm.p50 || tm.ranOut {
		t.Errorf("timed run: %+v %v", tm, err)
	}
	left := 10
	tm, err = measure(ctx, 1, time.Minute, func(context.Context, int) (int, error) {
		if left == 0 {
			return 0, errExhausted
		}
		left--
		return 1, nil
	})
	if err != nil || !tm.ranOut || tm.requests != 10 || tm.seconds > 10 {
		t.Errorf("run out: %+v %v", tm, err)
	}
	boom := errors.New("boom")
	if _, err := measure(ctx, 2, time.Minute, func(context.Context, int) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("failing run: %v", err)
	}
}

// TestRun runs every row briefly on a SoftHSM token, as `kyso bench csc`
// does, and checks each measured something and verified what it got; the
// figures themselves are not asserted (speed is reported, not tested).
func TestRun(t *testing.T) {
	ctx := context.Background()
	tok := testenv.NewSoftHSM(t)
	p11, err := pkcs11.Open(ctx, tok.URI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p11.Close()
	bare, err := pkcs11bench.OpenBare(tok.Module, tok.TokenLabel, []byte(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	env, err := Open(ctx, &Options{Keys: p11, Dir: t.TempDir(), Algorithms: []hsm.Algorithm{hsm.ECDSAP256}, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	var seen []Result
	rep := Run(ctx, env, RunOptions{Duration: 50 * time.Millisecond, Bare: bare.SignFunc, RoundTrip: true, Progress: func(r Result) { seen = append(seen, r) }})
	if len(seen) != len(rep.Rows) || len(rep.Rows) != 2*(2+2+2+2) {
		t.Fatalf("%d rows, %d reported as they ran; want 16", len(rep.Rows), len(seen))
	}
	for _, r := range rep.Rows {
		if r.Err != "" || r.Requests == 0 || r.Signatures != r.Requests*int64(r.Hashes) || r.PerSecond <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("row %s %d hashes %d clients did not measure: %+v", r.Row, r.Hashes, r.Clients, r)
		}
		if r.Row != RowBare && r.VsBare <= 0 {
			t.Errorf("row %s %d hashes %d clients has no ratio to bare", r.Row, r.Hashes, r.Clients)
		}
		if (r.Row == RowSignHash) != (r.Prepared > 0) {
			t.Errorf("row %s %d hashes %d clients: %d SADs made ahead", r.Row, r.Hashes, r.Clients, r.Prepared)
		}
	}
	for _, r := range rep.Rows {
		if r.Row == RowSignHash && r.VsFloor <= 0 {
			t.Errorf("row %s %d hashes %d clients has no ratio to the floor", r.Row, r.Hashes, r.Clients)
		}
	}
	if len(rep.Aims) != 8 || rep.Clients != 2 {
		t.Errorf("%d aims, N = %d", len(rep.Aims), rep.Clients)
	}

	// A SAD is bound to its hashes and spent once, through the bench's
	// client as through any.
	c, err := env.NewClient(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sads, err := c.Prepare(ctx, hsm.ECDSAP256, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignHash(ctx, sads[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignHash(ctx, sads[0]); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("a SAD spent twice: %v", err)
	}
	sads[1].Hashes[0], sads[1].Hashes[1] = sads[1].Hashes[1], sads[1].Hashes[0]
	if _, err := c.SignHash(ctx, sads[1]); err == nil || !strings.Contains(err.Error(), "not the ones authorised") {
		t.Errorf("a SAD for other hashes: %v", err)
	}
}
