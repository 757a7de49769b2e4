package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/kyso-pki/kyso/cmd/internal/txcheck"
	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// The crash harness (issue 16): kysod killed with SIGKILL at named points
// of the SmartCA and CSC signHash paths, restarted, and judged from the
// database and from the relying party's side once recovery has run.
//
// KYSO_CRASH_RUNS runs per point and database (3 by default, so that
// `make test` stays within minutes). KYSO_CRASH_POINTS, a comma-separated
// list, picks points.
//
// A SmartCA run: the portal submits crashOwners transactions of
// crashHashes hashes, one per owner, and every owner approves at once;
// kysod — a build with the crashpoint hook (-tags kysocrash) — kills
// itself at the point, or, for the point "responses", the harness kills it
// once the first approval is answered (observed progress: the scenario of
// issue 16, which needs no hook and so also runs against code without
// one). A normal build restarts on the same data and the harness waits for
// recovery (crashRecoveryBound), then counts, as violations:
//
//   - stuck: a transaction still `approved`;
//   - lost webhook: a transaction in a final state whose webhook with that
//     state never reached the portal;
//   - wrong key: a delivery whose Idempotency-Key header or
//     data.idempotency_key is not "<tran_code>:<status>";
//   - unaudited signature: a transaction signed with fewer
//     signature.create events (intent or ok) than the signatures the
//     portal received;
//   - false claim: a signature.create ok event of a transaction that is not
//     signed (a signature the log says was made and nobody received);
//   - integrity: SQLite's integrity_check and foreign_key_check not clean.
//
// A CSC run is runCSC's. The harness resets each owner's last TOTP step
// between runs (an owner passes its factors once per 30-second step, and a
// run takes seconds): a test device on the test's own database, not
// something kysod offers.
const (
	crashOwners    = 4
	crashHashes    = 400
	crashCSCHashes = 50
)

// crashPoints are the points a run kills kysod at; hooked ones name a
// crashpoint.
var crashPoints = []struct {
	name   string
	hooked bool
	// after: the hit of the point that kills (KYSO_CRASH_AFTER).
	after int
	// csc: the run drives CSC signHash, not SmartCA transactions.
	csc bool
}{
	{"responses", false, 0, false},
	{crashpoint.Approved, true, 2, false},
	{crashpoint.MidBatch, true, 1, false},
	{crashpoint.Signed, true, 2, false},
	{crashpoint.Delivered, true, 1, false},
	{crashpoint.Spent, true, 2, true},
}

// crashConfig is kysod's configuration in the harness: no rate limits
// (every owner approves at once), a short approval lease and quick sweeps
// so that recovery is due within seconds of a restart, and transactions
// that outlive the session: a transaction an earlier run left pending must
// not expire, and its webhook trip a later run's crash point.
const crashConfig = `rate_limits: {per_source: {rate: -1}, per_client: {rate: -1}}
signing: {approval_lease: 3s, transaction_lifetime: 24h}
webhooks: {interval: 250ms, timeout: 2s, batch: 5}
`

// crashRecoveryBound is how long after the restart every transaction must
// have left `approved` and every final state must have reached the
// portal: the approval lease, a few sweeps and webhook leases, slack.
const crashRecoveryBound = 40 * time.Second

// crashBuilds are the binaries built with the crashpoint hook, by
// package.
var crashBuilds struct {
	sync.Mutex
	bins map[string]string
}

// crashBuild builds the package pkg (relative to this one) with the
// crashpoint hook as name, once per test binary, and returns its path.
func crashBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	binaries(t)
	crashBuilds.Lock()
	defer crashBuilds.Unlock()
	if bin, ok := crashBuilds.bins[pkg]; ok {
		return bin
	}
	bin := filepath.Join(binDir, name)
	if out, err := exec.Command("go", "build", "-tags", "kysocrash", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatal(&buildError{pkg + " -tags kysocrash", string(out), err})
	}
	if crashBuilds.bins == nil {
		crashBuilds.bins = map[string]string{}
	}
	crashBuilds.bins[pkg] = bin
	return bin
}

// crashBinary is kysod built with the crashpoint hook.
func crashBinary(t *testing.T) string { return crashBuild(t, ".", "kysod-crash") }

// crashKyso is the kyso CLI built with the crashpoint hook.
func crashKyso(t *testing.T) string { return crashBuild(t, "../kyso", "kyso-crash") }

// crashRuns is KYSO_CRASH_RUNS, the runs per point and database (3 by
// default), and picked reports whether KYSO_CRASH_POINTS (a
// comma-separated list; empty: all) names a point.
func crashRuns(t *testing.T) (runs int, picked func(string) bool) {
	t.Helper()
	runs = 3
	if v := os.Getenv("KYSO_CRASH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("KYSO_CRASH_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	want := map[string]bool{}
	for _, p := range strings.Split(os.Getenv("KYSO_CRASH_POINTS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			want[p] = true
		}
	}
	return runs, func(p string) bool { return len(want) == 0 || want[p] }
}

// TestCrashRecovery runs the harness on SQLite and PostgreSQL and prints
// the table: point × database × runs × violations, which must all be 0.
func TestCrashRecovery(t *testing.T) {
	runs, picked := crashRuns(t)
	var table []string
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			h := newCrashHarness(t, db)
			for _, p := range crashPoints {
				if !picked(p.name) {
					continue
				}
				var total crashCounts
				for i := range runs {
					if p.csc {
						total.Add(h.runCSC(t, p.name, p.after, i))
					} else {
						total.Add(h.run(t, p.name, p.hooked, p.after, i))
					}
					if (i+1)%10 == 0 && i+1 < runs {
						t.Logf("%s on %s: %d runs so far: %s", p.name, db, i+1, total)
					}
				}
				row := fmt.Sprintf("| %-10s | %-8s | %4d | %s |", p.name, db, runs, total)
				table = append(table, row)
				t.Log(row)
				if total.Violations() > 0 {
					t.Errorf("%s on %s: %s", p.name, db, total)
				}
			}
		})
	}
	t.Logf("crash harness:\n| point      | database | runs | violations: stuck, lost webhooks, wrong idempotency keys, unaudited signatures, false claims, double signatures, integrity | seen: signed, failed, pending, duplicate deliveries |\n%s", strings.Join(table, "\n"))
}

// crashCounts are a run's findings (txcheck's): violations first, then
// what happened. For a CSC run, signed counts signHash calls answered with
// signatures and failed the SADs spent with nothing delivered (a CSC
// client authorises again).
type crashCounts = txcheck.Counts

// crashOwner is an enrolled owner.
type crashOwner struct {
	nationalID, pin, otpauth, credentialID string
}

type crashHarness struct {
	db, dsn, data, config string
	kysod, crash, kyso    string
	env, dbArgs           []string
	sql                   *sql.DB
	owners                []crashOwner
	clientID, secret      string
	hc                    *http.Client
	// portal receives the webhooks.
	portal txcheck.Receiver
}

func newCrashHarness(t *testing.T, db string) *crashHarness {
	kysod, kyso := binaries(t)
	h := &crashHarness{db: db, kysod: kysod, kyso: kyso, crash: crashBinary(t)}
	dir := t.TempDir()
	h.data = filepath.Join(dir, "data")
	h.config = filepath.Join(dir, "kysod.yaml")
	if err := os.WriteFile(h.config, []byte(crashConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = []string{"KYSO_CONFIG=" + h.config}
	driver := "sqlite"
	if db == "postgres" {
		h.dsn = testenv.NewPostgres(t)
		h.env = append(h.env, "KYSO_DB="+h.dsn)
		h.dbArgs = []string{"--db", h.dsn}
		driver = "pgx"
	}
	receiver := httptest.NewServer(&h.portal)
	t.Cleanup(receiver.Close)

	d := startKysod(t, kysod, h.data, h.env...)
	if db == "sqlite" {
		h.dsn = "file:" + filepath.Join(h.data, "kyso.db") + "?_pragma=busy_timeout(10000)"
	}
	var err error
	if h.sql, err = sql.Open(driver, h.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sql.Close() })
	for i := range crashOwners {
		o := crashOwner{nationalID: fmt.Sprintf("07920300%04d", 9000+i), pin: "135792"}
		var en struct {
			OTPAuth      string `json:"otpauth_uri"`
			CredentialID string `json:"credential_id"`
		}
		args := []string{"enroll", "--cccd", o.nationalID, "--name", "Người Ký Thử", "--province", "Huế", "--pin", o.pin, "--output", "json"}
		out := runKyso(t, kyso, h.data, nil, append(args, h.dbArgs...)...)
		if err := json.Unmarshal([]byte(out), &en); err != nil || en.OTPAuth == "" {
			t.Fatalf("kyso enroll: %v: %s", err, out)
		}
		o.otpauth, o.credentialID = en.OTPAuth, en.CredentialID
		h.owners = append(h.owners, o)
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	out := runKyso(t, kyso, h.data, nil, append([]string{"client", "create", "--name", "Cổng thử sự cố", "--webhook", receiver.URL + "/hook", "--output", "json"}, h.dbArgs...)...)
	if err := json.Unmarshal([]byte(out), &cl); err != nil || cl.ID == "" {
		t.Fatalf("kyso client create: %v: %s", err, out)
	}
	h.clientID, h.secret = cl.ID, cl.Secret
	h.hc = httpsClient(fetchPEM(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(dir, "root.pem")))
	h.hc.Timeout = 120 * time.Second
	d.stop(t)
	return h
}

// post sends a JSON request and decodes the answer into out (when not nil).
func (h *crashHarness) post(url, token string, body, out any) (int, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, nil
}

// run is one run at point: it returns what it found.
func (h *crashHarness) run(t *testing.T, point string, hooked bool, after, i int) crashCounts {
	t.Helper()
	prefix := fmt.Sprintf("%s-%s-%d-", h.db, point, i)
	// Each owner approves again in this run (see the package comment).
	if _, err := h.sql.Exec(`UPDATE owners SET totp_last_step = 0, pin_failures = 0, locked_until = NULL`); err != nil {
		t.Fatalf("resetting TOTP steps: %v", err)
	}
	bin, env := h.kysod, h.env
	if hooked {
		bin, env = h.crash, append(append([]string(nil), env...), "KYSO_CRASH_AT="+point, "KYSO_CRASH_AFTER="+strconv.Itoa(after))
	}
	d := startKysod(t, bin, h.data, env...)
	base := "https://" + d.https
	exited := make(chan struct{})
	go func() { d.cmd.Wait(); close(exited) }()

	// early reports whether kysod has already reached the crash point:
	// at "delivered", the delivery of an earlier run's webhook (a
	// transaction it left pending, expired or failed now) may come first.
	// The run then stops driving kysod and goes on to the restart, judged
	// on what it submitted.
	// A request that failed waits a moment for the exit to be seen: the
	// connection breaks before Wait returns.
	early := func(wait time.Duration) bool {
		select {
		case <-exited:
			return true
		default:
		}
		select {
		case <-exited:
			return true
		case <-time.After(wait):
			return false
		}
	}
	// Submit one transaction per owner.
	codes := make([]string, len(h.owners))
	for k, o := range h.owners {
		files := make([]map[string]string, crashHashes)
		for j := range files {
			digest := make([]byte, 32)
			rand.Read(digest)
			files[j] = map[string]string{"doc_id": fmt.Sprintf("doc-%d", j), "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(digest)}
		}
		var ans struct {
			Data struct {
				TranCode string `json:"tran_code"`
			} `json:"data"`
		}
		st, err := h.post(base+"/smartca/v1/signatures/sign", "", map[string]any{"sp_id": h.clientID, "sp_password": h.secret,
			"user_id": o.nationalID, "transaction_id": prefix + strconv.Itoa(k), "sign_files": files}, &ans)
		if err != nil || st != 200 || ans.Data.TranCode == "" {
			if early(5 * time.Second) {
				break
			}
			t.Fatalf("run %s: signatures/sign: %d %v", prefix, st, err)
		}
		codes[k] = ans.Data.TranCode
	}
	if !early(0) {
		h.approveAll(t, base, prefix, codes, hooked, d, early)
	}
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		d.cmd.Process.Kill()
		t.Fatalf("run %s: kysod never reached crash point %s", prefix, point)
	}

	// Restart on the same data; recovery runs.
	d = startKysod(t, h.kysod, h.data, h.env...)
	defer d.stop(t)
	var c crashCounts
	deadline := time.Now().Add(crashRecoveryBound)
	for {
		c = h.judge(t, prefix)
		if c.Stuck+c.Lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if c.Violations() > 0 {
		t.Logf("run %s: %s", prefix, c)
	}
	return c
}

// approveAll has every owner of a run log in and then approve their
// transaction (codes) at once; unless hooked, it kills kysod once the
// first approval is answered (the point "responses"). A login refused
// because kysod already died at its crash point ends it early.
func (h *crashHarness) approveAll(t *testing.T, base, prefix string, codes []string, hooked bool, d *daemon, early func(time.Duration) bool) {
	t.Helper()
	// Every owner logs in, then all approve at once: the login spends the
	// code of the step now, the approval the next step's, which the
	// service takes within its window of one step either way, even when
	// a step ends between making a code and checking it (a code of the
	// step before now would then be two steps old, and refused).
	tokens := make([]string, len(h.owners))
	for k, o := range h.owners {
		otp, err := signing.TOTPCode(o.otpauth, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var login struct {
			AccessToken string `json:"access_token"`
		}
		st, err := h.post(base+"/owner/v1/login", "", map[string]string{"national_id": "CCCD:" + o.nationalID, "pin": o.pin, "otp": otp}, &login)
		if err != nil || login.AccessToken == "" {
			if early(5 * time.Second) {
				return
			}
			t.Fatalf("run %s: owner login: %d %v", prefix, st, err)
		}
		tokens[k] = login.AccessToken
	}
	answered := make(chan int, len(h.owners))
	for k, o := range h.owners {
		go func() {
			otp, _ := signing.TOTPCode(o.otpauth, time.Now().Add(30*time.Second))
			st, _ := h.post(base+"/owner/v1/transactions/"+codes[k]+"/approve", tokens[k], map[string]string{"pin": o.pin, "otp": otp}, nil)
			answered <- st
		}()
	}
	if !hooked {
		// Observed progress: the first approval answered, the others
		// in flight.
		select {
		case <-answered:
		case <-time.After(60 * time.Second):
			t.Fatalf("run %s: no approval answered within 60s", prefix)
		}
		d.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// judge counts the findings of the run whose transaction IDs start with
// prefix, from the database and the portal's deliveries.
func (h *crashHarness) judge(t *testing.T, prefix string) crashCounts {
	t.Helper()
	c, n, err := txcheck.Transactions(context.Background(), h.sql, prefix, h.portal.Deliveries())
	if err != nil {
		t.Fatal(err)
	}
	if n != crashOwners {
		t.Fatalf("run %s: %d transactions recorded, want %d", prefix, n, crashOwners)
	}
	c.Integrity = h.integrity(t)
	return c
}

// integrity counts what SQLite's integrity_check and foreign_key_check
// find wrong (PostgreSQL has no such check to run on a live database).
func (h *crashHarness) integrity(t *testing.T) int {
	t.Helper()
	n, first, err := txcheck.Integrity(context.Background(), h.sql, h.db)
	if err != nil {
		t.Fatal(err)
	}
	if first != "" {
		t.Log(first)
	}
	return n
}

// runCSC is one run of CSC signHash at point: every owner authorises
// crashCSCHashes hashes, then all sign at once; kysod dies at the point
// (after a signHash spent its SAD, before it signed). Restarted, the
// harness sends each signHash again with the same SAD. It counts a SAD
// that gave signatures twice (double), a signature received with no
// signature.create intent naming its digest (unaudited), and integrity.
func (h *crashHarness) runCSC(t *testing.T, point string, after, i int) crashCounts {
	t.Helper()
	if _, err := h.sql.Exec(`UPDATE owners SET totp_last_step = 0, pin_failures = 0, locked_until = NULL`); err != nil {
		t.Fatalf("resetting TOTP steps: %v", err)
	}
	env := append(append([]string(nil), h.env...), "KYSO_CRASH_AT="+point, "KYSO_CRASH_AFTER="+strconv.Itoa(after))
	d := startKysod(t, h.crash, h.data, env...)
	exited := make(chan struct{})
	go func() { d.cmd.Wait(); close(exited) }()
	ctx := context.Background()
	client := func(d *daemon) *csc.Client {
		return &csc.Client{BaseURL: "https://" + d.https + "/csc/v2", ClientID: h.clientID, ClientSecret: h.secret, HTTPClient: h.hc}
	}
	c := client(d)
	type auth struct {
		cred, sad, algo string
		digests         [][]byte
		got             int // signHash calls answered with signatures
	}
	auths := make([]*auth, len(h.owners))
	received := map[string]bool{} // digests, base64
	for k, o := range h.owners {
		a := &auth{cred: o.credentialID, digests: make([][]byte, crashCSCHashes)}
		for j := range a.digests {
			a.digests[j] = make([]byte, 32)
			rand.Read(a.digests[j])
		}
		info, err := c.CredentialInfo(ctx, a.cred)
		if err != nil {
			t.Fatalf("credentials/info: %v", err)
		}
		a.algo = algid.SHA256WithRSA.String()
		if info.Key.Curve != "" {
			a.algo = algid.ECDSAWithSHA256.String()
		}
		otp, err := signing.TOTPCode(o.otpauth, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if a.sad, err = c.Authorize(ctx, a.cred, a.digests, crypto.SHA256, o.pin, otp); err != nil {
			t.Fatalf("credentials/authorize: %v", err)
		}
		auths[k] = a
	}
	var mu sync.Mutex
	sign := func(c *csc.Client, a *auth) {
		sigs, err := c.SignHash(ctx, a.cred, a.sad, a.digests, crypto.SHA256, a.algo)
		if err != nil || len(sigs) != len(a.digests) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		a.got++
		for _, dg := range a.digests {
			received[base64.StdEncoding.EncodeToString(dg)] = true
		}
	}
	var wg sync.WaitGroup
	for _, a := range auths {
		wg.Go(func() { sign(c, a) })
	}
	wg.Wait()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		t.Fatalf("run %d: kysod never reached crash point %s", i, point)
	}
	d = startKysod(t, h.kysod, h.data, h.env...)
	defer d.stop(t)
	c = client(d)
	for _, a := range auths {
		sign(c, a)
	}
	var n crashCounts
	for _, a := range auths {
		switch a.got {
		case 0:
			n.Failed++
		case 1:
			n.Signed++
		default:
			n.Doubles++
		}
	}
	intents, err := txcheck.Intents(ctx, h.sql)
	if err != nil {
		t.Fatal(err)
	}
	for dg := range received {
		if !intents[dg] {
			n.Unaudited++
		}
	}
	n.Integrity = h.integrity(t)
	if n.Violations() > 0 {
		t.Logf("CSC run %d: %s", i, n)
	}
	return n
}
