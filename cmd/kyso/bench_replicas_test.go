package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/bench/replicabench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestBenchReplicas runs `kyso bench replicas` briefly, as an operator
// would: three real kysod on a throwaway PostgreSQL behind the bench's
// front, every kind of load in both phases, the second replica killed
// and restarted mid-run, then the checks from the database and the
// portal's side, every violation 0 (the command fails otherwise). The
// figures are printed, not asserted. openssl judges an OCSP response the
// front served after the run.
func TestBenchReplicas(t *testing.T) {
	bin, _ := binaries(t)
	kysod := kysodBinary(t)
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dsn := testenv.NewPostgres(t)
	keep := t.TempDir()
	out, errOut, code := runBin(t, bin, nil, "bench", "replicas", "--db", dsn, "--kysod", kysod, "--duration", "40s", "--baseline", "10s",
		"--kill-at", "0.3", "--down", "3s", "--owners", "30", "--hashes", "5", "--keep", keep, "--output", "json")
	t.Logf("bench replicas:\n%s", errOut)
	if code != 0 {
		t.Fatalf("bench replicas: exit %d\n%s", code, out)
	}
	var rep replicabench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench replicas --output json: %v\n%s", err, out)
	}
	if rep.Replicas != 3 || len(rep.Phases) != 2 || rep.Phases[0].Replicas != 1 || rep.Phases[1].Replicas != 3 {
		t.Fatalf("phases: %+v", rep.Phases)
	}
	for _, ph := range rep.Phases {
		if len(ph.Rows) != len(replicabench.Kinds) {
			t.Errorf("%s: %d rows, want %d", ph.Name, len(ph.Rows), len(replicabench.Kinds))
		}
		for _, r := range ph.Rows {
			if r.Ops == 0 || r.PerSecond <= 0 || r.P99 < r.P50 {
				t.Errorf("%s %s did not measure: %+v", ph.Name, r.Kind, r)
			}
			if ph.Replicas == 3 && r.VsOne <= 0 {
				t.Errorf("%s %s has no ratio to one kysod", ph.Name, r.Kind)
			}
		}
	}
	if k := rep.Kill; k == nil || k.At <= 0 || k.Down < 3 || k.Restarted <= 0 {
		t.Errorf("no replica killed and restarted: %+v", rep.Kill)
	}
	// The front spread connections over the three replicas and the
	// restarted one: four addresses.
	if n := len(rep.Connections); n != 4 {
		t.Errorf("connections went to %d addresses, want 4: %v", n, rep.Connections)
	}
	for a, n := range rep.Connections {
		if n == 0 {
			t.Errorf("no connection went to %s", a)
		}
	}
	c := rep.Checks
	if c.Violations() != 0 {
		t.Errorf("violations: %+v", c)
	}
	if c.Transactions == 0 || c.Judged.Signed == 0 || c.WebhookKeys < c.Judged.Signed || c.SADs == 0 || c.Serials == 0 || c.OCSP == 0 {
		t.Errorf("the checks judged too little: %+v", c)
	}

	// openssl's verdict on the OCSP response served through the front.
	stdout, stderr, err := testenv.Run(exec.Command(openssl, "ocsp", "-respin", filepath.Join(keep, "ocsp.der"), "-issuer", filepath.Join(keep, "issuing.pem"),
		"-cert", filepath.Join(keep, "cert.pem"), "-CAfile", filepath.Join(keep, "root.pem")))
	if err != nil || !strings.Contains(stderr, "Response verify OK") || !strings.Contains(stdout, filepath.Join(keep, "cert.pem")+": good") {
		t.Errorf("openssl ocsp -respin: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}

	// The text form names every check and its verdict.
	text, errOut, code := runBin(t, bin, nil, "bench", "replicas", "--db", testenv.NewPostgres(t), "--kysod", kysod, "--duration", "12s", "--baseline", "4s",
		"--down", "2s", "--owners", "10", "--hashes", "2")
	if code != 0 {
		t.Fatalf("bench replicas (text): exit %d\n%s\n%s", code, text, errOut)
	}
	for _, want := range []string{"vs 1 kysod", "authorize+signHash", "smartca", "ocsp", "enrol", "Killed: kysod 2 (SIGKILL)", "transactions lost", "duplicate serials", "Verdict: all 0."} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
}
