package ca

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/zmap/zlint/v3/lint"

	"github.com/kyso-pki/kyso/pkg/store"
)

// issueEvents returns the cert.issue events whose details name serial
// (formatted), by outcome.
func issueEvents(t *testing.T, st store.Store, serial string) map[string]int {
	t.Helper()
	evs, err := st.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range evs {
		var d struct{ Serial string }
		if e.Action != "cert.issue" || json.Unmarshal(e.Details, &d) != nil || d.Serial != serial {
			continue
		}
		got[e.Outcome]++
	}
	return got
}

// TestLintRefusalReservesNothing: the lint copy is linted before the
// serial and the intent are committed, so a certificate zlint refuses
// reserves no serial and writes no intent; the refusal is audited
// (cert.issue/error at stage lint) as before.
func TestLintRefusalReservesNothing(t *testing.T) {
	ctx := context.Background()
	st := &keyStore{Store: newSQLite(t)}
	f := newFixture(t, st, nil)
	// A lint that refuses every citizen certificate with an e-mail: the
	// S/MIME BR's one-policy rule (TestZlintEverySource), which kyso does
	// not run.
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeNames: []string{"e_exactly_one_smime_policy"}})
	if err != nil {
		t.Fatal(err)
	}
	f.a.reg = reg
	reserves := st.reserves.Load()
	_, err = f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	var le *LintError
	if !errors.Is(err, ErrLint) || !errors.As(err, &le) {
		t.Fatalf("IssueCitizen under a refusing lint: %v; want a LintError", err)
	}
	if n := st.reserves.Load() - reserves; n != 0 {
		t.Errorf("a lint refusal reserved %d serials, want none", n)
	}
	evs, err := st.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	var d struct{ Stage, Serial string }
	if err := json.Unmarshal(last.Details, &d); err != nil || last.Action != "cert.issue" || last.Outcome != "error" || d.Stage != "lint" {
		t.Fatalf("last audit event %s/%s %s, want cert.issue/error at stage lint", last.Action, last.Outcome, last.Details)
	}
	if got := issueEvents(t, st, d.Serial); got["intent"] != 0 || got["error"] != 1 {
		t.Errorf("events naming the refused serial %s: %v, want one error and no intent", d.Serial, got)
	}
	serial, err := ParseSerial(d.Serial)
	if err != nil {
		t.Fatal(err)
	}
	// The refused serial was never reserved: reserving it now succeeds.
	if err := st.ReserveSerial(ctx, &store.SerialReservation{Issuer: IssuingName, Serial: serial}); err != nil {
		t.Errorf("reserving the refused serial afterwards: %v; it should be free", err)
	}
}

// replayRand reads prefix first, then crypto/rand: a random source that
// repeats a serial already taken.
type replayRand struct {
	mu     sync.Mutex
	prefix []byte
}

func (r *replayRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	return rand.Read(p)
}

// TestSerialCollisionRetried: a serial found taken when the reservation
// and the intent commit is drawn again; the taken serial gets no intent
// (the reservation and the intent are one write), the certificate carries
// the fresh serial, its copy linted again, and the issuance has one intent
// and one outcome.
func TestSerialCollisionRetried(t *testing.T) {
	ctx := context.Background()
	st := &keyStore{Store: newSQLite(t)}
	rr := &replayRand{}
	f := newFixture(t, st, &Options{Rand: rr})
	taken, err := newSerial(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ReserveSerial(ctx, &store.SerialReservation{Issuer: IssuingName, Serial: taken}); err != nil {
		t.Fatal(err)
	}
	reserves := st.reserves.Load()
	rr.mu.Lock()
	rr.prefix = append([]byte(nil), taken[1:]...)
	rr.mu.Unlock()
	cert, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatalf("IssueCitizen after a serial collision: %v", err)
	}
	if bytes.Equal(cert.SerialNumber.Bytes(), taken) {
		t.Fatalf("issued under the taken serial %s", FormatSerial(taken))
	}
	if n := st.reserves.Load() - reserves; n != 2 {
		t.Errorf("%d reservations, want 2 (the taken serial, then a fresh one)", n)
	}
	if got := issueEvents(t, st, FormatSerial(taken)); len(got) != 0 {
		t.Errorf("events naming the taken serial: %v, want none", got)
	}
	if got := issueEvents(t, st, FormatSerialInt(cert.SerialNumber)); got["intent"] != 1 || got["ok"] != 1 || len(got) != 2 {
		t.Errorf("events naming the issued serial: %v, want one intent and one ok", got)
	}
	if err := lintCertificateDER(f.a.reg, cert.Raw); err != nil {
		t.Error(err)
	}
	if _, err := st.GetCertificate(ctx, IssuingName, taken); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a certificate under the taken serial: %v", err)
	}
}
