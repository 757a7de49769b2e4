// Package replicabench is `kyso bench replicas` (issue 19): N kysod
// processes on one PostgreSQL database and one data directory (the key
// store's files and the secrets key every replica shares) behind one
// address (Front, a round-robin TCP proxy inside the bench), under a mixed
// load — enrolments through the officers' API, CSC authorize+signHash,
// SmartCA transactions approved by their owners with webhooks to a portal,
// OCSP — first against one kysod alone (the baseline: one process's limit
// on this machine), then against all N, one of them killed with SIGKILL
// mid-run and started again. Then it judges, from the database and from
// the portal's side (cmd/internal/txcheck, as the crash harness does):
// no transaction lost or doubled, none left approved, every final state's
// webhook delivered under its idempotency key, no SAD that signed twice,
// every signature received audited, no duplicate serial, every OCSP
// answer good and verified.
package replicabench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx", for the checks
	"golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
	"github.com/kyso-pki/kyso/cmd/internal/bench/cscbench"
	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/cmd/internal/txcheck"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// The load's kinds, one row each.
const (
	// KindEnrol is POST /admin/v1/enrolments by an officer's client: a
	// new owner, key and certificate, the PIN hashed with kysod's argon2id.
	KindEnrol = "enrol"
	// KindSignHash is CSC credentials/authorize then signatures/signHash
	// of Options.Hashes hashes.
	KindSignHash = "authorize+signHash"
	// KindSmartCA is a SmartCA transaction of Options.Hashes hashes
	// submitted by the portal and approved by its owner (owners' API),
	// its webhook delivered to the portal.
	KindSmartCA = "smartca"
	// KindOCSP is an OCSP request (POST) for an enrolled certificate.
	KindOCSP = "ocsp"
)

// Kinds are the rows, in order.
var Kinds = []string{KindEnrol, KindSignHash, KindSmartCA, KindOCSP}

// Options describe a run. Zero values are the defaults named.
type Options struct {
	// Kysod is the kysod binary (required).
	Kysod string
	// DSN names the PostgreSQL database the replicas share (required); it
	// should be empty: kysod migrates it and makes a development CA.
	DSN string
	// Dir is where the data directory is made (required).
	Dir string
	// Replicas is how many kysod run (3).
	Replicas int
	// Duration is how long the replicas are driven (1 minute); Baseline
	// how long one kysod alone is, first (a quarter of Duration).
	Duration, Baseline time.Duration
	// KillAt is when, as a share of Duration, one replica is killed (0.4);
	// Down how long it stays down before it is started again (5 s).
	KillAt float64
	Down   time.Duration
	// Owners is how many owners each of authorize+signHash and SmartCA
	// has (200): an owner passes PIN and code once per 30-second TOTP step,
	// so Owners ÷ 30 per second bounds each kind.
	Owners int
	// Hashes is how many hashes one SAD and one transaction sign (20).
	Hashes int
	// Clients are the concurrent clients per kind (enrol 1, signHash 4,
	// SmartCA 2, OCSP 2).
	Clients map[string]int
	// Keep, when not empty, is a directory where the run leaves, for an
	// outside checker: root.pem, issuing.pem, cert.pem (an enrolled
	// certificate) and ocsp.der, the OCSP response about it served
	// through the front after the load.
	Keep string
	// Log receives progress; nil discards it.
	Log io.Writer
}

// Report is what a run measured and found.
type Report struct {
	Machine  bench.Machine `json:"machine"`
	Replicas int           `json:"replicas"`
	// Front says what stands in front of the replicas.
	Front string `json:"front"`
	// Hashes and Owners are Options'.
	Hashes int `json:"hashes"`
	Owners int `json:"owners"`
	// Clients are per kind.
	Clients map[string]int `json:"clients"`
	// Phases are the baseline (one kysod) and the replicas' run.
	Phases []Phase `json:"phases"`
	// Kill is the replica killed mid-run.
	Kill *Kill `json:"kill,omitempty"`
	// Connections counts the front's connections per replica in the
	// replicas' run (a restarted replica is a new address).
	Connections map[string]int64 `json:"connections"`
	// Checks are the invariants' counts.
	Checks Checks `json:"checks"`
	// Errors are the first errors seen per kind.
	Errors []string `json:"errors,omitempty"`
}

// Phase is one load phase.
type Phase struct {
	// Name is "1 kysod" or "N kysod".
	Name     string  `json:"name"`
	Replicas int     `json:"replicas"`
	Seconds  float64 `json:"seconds"`
	Rows     []Row   `json:"rows"`
}

// Row is one kind's figures in a phase.
type Row struct {
	Kind string `json:"kind"`
	// Ops are the operations answered as they should be; Signatures the
	// signatures in them.
	Ops        int64 `json:"ops"`
	Signatures int64 `json:"signatures"`
	// Failed are operations answered otherwise; Interrupted those whose
	// connection broke (a replica killed) and were sent again or given up.
	Failed      int64   `json:"failed"`
	Interrupted int64   `json:"interrupted"`
	PerSecond   float64 `json:"per_second"`
	SigPerSec   float64 `json:"signatures_per_second,omitempty"`
	P50         float64 `json:"p50"`
	P99         float64 `json:"p99"`
	// VsOne is PerSecond over the baseline's (the replicas' phase only).
	VsOne float64 `json:"vs_one,omitempty"`
	// OwnerWait is the share of the clients' time spent waiting for an
	// owner with an unused TOTP step (signing kinds): near 1, the
	// owners, not kysod, bound the row.
	OwnerWait float64 `json:"owner_wait,omitempty"`
}

// Kill says which replica was killed, when and for how long.
type Kill struct {
	Replica int     `json:"replica"`
	At      float64 `json:"at_seconds"`
	Down    float64 `json:"down_seconds"`
	// Restarted is how long it took to serve again after its start.
	Restarted float64 `json:"restart_seconds"`
}

// Checks are the invariants, counted after the load stopped and recovery
// ran. Every count named a violation must be 0.
type Checks struct {
	// Transactions are the SmartCA transactions judged; Judged txcheck's
	// counts over them (violations: stuck, lost webhooks, wrong keys,
	// unaudited, false claims).
	Transactions int            `json:"transactions"`
	Judged       txcheck.Counts `json:"judged"`
	// LostTransactions: submissions answered with a tran_code the
	// database does not hold, or approvals answered "signed" whose
	// transaction is not signed. DoubledTransactions: a portal
	// transaction ID recorded more than once.
	LostTransactions    int `json:"lost_transactions"`
	DoubledTransactions int `json:"doubled_transactions"`
	// WebhookKeys are the idempotency keys delivered; Duplicates the
	// deliveries after a key's first; UnexplainedDuplicates those whose
	// first delivery the killed replica cannot have made (it came more
	// than a webhook lease before the kill, or after it): a violation.
	WebhookKeys           int `json:"webhook_keys"`
	Duplicates            int `json:"duplicate_deliveries"`
	UnexplainedDuplicates int `json:"unexplained_duplicates"`
	// SADs are the CSC authorisations made; DoubleSAD those answered with
	// signatures twice; Unaudited the digests signed without a
	// signature.create intent; BadSignatures those that do not verify
	// with the owner's certificate.
	SADs          int `json:"sads"`
	DoubleSAD     int `json:"double_sad"`
	Unaudited     int `json:"unaudited_digests"`
	BadSignatures int `json:"bad_signatures"`
	// Serials are the enrolments answered; DuplicateSerials serials
	// answered twice or stored twice in the database (any issuer);
	// MissingSerials answered but not stored.
	Serials          int `json:"serials"`
	DuplicateSerials int `json:"duplicate_serials"`
	MissingSerials   int `json:"missing_serials"`
	// OCSP are the responses checked (signature, certificate ID, good);
	// BadOCSP those that failed.
	OCSP    int64 `json:"ocsp"`
	BadOCSP int64 `json:"bad_ocsp"`
}

// Violations is the sum of the counts that must be 0.
func (c Checks) Violations() int {
	return c.Judged.Violations() + c.LostTransactions + c.DoubledTransactions + c.UnexplainedDuplicates +
		c.DoubleSAD + c.Unaudited + c.BadSignatures + c.DuplicateSerials + c.MissingSerials + int(c.BadOCSP)
}

// config is the replicas' kysod.yaml: no rate limits (one bench client
// is every portal at once), a short approval lease and quick webhook
// rounds, so that what a killed replica held is recovered within seconds.
const config = `rate_limits: {per_source: {rate: -1}, per_client: {rate: -1}}
signing: {approval_lease: 10s}
webhooks: {interval: 500ms, timeout: 2s, batch: 5}
`

// webhookLease is how long a claimed batch of webhooks stays leased with
// config's settings: (batch+1) × timeout. A killed replica may have
// delivered a webhook claimed that long before it died.
const webhookLease = 12 * time.Second

// recoveryBound is how long after the load stops every transaction must
// have left approved and every final state have reached the portal.
const recoveryBound = 60 * time.Second

// prefix starts every portal transaction ID of a run.
const prefix = "rb"

// benchPIN is every owner's PIN.
const benchPIN = "246810"

// cheapPassword hashes the PINs of the owners enrolled before the load:
// their PIN check is not what the run measures (the enrol row's PINs are
// hashed by kysod with its own parameters).
var cheapPassword = signing.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}

func (o *Options) defaults() error {
	if o.Kysod == "" || o.DSN == "" || o.Dir == "" {
		return errors.New("replicabench: the kysod binary, a PostgreSQL DSN and a directory are required")
	}
	if o.Replicas <= 0 {
		o.Replicas = 3
	}
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.Baseline <= 0 {
		o.Baseline = o.Duration / 4
	}
	if o.KillAt <= 0 || o.KillAt >= 1 {
		o.KillAt = 0.4
	}
	if o.Down <= 0 {
		o.Down = 5 * time.Second
	}
	if o.Owners <= 0 {
		o.Owners = 200
	}
	if o.Hashes <= 0 {
		o.Hashes = 20
	}
	def := map[string]int{KindEnrol: 1, KindSignHash: 4, KindSmartCA: 2, KindOCSP: 2}
	if o.Clients == nil {
		o.Clients = map[string]int{}
	}
	for k, v := range def {
		if _, ok := o.Clients[k]; !ok {
			o.Clients[k] = v
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// run is the state of one run.
type run struct {
	o        *Options
	env      []string
	data     string
	replicas []*cscbench.Kysod
	front    *Front
	pkiFront *Front
	portal   txcheck.Receiver
	hc       *http.Client
	tr       *rotating
	issuer   *x509.Certificate
	csc      *csc.Client
	officer  *csc.Client
	cscOwn   *pool
	caOwn    *pool
	certs    []*x509.Certificate // OCSP's
	spID     string
	spSecret string
	enrolled atomic.Int64

	mu        sync.Mutex
	submitted map[string]string // portal transaction ID → tran_code
	signedOK  map[string]bool   // tran_codes whose approval answered signed
	serials   map[string]int    // enrolment serials answered (hex)
	sads      map[string]int    // SAD → answers with signatures
	received  map[string]bool   // digests signed (base64)
	errs      map[string]string // first error per kind
	checks    Checks
	killedAt  time.Time
}

// Run runs the bench.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &run{o: &o, submitted: map[string]string{}, signedOK: map[string]bool{}, serials: map[string]int{},
		sads: map[string]int{}, received: map[string]bool{}, errs: map[string]string{}}
	defer r.close()
	rep := &Report{Machine: bench.ThisMachine(), Replicas: o.Replicas, Hashes: o.Hashes, Owners: o.Owners, Clients: o.Clients,
		Front: "round-robin TCP proxy in the bench (TLS passed through), one for HTTPS and one for the PKI routes; the clients' keep-alive connections are replaced every 2 s, so that load spreads again after a kill"}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	// The baseline: one kysod, the others already running (idle but for
	// their background rounds).
	r.front.SetBackends(hostPort(r.replicas[0].URL))
	r.pkiFront.SetBackends(hostPort(r.replicas[0].PKI))
	fmt.Fprintf(o.Log, "replicas: baseline, 1 kysod, %v…\n", o.Baseline)
	base := r.load(ctx, "1 kysod", 1, o.Baseline, nil)
	rep.Phases = append(rep.Phases, base)
	r.spread()
	fmt.Fprintf(o.Log, "replicas: %d kysod, %v, replica 2 killed at %v…\n", o.Replicas, o.Duration, time.Duration(o.KillAt*float64(o.Duration)).Round(time.Second))
	kill := &Kill{Replica: min(2, o.Replicas) - 1}
	phase := r.load(ctx, fmt.Sprintf("%d kysod", o.Replicas), o.Replicas, o.Duration, func(start time.Time) {
		r.killAndRestart(ctx, start, kill)
	})
	for i, row := range phase.Rows {
		if b := base.Rows[i].PerSecond; b > 0 {
			phase.Rows[i].VsOne = row.PerSecond / b
		}
	}
	rep.Phases = append(rep.Phases, phase)
	rep.Kill = kill
	rep.Connections = r.front.Connections()
	if o.Keep != "" {
		if err := r.keep(ctx); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(o.Log, "replicas: load stopped; waiting for recovery and judging…\n")
	if err := r.judge(ctx, kill); err != nil {
		return nil, err
	}
	rep.Checks = r.checks
	for _, k := range Kinds {
		if e := r.errs[k]; e != "" {
			rep.Errors = append(rep.Errors, k+": "+e)
		}
	}
	return rep, nil
}

func hostPort(u string) string {
	for _, p := range []string{"https://", "http://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			return u[len(p):]
		}
	}
	return u
}

// spread points the fronts at every replica.
func (r *run) spread() {
	var https, pki []string
	for _, k := range r.replicas {
		https, pki = append(https, hostPort(k.URL)), append(pki, hostPort(k.PKI))
	}
	r.front.SetBackends(https...)
	r.pkiFront.SetBackends(pki...)
}

func (r *run) close() {
	if r.tr != nil {
		r.tr.close()
	}
	for _, k := range r.replicas {
		if k != nil {
			k.Close()
		}
	}
	if r.front != nil {
		r.front.Close()
	}
	if r.pkiFront != nil {
		r.pkiFront.Close()
	}
}

// setup starts the replicas and the fronts, and enrols the owners, a
// portal and an officer's client.
func (r *run) setup(ctx context.Context) error {
	o := r.o
	r.data = filepath.Join(o.Dir, "data")
	cfg := filepath.Join(o.Dir, "kysod.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return err
	}
	r.env = []string{"KYSO_DB=" + o.DSN, "KYSO_CONFIG=" + cfg}
	var err error
	if r.front, err = NewFront(); err != nil {
		return err
	}
	if r.pkiFront, err = NewFront(); err != nil {
		return err
	}
	portal := httptest.NewServer(&r.portal)
	go func() { <-ctx.Done(); portal.Close() }()
	// The first replica makes the development CA; the others start on
	// what it made.
	for i := range o.Replicas {
		k, err := cscbench.StartKysod(ctx, o.Kysod, r.data, r.env...)
		if err != nil {
			return err
		}
		r.replicas = append(r.replicas, k)
		fmt.Fprintf(o.Log, "replicas: kysod %d (pid %d) serving at %s\n", i+1, k.PID(), k.URL)
	}
	r.tr = newRotating(r.replicas[0].Roots)
	r.hc = &http.Client{Transport: r.tr, Timeout: 2 * time.Minute}
	resp, err := http.Get(r.replicas[0].PKI + "/ca/issuing.crt")
	if err != nil {
		return err
	}
	der, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if r.issuer, err = x509.ParseCertificate(der); err != nil {
		return fmt.Errorf("replicabench: the issuing CA's certificate: %w", err)
	}

	r.spread()
	fmt.Fprintf(o.Log, "replicas: enrolling 2 × %d owners (cheap PIN hashes)…\n", o.Owners)
	t0 := time.Now()
	ens, sp, officer, err := r.enrol(ctx, portal.URL+"/hook")
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "replicas: enrolled in %.1fs\n", time.Since(t0).Seconds())
	r.spID, r.spSecret = sp.ID, sp.Secret
	base := "https://" + r.front.Addr()
	r.csc = &csc.Client{BaseURL: base + "/csc/v2", ClientID: sp.ID, ClientSecret: sp.Secret, HTTPClient: r.hc}
	r.officer = &csc.Client{BaseURL: base + "/csc/v2", ClientID: officer.ID, ClientSecret: officer.Secret, HTTPClient: r.hc, Scope: signing.ScopeEnrol}
	r.cscOwn, r.caOwn = &pool{}, &pool{}
	for i, en := range ens {
		r.certs = append(r.certs, en.Certificate)
		ow := &benchOwner{en: en}
		if i%2 == 0 {
			r.cscOwn.q = append(r.cscOwn.q, ow)
			continue
		}
		// SmartCA owners log in once, with this step's code; each
		// approval then takes a later step.
		ow.api = &owner.Client{BaseURL: base + "/owner/v1", HTTPClient: r.hc}
		ow.last = step(time.Now())
		code, err := signing.TOTPCode(en.TOTPURI, stepTime(ow.last))
		if err != nil {
			return err
		}
		if _, err := ow.api.Login(ctx, &owner.LoginRequest{NationalID: en.NationalID, PIN: benchPIN, OTP: code}); err != nil {
			return fmt.Errorf("replicabench: owner login: %w", err)
		}
		r.caOwn.q = append(r.caOwn.q, ow)
	}
	return nil
}

// enrol enrols 2 × Owners owners with cheap PIN hashes, a portal with the
// webhook URL hook and an officer's client, in the replicas' data
// directory and database, as `kyso enroll` and `kyso client create` do.
func (r *run) enrol(ctx context.Context, hook string) ([]*signing.Enrolment, *signing.ClientCredentials, *signing.ClientCredentials, error) {
	dir, err := datadir.Load(r.data)
	if err != nil {
		return nil, nil, nil, err
	}
	dir.Config.DB = r.o.DSN
	opened, err := dir.Open(ctx, &datadir.Options{Actor: "kyso-bench"})
	if err != nil {
		return nil, nil, nil, err
	}
	defer opened.Close()
	svc, err := opened.SigningWith(dir, signing.Config{SkipSignerCheck: true, Password: cheapPassword})
	if err != nil {
		return nil, nil, nil, err
	}
	runID := make([]byte, 2)
	rand.Read(runID)
	base := int(runID[0])<<8 | int(runID[1])
	n := 2 * r.o.Owners
	ens := make([]*signing.Enrolment, n)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: fmt.Sprintf("001%04d%05d", base%10000, i), Name: "Nguyễn Văn Bench", Province: "Hà Nội",
					PIN: benchPIN, Algorithm: hsm.ECDSAP256, Actor: "kyso-bench"})
				if err != nil {
					errc <- fmt.Errorf("replicabench: enrolling owner %d: %w", i+1, err)
					return
				}
				ens[i] = en
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, nil, nil, err
	default:
	}
	sp, err := svc.CreateClient(ctx, "Cổng bench nhân bản", hook, "kyso-bench")
	if err != nil {
		return nil, nil, nil, err
	}
	officer, err := svc.CreateClient(ctx, "Cán bộ bench", "", "kyso-bench", signing.AsOfficer())
	if err != nil {
		return nil, nil, nil, err
	}
	r.enrolled.Store(int64(base) * 100000)
	return ens, sp, officer, nil
}

// benchOwner is an owner of the load, with the last TOTP step it used.
type benchOwner struct {
	en   *signing.Enrolment
	last int64
	api  *owner.Client // SmartCA owners: logged in
}

func step(t time.Time) int64     { return t.Unix() / 30 }
func stepTime(s int64) time.Time { return time.Unix(s*30, 0) }
func code(o *benchOwner) string  { c, _ := signing.TOTPCode(o.en.TOTPURI, stepTime(o.last)); return c }
func randomDigest() []byte       { b := make([]byte, 32); rand.Read(b); return b }
func b64(b []byte) string        { return base64.StdEncoding.EncodeToString(b) }
func isAPIError(err error) bool {
	var c *csc.APIError
	var o *owner.APIError
	return errors.As(err, &c) || errors.As(err, &o)
}
func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// pool hands out owners least recently used first, each with a TOTP step
// it has not used: this step's, or the next (a code is accepted one step
// either way, each step once).
type pool struct {
	mu sync.Mutex
	q  []*benchOwner
	// waited is the time clients spent waiting for an owner with a
	// fresh step, in nanoseconds.
	waited atomic.Int64
}

func (p *pool) take(ctx context.Context) (*benchOwner, error) {
	t0 := time.Now()
	defer func() { p.waited.Add(int64(time.Since(t0))) }()
	for {
		p.mu.Lock()
		if len(p.q) > 0 {
			ow := p.q[0]
			now := step(time.Now())
			if u := max(ow.last+1, now); u <= now+1 {
				p.q = p.q[1:]
				ow.last = u
				p.mu.Unlock()
				return ow, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *pool) put(ow *benchOwner) {
	p.mu.Lock()
	p.q = append(p.q, ow)
	p.mu.Unlock()
}

// stats are one kind's figures in a phase.
type stats struct {
	mu                           sync.Mutex
	lat                          []time.Duration
	ops, sigs, failed, interrupt int64
}

func (s *stats) ok(d time.Duration, sigs int) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.ops++
	s.sigs += int64(sigs)
	s.mu.Unlock()
}

func (r *run) fail(kind string, s *stats, err error) {
	s.mu.Lock()
	s.failed++
	s.mu.Unlock()
	r.noteErr(kind, err)
}

func (r *run) noteErr(kind string, err error) {
	r.mu.Lock()
	if r.errs[kind] == "" {
		r.errs[kind] = err.Error()
	}
	r.mu.Unlock()
}

func (s *stats) interrupted() {
	s.mu.Lock()
	s.interrupt++
	s.mu.Unlock()
}

// load drives every kind for d; during is called once at the start, in
// its own goroutine.
func (r *run) load(ctx context.Context, name string, replicas int, d time.Duration, during func(start time.Time)) Phase {
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	st := map[string]*stats{}
	for _, k := range Kinds {
		st[k] = &stats{}
	}
	waited0 := map[string]int64{KindSignHash: r.cscOwn.waited.Load(), KindSmartCA: r.caOwn.waited.Load()}
	start := time.Now()
	var wg sync.WaitGroup
	// The clients' connections are replaced every 2 s: the next
	// requests dial again, through the front, to the replicas in turn.
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				r.tr.rotate()
			}
		}
	})
	if during != nil {
		wg.Go(func() { during(start) })
	}
	workers := map[string]func(context.Context, *stats){KindEnrol: r.enrolOne, KindSignHash: r.signHashOne, KindSmartCA: r.smartCAOne, KindOCSP: r.ocspOne}
	for _, k := range Kinds {
		for range r.o.Clients[k] {
			wg.Go(func() {
				for lctx.Err() == nil {
					workers[k](lctx, st[k])
				}
			})
		}
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	ph := Phase{Name: name, Replicas: replicas, Seconds: secs}
	for _, k := range Kinds {
		s := st[k]
		row := Row{Kind: k, Ops: s.ops, Signatures: s.sigs, Failed: s.failed, Interrupted: s.interrupt,
			P50: bench.Percentile(s.lat, 50), P99: bench.Percentile(s.lat, 99)}
		row.PerSecond = float64(s.ops) / secs
		if s.sigs > 0 {
			row.SigPerSec = float64(s.sigs) / secs
		}
		if w, ok := waited0[k]; ok && r.o.Clients[k] > 0 {
			p := r.cscOwn
			if k == KindSmartCA {
				p = r.caOwn
			}
			row.OwnerWait = time.Duration(p.waited.Load()-w).Seconds() / (secs * float64(r.o.Clients[k]))
		}
		ph.Rows = append(ph.Rows, row)
		fmt.Fprintf(r.o.Log, "  %-8s %-19s %7d ops %8.1f/s  p50 %s  p99 %s  failed %d  interrupted %d  owner wait %.0f%%\n", name, k, row.Ops, row.PerSecond,
			bench.Seconds(row.P50), bench.Seconds(row.P99), row.Failed, row.Interrupted, 100*row.OwnerWait)
	}
	return ph
}

// killAndRestart kills replica kill.Replica with SIGKILL at KillAt of the
// phase, keeps it down for Down, starts it again on the same data and
// database, and points the fronts at it again.
func (r *run) killAndRestart(ctx context.Context, start time.Time, kill *Kill) {
	at := start.Add(time.Duration(r.o.KillAt * float64(r.o.Duration)))
	sleepCtx(ctx, time.Until(at))
	if ctx.Err() != nil {
		return
	}
	k := r.replicas[kill.Replica]
	fmt.Fprintf(r.o.Log, "replicas: SIGKILL to kysod %d (pid %d)\n", kill.Replica+1, k.PID())
	killed := time.Now()
	k.Kill()
	kill.At = killed.Sub(start).Seconds()
	sleepCtx(ctx, r.o.Down)
	t0 := time.Now()
	nk, err := cscbench.StartKysod(ctx, r.o.Kysod, r.data, r.env...)
	if err != nil {
		r.noteErr("restart", err)
		return
	}
	kill.Restarted = time.Since(t0).Seconds()
	kill.Down = time.Since(killed).Seconds()
	r.mu.Lock()
	r.replicas[kill.Replica] = nk
	r.mu.Unlock()
	r.spread()
	fmt.Fprintf(r.o.Log, "replicas: kysod %d back (pid %d) after %.1fs down\n", kill.Replica+1, nk.PID(), kill.Down)
	r.mu.Lock()
	r.killedAt = killed
	r.mu.Unlock()
}

// retry runs f until it returns an answer or an API error; a broken
// connection (a replica killed) counts as interrupted and is sent again,
// up to 5 times, through a new connection.
func retry(ctx context.Context, s *stats, f func() error) error {
	var err error
	for range 5 {
		if err = f(); err == nil || isAPIError(err) || ctx.Err() != nil {
			return err
		}
		s.interrupted()
		sleepCtx(ctx, 100*time.Millisecond)
	}
	return err
}

// enrolOne enrols a new owner through the officers' API.
func (r *run) enrolOne(ctx context.Context, s *stats) {
	n := r.enrolled.Add(1)
	body, _ := json.Marshal(map[string]string{"cccd": fmt.Sprintf("002%09d", n%1e9), "name": "Trần Thị Nhân Bản", "province": "Hà Nội", "pin": benchPIN})
	var out struct {
		Serial string `json:"serial"`
	}
	t0 := time.Now()
	tries := 0
	err := retry(ctx, s, func() error {
		tries++
		tok, err := r.officer.Token(ctx)
		if err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.officer.BaseURL[:len(r.officer.BaseURL)-len("/csc/v2")]+"/admin/v1/enrolments", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := r.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusCreated {
			return &csc.APIError{Status: resp.StatusCode, Body: csc.Error{Error: "enrol", Description: string(b)}}
		}
		return json.Unmarshal(b, &out)
	})
	if ctx.Err() != nil && err != nil {
		return
	}
	var ae *csc.APIError
	if tries > 1 && errors.As(err, &ae) && ae.Status == http.StatusConflict {
		// The attempt whose connection broke enrolled the citizen: the
		// enrolment was made, its answer lost (counted interrupted).
		return
	}
	if err != nil || out.Serial == "" {
		r.fail(KindEnrol, s, fmt.Errorf("enrolment: %v (serial %q)", err, out.Serial))
		return
	}
	s.ok(time.Since(t0), 0)
	r.mu.Lock()
	r.serials[out.Serial]++
	r.mu.Unlock()
}

// signHashOne authorises Hashes digests for a CSC owner and signs them.
func (r *run) signHashOne(ctx context.Context, s *stats) {
	ow, err := r.cscOwn.take(ctx)
	if err != nil {
		return
	}
	defer r.cscOwn.put(ow)
	digests := make([][]byte, r.o.Hashes)
	for i := range digests {
		digests[i] = randomDigest()
	}
	t0 := time.Now()
	var sad string
	// An authorisation whose connection broke may have spent the step's
	// code: it is not sent again (the owner is tried at a later step).
	sad, err = r.csc.Authorize(ctx, ow.en.CredentialID, digests, crypto.SHA256, benchPIN, code(ow))
	if err != nil {
		if ctx.Err() == nil {
			if isAPIError(err) {
				r.fail(KindSignHash, s, fmt.Errorf("authorize: %w", err))
			} else {
				s.interrupted()
			}
		}
		return
	}
	r.mu.Lock()
	r.sads[sad] += 0
	r.mu.Unlock()
	var sigs [][]byte
	err = retry(ctx, s, func() error {
		var err error
		sigs, err = r.csc.SignHash(ctx, ow.en.CredentialID, sad, digests, crypto.SHA256, algid.ECDSAWithSHA256.String())
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			r.fail(KindSignHash, s, fmt.Errorf("signHash: %w", err))
		}
		return
	}
	bad := len(sigs) != len(digests)
	for i := 0; !bad && i < len(sigs); i++ {
		bad = !ecdsa.VerifyASN1(ow.en.Certificate.PublicKey.(*ecdsa.PublicKey), digests[i], sigs[i])
	}
	r.mu.Lock()
	r.sads[sad]++
	for _, d := range digests {
		r.received[b64(d)] = true
	}
	if bad {
		r.checks.BadSignatures++
	}
	r.mu.Unlock()
	s.ok(time.Since(t0), len(sigs))
}

// smartCAOne submits a transaction for a SmartCA owner and has the owner
// approve it.
func (r *run) smartCAOne(ctx context.Context, s *stats) {
	ow, err := r.caOwn.take(ctx)
	if err != nil {
		return
	}
	defer r.caOwn.put(ow)
	files := make([]map[string]string, r.o.Hashes)
	for j := range files {
		files[j] = map[string]string{"doc_id": fmt.Sprintf("doc-%d", j), "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(randomDigest())}
	}
	id := make([]byte, 8)
	rand.Read(id)
	ref := prefix + "-" + hex.EncodeToString(id)
	body, _ := json.Marshal(map[string]any{"sp_id": r.spID, "sp_password": r.spSecret, "user_id": ow.en.NationalID[len("CCCD:"):],
		"transaction_id": ref, "sign_files": files})
	t0 := time.Now()
	var ans struct {
		Data struct {
			TranCode string `json:"tran_code"`
		} `json:"data"`
	}
	// Submitting the same transaction ID again returns the first
	// transaction: safe to send again.
	err = retry(ctx, s, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+r.front.Addr()+"/smartca/v1/signatures/sign", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return &csc.APIError{Status: resp.StatusCode, Body: csc.Error{Error: "submit", Description: string(b)}}
		}
		return json.Unmarshal(b, &ans)
	})
	if err != nil || ans.Data.TranCode == "" {
		if ctx.Err() == nil {
			r.fail(KindSmartCA, s, fmt.Errorf("signatures/sign: %v", err))
		}
		return
	}
	r.mu.Lock()
	r.submitted[ref] = ans.Data.TranCode
	r.mu.Unlock()
	// An approval whose connection broke is not sent again: the
	// transaction is signed, failed by recovery, or still pending.
	dec, err := ow.api.Approve(ctx, ans.Data.TranCode, &owner.ApproveRequest{PIN: benchPIN, OTP: code(ow)})
	if err != nil {
		if ctx.Err() == nil {
			if isAPIError(err) {
				r.fail(KindSmartCA, s, fmt.Errorf("approve: %w", err))
			} else {
				s.interrupted()
			}
		}
		return
	}
	if dec.Status != "signed" {
		r.fail(KindSmartCA, s, fmt.Errorf("approve: status %q", dec.Status))
		return
	}
	r.mu.Lock()
	r.signedOK[ans.Data.TranCode] = true
	r.mu.Unlock()
	s.ok(time.Since(t0), r.o.Hashes)
}

// ocspOne asks the front's responder about a random enrolled certificate
// and checks the answer: signed by the CA's responder, for that
// certificate, good.
func (r *run) ocspOne(ctx context.Context, s *stats) {
	var b [4]byte
	rand.Read(b[:])
	cert := r.certs[int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))%len(r.certs)]
	reqDER, err := ocsp.CreateRequest(cert, r.issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		r.fail(KindOCSP, s, err)
		return
	}
	t0 := time.Now()
	var der []byte
	err = retry(ctx, s, func() error {
		var err error
		der, err = r.postOCSP(ctx, reqDER)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			r.fail(KindOCSP, s, err)
		}
		return
	}
	res, err := revocation.ParseOCSP(der, cert, r.issuer)
	r.mu.Lock()
	r.checks.OCSP++
	if err != nil || res.Status != revocation.Good {
		r.checks.BadOCSP++
	}
	r.mu.Unlock()
	if err != nil {
		r.fail(KindOCSP, s, err)
		return
	}
	s.ok(time.Since(t0), 0)
}

// judge waits for recovery, then counts the invariants.
func (r *run) judge(ctx context.Context, kill *Kill) error {
	db, err := sql.Open("pgx", r.o.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	c := &r.checks
	deadline := time.Now().Add(recoveryBound)
	for {
		j, n, err := txcheck.Transactions(ctx, db, prefix+"-", r.portal.Deliveries())
		if err != nil {
			return err
		}
		c.Judged, c.Transactions = j, n
		if j.Stuck+j.Lost == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	// Transactions: each answered submission stored once, each approval
	// answered signed stored signed.
	rows, err := db.QueryContext(ctx, `SELECT client_ref, id, status FROM transactions WHERE client_ref LIKE '`+prefix+`-%'`)
	if err != nil {
		return err
	}
	stored := map[string][]string{}
	state := map[string]string{}
	for rows.Next() {
		var ref, id, st string
		if err := rows.Scan(&ref, &id, &st); err != nil {
			rows.Close()
			return err
		}
		stored[ref] = append(stored[ref], id)
		state[id] = st
	}
	rows.Close()
	for ref, code := range r.submitted {
		ids := stored[ref]
		if len(ids) == 0 || ids[0] != code {
			c.LostTransactions++
		}
	}
	for _, ids := range stored {
		if len(ids) > 1 {
			c.DoubledTransactions += len(ids) - 1
		}
	}
	for code := range r.signedOK {
		if state[code] != "signed" {
			c.LostTransactions++
		}
	}

	// Webhooks: duplicates of a key, and whether the kill explains them.
	first := map[string]time.Time{}
	for _, d := range r.portal.Deliveries() {
		if _, ok := state[d.TranCode]; !ok {
			continue
		}
		f, seen := first[d.Key]
		if !seen {
			first[d.Key] = d.At
			continue
		}
		c.Duplicates++
		if r.killedAt.IsZero() || f.Before(r.killedAt.Add(-webhookLease-time.Second)) || f.After(r.killedAt) {
			c.UnexplainedDuplicates++
		}
	}
	c.WebhookKeys = len(first)

	// CSC: SADs that signed twice; digests signed without an intent.
	c.SADs = len(r.sads)
	for _, n := range r.sads {
		if n > 1 {
			c.DoubleSAD++
		}
	}
	intents, err := txcheck.Intents(ctx, db)
	if err != nil {
		return err
	}
	for d := range r.received {
		if !intents[d] {
			c.Unaudited++
		}
	}

	// Serials: answered once each, stored, and unique in the database.
	c.Serials = len(r.serials)
	for s, n := range r.serials {
		if n > 1 {
			c.DuplicateSerials += n - 1
		}
		var found int
		b, err := ca.ParseSerial(s)
		if err != nil {
			c.MissingSerials++
			continue
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM certificates WHERE serial = $1`, b).Scan(&found); err != nil {
			return err
		}
		if found == 0 {
			c.MissingSerials++
		}
	}
	var stores int
	if err := db.QueryRowContext(ctx, `SELECT count(*) - count(DISTINCT serial) FROM certificates`).Scan(&stores); err != nil {
		return err
	}
	c.DuplicateSerials += stores
	return nil
}

// keep writes Options.Keep's files.
func (r *run) keep(ctx context.Context) error {
	get := func(url string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := r.hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("replicabench: GET %s: %s", url, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	root, err := get("http://" + r.pkiFront.Addr() + "/ca/root.crt")
	if err != nil {
		return err
	}
	cert := r.certs[0]
	reqDER, err := ocsp.CreateRequest(cert, r.issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return err
	}
	der, err := r.postOCSP(ctx, reqDER)
	if err != nil {
		return err
	}
	pemOf := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }
	for name, b := range map[string][]byte{"root.pem": pemOf(root), "issuing.pem": pemOf(r.issuer.Raw), "cert.pem": pemOf(cert.Raw), "ocsp.der": der} {
		if err := os.WriteFile(filepath.Join(r.o.Keep, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// postOCSP sends an OCSP request to the front's responder (RFC 6960
// appendix A.1, POST) and returns the response.
func (r *run) postOCSP(ctx context.Context, reqDER []byte) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.pkiFront.Addr()+"/ocsp", bytes.NewReader(reqDER))
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && resp.StatusCode != http.StatusOK {
		return nil, &csc.APIError{Status: resp.StatusCode, Body: csc.Error{Error: "ocsp", Description: resp.Status}}
	}
	return der, err
}
