package signing_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/sadmut"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestMutations is the mutation suite of issue 13: at least 10,000
// generated requests to obtain or spend activation data, each wrong in a
// way a relying party could make it wrong — another client, another
// credential, another hash set, order or count, another algorithm, a
// changed SAD, an expired or spent one, a wrong, replayed or borrowed
// factor — and each refused. A refused request leaves the SAD usable, so
// every SAD is then spent correctly (and its signatures verified), unless
// the case let it expire; the spent SAD is then replayed. The refusal's
// reason is read from the audit log (the kind in the details of
// signature.refuse or credential.authorize, and the activation ID), not
// from a status code. Every request has its own actor so its audit event
// can be found among the others.
//
// It runs at the level of signing.Service on a real SQLite store, with
// eight workers each a replica (a Service of its own, with its own clock)
// over the one database: concurrency as in production, and group commit
// to keep the run short. The generator is seeded (KYSO_MUTATION_SEED,
// default 13): the same seed makes the same requests. KYSO_MUTATIONS sets
// how many (default 10,000; 1,000 with -short).
func TestMutations(t *testing.T) {
	seed := uint64(13)
	if v := os.Getenv("KYSO_MUTATION_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("KYSO_MUTATION_SEED=%q: %v", v, err)
		}
		seed = n
	}
	total := 10000
	if testing.Short() {
		total = 1000
	}
	if v := os.Getenv("KYSO_MUTATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("KYSO_MUTATIONS=%q is not a positive number", v)
		}
		total = n
	}
	const workers = 8
	ctx := context.Background()
	p := signingtest.NewPKI(t)
	ws := make([]*mutWorker, workers)
	for i := range ws {
		alg := hsm.ECDSAP256
		if i == workers-1 {
			alg = hsm.RSA2048
		}
		ws[i] = newMutWorker(t, p, i, alg, rand.New(rand.NewPCG(seed, uint64(i))))
	}
	// Two relying parties, shared by every worker.
	for i, name := range []string{"Cổng A", "Cổng B"} {
		cl, err := ws[0].svc.CreateClient(ctx, name, "", "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			w.clients[i] = cl.ID
		}
	}
	t.Logf("seed %d: %d mutated requests over %d workers", seed, total, workers)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.run(ctx, (total+workers-1)/workers)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	verifyMutations(t, p.Store, ws)
}

// mutWorker is one replica of the suite: a Service with its own clock,
// two owners (X, whose credential the SADs are for, and Y, whose
// credential and codes are borrowed) and what it expects the audit log
// to say.
type mutWorker struct {
	id      int
	svc     *signing.Service
	clock   *signingtest.Clock
	rng     *rand.Rand
	rsa     bool
	x, y    *signing.Enrolment
	clients [2]string
	seq     int
	// lastStep is the TOTP time step of the code last accepted:
	// presenting it again within that step is a replay.
	lastStep int64

	mutations int
	expects   []mutExpect
	spends    []mutSpend
	// factors is, per national ID, the factor each refused authorisation
	// mutated ("pin" or "otp"), which its owner.factors event must find wrong,
	// in order.
	factors map[string][]string
}

// mutExpect is a refused request and what its audit event must say.
type mutExpect struct {
	actor, name string
	action      string // signature.refuse or credential.authorize
	refusal     string
	// authActor is the actor of the authorisation whose activation the
	// event must name; empty: no activation (the SAD is unknown or the
	// request malformed).
	authActor string
}

// mutSpend is a SAD spent correctly: its signatures' audit events.
type mutSpend struct {
	actor, authActor string
	n                int
}

const mutPIN = "472913"

func newMutWorker(t *testing.T, p *catest.PKI, id int, alg hsm.Algorithm, rng *rand.Rand) *mutWorker {
	t.Helper()
	// At the start of a TOTP time step, so that which codes are replays
	// depends on the seed alone, not on when the suite runs.
	c := signingtest.NewClock(time.Now().Truncate(30 * time.Second))
	svc, err := signing.New(p.Store, p.Keys, p.CA, signingtest.Config(c))
	if err != nil {
		t.Fatal(err)
	}
	w := &mutWorker{id: id, svc: svc, clock: c, rng: rng, rsa: alg == hsm.RSA2048, factors: map[string][]string{}}
	for i, en := range []**signing.Enrolment{&w.x, &w.y} {
		*en, err = svc.Enrol(context.Background(), &signing.EnrolRequest{CCCD: fmt.Sprintf("0792039%02d%03d", id, i),
			Name: "Nguyễn Văn Đức", Province: "Hà Nội", PIN: mutPIN, Algorithm: alg, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		w.factors[(*en).NationalID] = nil
	}
	return w
}

// actor is a fresh actor for one request of client.
func (w *mutWorker) actor(client string) string {
	w.seq++
	return fmt.Sprintf("client:%s#%d.%d", client, w.id, w.seq)
}

// code is the owner's code as a mutation asks for it: "" the right fresh
// one, "replayed" the one just used, "wrong" one that matches no step in
// the window, "other-owner" Y's current one (never X's).
func (w *mutWorker) code(kind string) (string, error) {
	if kind != "replayed" {
		w.clock.Advance(30 * time.Second)
	}
	now := w.clock.Now()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := signing.TOTPCode(w.x.TOTPURI, now.Add(d))
		if err != nil {
			return "", err
		}
		valid[c] = true
	}
	switch kind {
	case "", "replayed":
		return signing.TOTPCode(w.x.TOTPURI, now)
	case "other-owner":
		c, err := signing.TOTPCode(w.y.TOTPURI, now)
		for err == nil && valid[c] {
			c = fmt.Sprintf("%06d", (mustAtoi(c)+1)%1000000)
		}
		return c, err
	}
	for {
		if c := fmt.Sprintf("%06d", w.rng.IntN(1000000)); !valid[c] {
			return c, nil
		}
	}
}

// step is the TOTP time step (RFC 6238: 30 seconds) of t.
func step(t time.Time) int64 { return t.Unix() / 30 }

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// authorize obtains a SAD for the right request, as client.
func (w *mutWorker) authorize(ctx context.Context, client string, h crypto.Hash, hashes [][]byte) (sad, actor string, err error) {
	code, err := w.code("")
	if err != nil {
		return "", "", err
	}
	actor = w.actor(client)
	sad, _, err = w.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: client, CredentialID: w.x.CredentialID,
		NumSignatures: len(hashes), Hashes: hashes, HashAlgorithm: h, PIN: mutPIN, OTP: code, Actor: actor})
	if err != nil {
		return "", "", fmt.Errorf("worker %d: the right authorisation: %w", w.id, err)
	}
	w.lastStep = step(w.clock.Now())
	return sad, actor, nil
}

// badAuthorize sends a mutated authorisation and records what its audit
// must say.
func (w *mutWorker) badAuthorize(ctx context.Context, client string, right sadmut.Authorize) error {
	m := sadmut.MutateAuthorize(w.rng, right, step(w.clock.Now()) == w.lastStep)
	code, err := w.code(m.OTP)
	if err != nil {
		return err
	}
	pin := mutPIN
	if m.WrongPIN {
		for pin == mutPIN {
			pin = fmt.Sprintf("%06d", w.rng.IntN(1000000))
		}
	}
	actor := w.actor(client)
	sad, _, err := w.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: client, CredentialID: m.CredentialID,
		NumSignatures: m.NumSignatures, Hashes: m.Hashes, HashAlgorithm: m.Hash, PIN: pin, OTP: code, Actor: actor})
	var se *signing.Error
	if err == nil || !errors.As(err, &se) {
		return fmt.Errorf("worker %d: authorisation with %s: SAD %t, error %v; want a refusal", w.id, m.Name, sad != "", err)
	}
	if m.Refusal != sadmut.Factors && se.Kind != signing.KindInvalid {
		return fmt.Errorf("worker %d: authorisation with %s: %v, want invalid_request", w.id, m.Name, err)
	}
	w.mutations++
	w.expects = append(w.expects, mutExpect{actor: actor, name: m.Name, action: "credential.authorize", refusal: m.Refusal})
	// The factor event pkg/signing writes for each evaluated attempt:
	// owner.factors with a verdict per factor. The mutated factor must be
	// the one found wrong (a replayed code may read as replayed or wrong:
	// a failed attempt spends its code's step whatever the PIN was).
	if m.Factor != "" {
		w.factors[w.x.NationalID] = append(w.factors[w.x.NationalID], m.Factor)
	}
	return nil
}

// spend sends a request that must be refused with refusal.
func (w *mutWorker) spend(ctx context.Context, req sadmut.Sign, name, refusal, authActor string) error {
	actor := w.actor(req.ClientID)
	sigs, err := w.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: req.ClientID, CredentialID: req.CredentialID, SAD: req.SAD,
		Hashes: req.Hashes, HashAlgorithm: req.Hash, SignAlgo: req.SignAlgo, Actor: actor})
	want := signing.KindInvalid
	if refusal == sadmut.Expired {
		want = signing.KindExpired
	}
	var se *signing.Error
	if err == nil || !errors.As(err, &se) || se.Kind != want {
		return fmt.Errorf("worker %d: %s: %d signatures, error %v; want %s (%s)", w.id, name, len(sigs), err, want, refusal)
	}
	if refusal == sadmut.Client && se.Description != "invalid SAD" {
		return fmt.Errorf("worker %d: %s: another client's SAD is refused as %q, not as an unknown one", w.id, name, se.Description)
	}
	switch refusal {
	case sadmut.Malformed, sadmut.UnknownSAD:
		authActor = ""
	}
	w.mutations++
	w.expects = append(w.expects, mutExpect{actor: actor, name: name, action: "signature.refuse", refusal: refusal, authActor: authActor})
	return nil
}

// spendRight spends the SAD as authorised and checks the signatures.
func (w *mutWorker) spendRight(ctx context.Context, req sadmut.Sign, authActor string) error {
	actor := w.actor(req.ClientID)
	sigs, err := w.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: req.ClientID, CredentialID: req.CredentialID, SAD: req.SAD,
		Hashes: req.Hashes, HashAlgorithm: req.Hash, SignAlgo: req.SignAlgo, Actor: actor})
	if err != nil {
		return fmt.Errorf("worker %d: the SAD after the refused requests: %w", w.id, err)
	}
	for i, d := range req.Hashes {
		if !verifies(w.x, req.Hash, d, sigs[i]) {
			return fmt.Errorf("worker %d: signature %d does not verify", w.id, i+1)
		}
	}
	w.spends = append(w.spends, mutSpend{actor: actor, authActor: authActor, n: len(req.Hashes)})
	return nil
}

// verifies checks a signature made with the key's default algorithm (or
// one of the same: ECDSA, RSASSA-PSS with a salt as long as the hash).
func verifies(en *signing.Enrolment, h crypto.Hash, d, sig []byte) bool {
	switch k := en.Certificate.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, d, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
	}
	return false
}

// run makes at least n mutated requests, one case after another: maybe a
// mutated authorisation or two, a right one, mutated spends of its SAD,
// then the SAD spent correctly and replayed, or left to expire.
func (w *mutWorker) run(ctx context.Context, n int) error {
	lifetime := 5 * time.Minute // the service's default SADLifetime
	for w.mutations < n {
		h := sadmut.AnyHash(w.rng)
		hashes := sadmut.Digests(w.rng, h, 1+w.rng.IntN(6))
		owner, other := w.clients[0], w.clients[1]
		if w.rng.IntN(2) == 1 {
			owner, other = other, owner
		}
		right := sadmut.Authorize{CredentialID: w.x.CredentialID, NumSignatures: len(hashes), Hashes: hashes, Hash: h}
		for k := w.rng.IntN(3); k > 0; k-- {
			if err := w.badAuthorize(ctx, owner, right); err != nil {
				return err
			}
		}
		sad, authActor, err := w.authorize(ctx, owner, h, hashes)
		if err != nil {
			return err
		}
		good := sadmut.Sign{ClientID: owner, CredentialID: w.x.CredentialID, SAD: sad, Hashes: hashes, Hash: h,
			SignAlgo: sadmut.Fitting(w.rng, h, w.rsa)}
		world := sadmut.World{OtherClient: other, OtherCredential: w.y.CredentialID, RSA: w.rsa}
		for k := 1 + w.rng.IntN(6); k > 0; k-- {
			m := sadmut.Mutate(w.rng, good, world)
			if err := w.spend(ctx, m.Sign, m.Name, m.Refusal, authActor); err != nil {
				return err
			}
		}
		// The state that comes after: expired, or spent.
		state := sadmut.Replay
		if w.rng.IntN(8) == 0 {
			state = sadmut.Expired
			w.clock.Advance(lifetime + time.Duration(w.rng.IntN(90))*time.Second)
			if err := w.spend(ctx, good, "the right request, expired", sadmut.Expired, authActor); err != nil {
				return err
			}
		} else {
			// Any time before the expiry, to the last nanosecond.
			w.clock.Advance(time.Duration(w.rng.Int64N(int64(lifetime))))
			if err := w.spendRight(ctx, good, authActor); err != nil {
				return err
			}
			if err := w.spend(ctx, good, "the right request, replayed", sadmut.Replay, authActor); err != nil {
				return err
			}
		}
		for k := w.rng.IntN(3); k > 0; k-- {
			m := sadmut.Mutate(w.rng, good, world)
			refusal := sadmut.First(append(sadmut.Kinds(good, m.Sign, world), state)...)
			if err := w.spend(ctx, m.Sign, m.Name+", "+state, refusal, authActor); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifyMutations reads the whole audit log and checks that each refused
// request has exactly its refusal event, with the kind and the activation
// expected, and no signature; that each right spend has one signature
// event per hash naming the activation its authorisation named; and that
// each owner's factor events are the ones its refused authorisations
// should have written.
func verifyMutations(t *testing.T, st store.Store, ws []*mutWorker) {
	t.Helper()
	type event struct {
		*store.AuditEvent
		d map[string]any
	}
	byActor := map[string][]event{}
	factors := map[string][]string{}
	total := 0
	for after := int64(0); ; {
		evs, err := st.ListAudit(context.Background(), after, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			x := event{AuditEvent: e}
			if err := json.Unmarshal(e.Details, &x.d); err != nil {
				t.Fatalf("audit event %d: %v", e.ID, err)
			}
			byActor[e.Actor] = append(byActor[e.Actor], x)
			if e.Action == "owner.factors" && e.Outcome == "error" {
				factors[e.Subject] = append(factors[e.Subject], factorVerdict(x.d))
			}
			if d, _ := x.d["activation"].(string); e.Action == "signature.create" && d == "" {
				t.Errorf("audit event %d: a signature without an activation: %s", e.ID, e.Details)
			}
		}
		after = evs[len(evs)-1].ID
		total += len(evs)
	}
	activation := func(authActor string) string {
		for _, e := range byActor[authActor] {
			if e.Action == "credential.authorize" && e.Outcome == "ok" {
				id, _ := e.d["activation"].(string)
				return id
			}
		}
		return ""
	}
	mutations, refusals := 0, map[string]int{}
	for _, w := range ws {
		mutations += w.mutations
		for _, x := range w.expects {
			refusals[x.refusal]++
			evs := byActor[x.actor]
			if len(evs) != 1 || evs[0].Action != x.action || evs[0].Outcome != "error" {
				t.Errorf("%s (%s): audit events %+v, want one %s error", x.actor, x.name, evs, x.action)
				continue
			}
			if got := evs[0].d["refusal"]; got != x.refusal {
				t.Errorf("%s (%s): refused for %v (%v), want %s", x.actor, x.name, got, evs[0].d["reason"], x.refusal)
			}
			want := ""
			if x.authActor != "" {
				if want = activation(x.authActor); want == "" {
					t.Errorf("%s: the authorisation %s names no activation", x.actor, x.authActor)
				}
			}
			if got, _ := evs[0].d["activation"].(string); got != want {
				t.Errorf("%s (%s): activation %q, want %q", x.actor, x.name, got, want)
			}
		}
		for _, s := range w.spends {
			evs, want := byActor[s.actor], activation(s.authActor)
			n := 0
			for _, e := range evs {
				if e.Action == "signature.create" && e.d["activation"] == want && want != "" {
					n++
				}
			}
			if n != s.n || len(evs) != s.n {
				t.Errorf("%s: %d events, %d signatures under activation %q; want %d", s.actor, len(evs), n, want, s.n)
			}
		}
		for id, want := range w.factors {
			if got := factors[id]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("owner %s: factor events %v, want %v", id, got, want)
			}
		}
	}
	if mutations < 10000 && !testing.Short() && os.Getenv("KYSO_MUTATIONS") == "" {
		t.Errorf("%d mutated requests, want at least 10,000", mutations)
	}
	t.Logf("%d mutated requests refused, each found in the audit log (%d events): %v", mutations, total, refusals)
}

// factorVerdict names the factor an owner.factors event found wrong: "pin"
// when the PIN was wrong, "otp" when the PIN was right and the code was
// not, "" when neither.
func factorVerdict(d map[string]any) string {
	switch {
	case d["pin"] == "wrong":
		return "pin"
	case d["pin"] == "right" && d["otp"] != "right":
		return "otp"
	}
	return ""
}
