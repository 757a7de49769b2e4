package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/txcheck"
	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestCrashIssuance kills kysod while it enrols a citizen through the
// officers' API — once the certificate's serial is reserved, and once the
// certificate is recorded but not yet its owner — restarts it, and sends
// the same enrolment again, as the officer's system would. Then, on SQLite
// and PostgreSQL, it counts as violations: the retried enrolment refused;
// a national ID with other than one good certificate, or whose good one
// no credential names; an owner without a credential; a serial twice; a
// certificate without its reservation or its intent, an intent without
// its reservation, a reservation made before the crash still open once
// the restarted kysod's upkeep has had settleBound and a tick to settle
// it (txcheck.JudgeIssuance); a crash at reserved whose intent was not
// settled as abandoned, or any intent left without an outcome; and (SQLite)
// integrity_check not clean. Then `kyso cert revoke` is killed
// while it makes the CRL: the running kysod must serve a CRL listing the
// revocation within crashRecoveryBound.
func TestCrashIssuance(t *testing.T) {
	runs, picked := crashRuns(t)
	var table []string
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			h := newIssueHarness(t, db)
			for _, point := range []string{crashpoint.Reserved, crashpoint.Issued} {
				if !picked(point) {
					continue
				}
				violations := 0
				for i := range runs {
					violations += h.enrolRun(t, point, i)
				}
				table = append(table, fmt.Sprintf("| %-12s | %-8s | %4d | %d |", point, db, runs, violations))
				if violations > 0 {
					t.Errorf("%s on %s: %d violations in %d runs", point, db, violations, runs)
				}
			}
			if !picked(crashpoint.CRLNumbered) {
				return
			}
			violations := 0
			for i := range runs {
				violations += h.crlRun(t, i)
			}
			table = append(table, fmt.Sprintf("| %-12s | %-8s | %4d | %d |", crashpoint.CRLNumbered, db, runs, violations))
			if violations > 0 {
				t.Errorf("%s on %s: %d violations in %d runs", crashpoint.CRLNumbered, db, violations, runs)
			}
		})
	}
	t.Logf("issuance crash harness:\n| point        | database | runs | violations |\n%s", strings.Join(table, "\n"))
}

type issueHarness struct {
	db, data             string
	kysod, kyso, crash   string
	env, dbArgs          []string
	sql                  *sql.DB
	officerID, officerSK string
	hc                   *http.Client
	cccd                 int
}

func newIssueHarness(t *testing.T, db string) *issueHarness {
	kysod, kyso := binaries(t)
	h := &issueHarness{db: db, kysod: kysod, kyso: kyso, crash: crashBinary(t), cccd: 5000}
	dir := t.TempDir()
	h.data = filepath.Join(dir, "data")
	// CRLs batched for a second: the CRL run waits for kysod's next one.
	// Reservations settled after settleBound, so a crash's is within a
	// tick or two of the restart.
	config := filepath.Join(dir, "kysod.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "crl_batch: 1s\nsettle_after: %s\n", settleBound), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = []string{"KYSO_CONFIG=" + config}
	driver, dsn := "sqlite", ""
	if db == "postgres" {
		dsn = testenv.NewPostgres(t)
		h.env = append(h.env, "KYSO_DB="+dsn)
		h.dbArgs = []string{"--db", dsn}
		driver = "pgx"
	}
	d := startKysod(t, kysod, h.data, h.env...)
	if db == "sqlite" {
		dsn = "file:" + filepath.Join(h.data, "kyso.db") + "?_pragma=busy_timeout(10000)"
	}
	var err error
	if h.sql, err = sql.Open(driver, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sql.Close() })
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	out := runKyso(t, kyso, h.data, nil, append([]string{"client", "create", "--officer", "--name", "Công an phường thử sự cố", "--output", "json"}, h.dbArgs...)...)
	if err := json.Unmarshal([]byte(out), &cl); err != nil || cl.ID == "" {
		t.Fatalf("kyso client create: %v: %s", err, out)
	}
	h.officerID, h.officerSK = cl.ID, cl.Secret
	h.hc = httpsClient(fetchPEM(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(dir, "root.pem")))
	h.hc.Timeout = 60 * time.Second
	d.stop(t)
	return h
}

// enrol sends one enrolment to kysod at base and returns the HTTP status
// and, on success, the certificate's serial.
func (h *issueHarness) enrol(t *testing.T, base, cccd string) (int, string) {
	t.Helper()
	resp, err := h.hc.PostForm(base+"/csc/v2/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {h.officerID},
		"client_secret": {h.officerSK}, "scope": {"enrol"}})
	if err != nil {
		return 0, ""
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]string{"cccd": cccd, "name": "Người Thử Sự Cố", "province": "Huế", "pin": "246813"})
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/v1/enrolments", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = h.hc.Do(req)
	if err != nil {
		return 0, "" // the crash
	}
	defer resp.Body.Close()
	var en struct {
		Serial string `json:"serial"`
	}
	json.NewDecoder(resp.Body).Decode(&en)
	return resp.StatusCode, en.Serial
}

// enrolRun is one run at point; it returns the violations found.
func (h *issueHarness) enrolRun(t *testing.T, point string, i int) int {
	t.Helper()
	h.cccd++
	cccd := fmt.Sprintf("0792030%05d", h.cccd)
	before := h.judge(t, time.Time{})
	d := startKysod(t, h.crash, h.data, append(append([]string(nil), h.env...), "KYSO_CRASH_AT="+point, "KYSO_CRASH_AFTER=1")...)
	exited := make(chan struct{})
	go func() { d.cmd.Wait(); close(exited) }()
	if st, _ := h.enrol(t, "https://"+d.https, cccd); st != 0 {
		t.Fatalf("run %s-%d: the enrolment was answered %d; kysod should have died at %s", point, i, st, point)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("run %s-%d: kysod never reached %s", point, i, point)
	}
	crashed := time.Now()
	d = startKysod(t, h.kysod, h.data, h.env...)
	defer d.stop(t)
	v := 0
	st, serial := h.enrol(t, "https://"+d.https, cccd)
	if st != http.StatusCreated {
		t.Logf("run %s-%d: the retried enrolment: HTTP %d", point, i, st)
		v++
	}
	var good int
	var goodSerial string
	rows, err := h.sql.Query(`SELECT serial FROM certificates WHERE national_id = $1 AND status = 'good'`, "CCCD:"+cccd)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s []byte
		rows.Scan(&s)
		good++
		goodSerial = fmt.Sprintf("%X", s)
	}
	rows.Close()
	if good != 1 || !strings.EqualFold(strings.TrimLeft(goodSerial, "0"), strings.TrimLeft(serial, "0")) {
		t.Logf("run %s-%d: %d good certificates for %s (%s), the enrolment answered %s", point, i, good, cccd, goodSerial, serial)
		v++
	}
	var named int
	h.sql.QueryRow(`SELECT count(*) FROM credentials c JOIN owners o ON o.id = c.owner_id JOIN certificates x ON x.serial = c.cert_serial
		WHERE o.national_id = $1 AND x.status = 'good'`, "CCCD:"+cccd).Scan(&named)
	if named != 1 {
		t.Logf("run %s-%d: %d credentials name the good certificate", point, i, named)
		v++
	}
	var bare, doubles int
	h.sql.QueryRow(`SELECT count(*) FROM owners o WHERE NOT EXISTS (SELECT 1 FROM credentials c WHERE c.owner_id = o.id)`).Scan(&bare)
	h.sql.QueryRow(`SELECT count(*) - count(DISTINCT serial) FROM certificates`).Scan(&doubles)
	if bare+doubles > 0 {
		t.Logf("run %s-%d: %d owners without a credential, %d serials twice", point, i, bare, doubles)
		v += bare + doubles
	}
	// Every certificate reserved and audited (intent before ok), every
	// intent's serial reserved in the same commit; a crash at reserved
	// leaves one intent without a certificate or outcome, its serial
	// reserved and never issued, and the retry issued under another; the
	// restarted kysod's upkeep settles it as abandoned once it is
	// settleBound old: every reservation made before the crash is closed.
	var after txcheck.Issuance
	for deadline := time.Now().Add(crashRecoveryBound); ; time.Sleep(500 * time.Millisecond) {
		after = h.judge(t, crashed)
		if after.Unsettled == 0 || time.Now().After(deadline) {
			break
		}
	}
	if after.Violations() > 0 {
		t.Logf("run %s-%d: issuance judged (%s): %s", point, i, txcheck.IssuanceColumns, after)
		v += after.Violations()
	}
	wantAbandoned := 0
	if point == crashpoint.Reserved {
		wantAbandoned = 1
	}
	if n, m := after.Abandoned-before.Abandoned, after.Orphans-before.Orphans; n != wantAbandoned || m != 0 {
		t.Logf("run %s-%d: the crash left %d intents settled as abandoned and %d without any outcome, want %d and 0", point, i, n, m, wantAbandoned)
		v++
	}
	if h.db == "sqlite" {
		var ok string
		if err := h.sql.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Logf("run %s-%d: integrity_check %q %v", point, i, ok, err)
			v++
		}
	}
	return v
}

// judge is txcheck's judgement of issuance over the harness's database.
// settleBound is the harness's kysod's settle_after: a crash's reservation
// is settled at the first tick (every 5 s) after it is this old.
const settleBound = 3 * time.Second

func (h *issueHarness) judge(t *testing.T, settled time.Time) txcheck.Issuance {
	t.Helper()
	j, err := txcheck.JudgeIssuance(context.Background(), h.sql, settled)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// crlRun enrols a citizen, kills `kyso cert revoke` of their certificate
// while it makes the CRL, and checks that the running kysod serves a CRL
// listing the revocation within crashRecoveryBound.
func (h *issueHarness) crlRun(t *testing.T, i int) int {
	t.Helper()
	d := startKysod(t, h.kysod, h.data, h.env...)
	defer d.stop(t)
	h.cccd++
	st, serial := h.enrol(t, "https://"+d.https, fmt.Sprintf("0792030%05d", h.cccd))
	if st != http.StatusCreated {
		t.Fatalf("crl run %d: enrolment: HTTP %d", i, st)
	}
	cmd := exec.Command(crashKyso(t), append([]string{"cert", "revoke", serial, "--reason", "keyCompromise"}, h.dbArgs...)...)
	cmd.Env = append(os.Environ(), "KYSO_DATA="+h.data, "KYSO_KEYSTORE=", "KYSO_DB=", "KYSO_CRASH_AT="+crashpoint.CRLNumbered, "KYSO_CRASH_AFTER=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(out), "SIGKILL at "+crashpoint.CRLNumbered) {
		t.Fatalf("crl run %d: kyso cert revoke should have died making the CRL: %v (%v)\n%s", i, err, ee, out)
	}
	want, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		t.Fatalf("crl run %d: serial %q", i, serial)
	}
	for deadline := time.Now().Add(crashRecoveryBound); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get("http://" + d.pk + "/crl/issuing.crl")
		if err != nil {
			continue
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		crl, err := x509.ParseRevocationList(b.Bytes())
		if err != nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(want) == 0 {
				return 0
			}
		}
	}
	t.Logf("crl run %d: the CRL kysod serves does not list %s after %s", i, serial, crashRecoveryBound)
	return 1
}
