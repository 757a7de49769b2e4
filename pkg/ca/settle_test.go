package ca

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// TestSettleAbandoned: a reservation with its intent and nothing after
// (what a process killed between the two commits leaves) is settled once
// it is older than the bound, with one cert.issue abandoned event naming
// the issuer, the serial and when it was reserved; a younger one is not;
// settling again writes nothing; issuance after it is unaffected.
func TestSettleAbandoned(t *testing.T) {
	ctx := context.Background()
	st := newSQLite(t)
	f := newFixture(t, st, nil)
	now := time.Now().UTC()
	crash := func(at time.Time) []byte {
		serial, err := newSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		intent, err := f.a.auditEvent("officer:1", ActionIssue, IssuingName+"/"+FormatSerial(serial), "intent",
			map[string]any{"issuer": IssuingName, "serial": FormatSerial(serial)})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ReserveSerial(ctx, &store.SerialReservation{Issuer: IssuingName, Serial: serial, Reserved: at}, intent); err != nil {
			t.Fatal(err)
		}
		return serial
	}
	old, recent := crash(now.Add(-time.Hour)), crash(now.Add(-time.Second))
	if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err != nil {
		t.Fatal(err)
	}
	n, err := f.a.SettleReservations(ctx, now.Add(-DefaultSettleAfter))
	if err != nil || n != 1 {
		t.Fatalf("SettleReservations: %d, %v; want the old reservation alone", n, err)
	}
	if got := issueEvents(t, st, FormatSerial(old)); got["intent"] != 1 || got[OutcomeAbandoned] != 1 || len(got) != 2 {
		t.Fatalf("events of the old serial: %v, want its intent and one abandoned", got)
	}
	if got := issueEvents(t, st, FormatSerial(recent)); got[OutcomeAbandoned] != 0 {
		t.Fatalf("the recent reservation, under the bound, was settled: %v", got)
	}
	evs, err := st.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	var d struct{ Issuer, Serial, Certificate string }
	var reserved struct {
		ReservedAt time.Time `json:"reserved_at"`
	}
	if json.Unmarshal(last.Details, &d) != nil || json.Unmarshal(last.Details, &reserved) != nil ||
		last.Subject != IssuingName+"/"+FormatSerial(old) || d.Issuer != IssuingName || d.Serial != FormatSerial(old) ||
		d.Certificate == "" || reserved.ReservedAt.Sub(now.Add(-time.Hour)).Abs() > time.Millisecond {
		t.Fatalf("the abandoned event: %s %s", last.Subject, last.Details)
	}
	if n, err := f.a.SettleReservations(ctx, now.Add(-DefaultSettleAfter)); err != nil || n != 0 {
		t.Fatalf("settling again: %d, %v; want nothing", n, err)
	}
	if n, err := f.a.SettleReservations(ctx, now.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("with the bound past the recent one: %d, %v; want it alone (the issued certificate's serial is closed)", n, err)
	}
}

// settlingStore settles every open reservation just before a
// certificate is recorded: an issuance slower than the settlement's
// bound. It does nothing while a is nil (the hierarchy's set-up).
type settlingStore struct {
	store.Store
	a *Authority
}

func (s *settlingStore) PutCertificate(ctx context.Context, c *store.Certificate, audit ...*store.AuditEvent) error {
	if s.a != nil {
		if _, err := s.a.SettleReservations(ctx, time.Now().Add(time.Hour)); err != nil {
			return err
		}
	}
	return s.Store.PutCertificate(ctx, c, audit...)
}

// TestSlowIssuanceAfterSettlement: an issuance whose reservation was
// settled as abandoned before it recorded its certificate fails loudly
// (store.ErrSerialSettled), stores no certificate, so delivers none,
// and audits its own error after the abandoned event: the log never says
// abandoned of a certificate that exists.
func TestSlowIssuanceAfterSettlement(t *testing.T) {
	ctx := context.Background()
	ss := &settlingStore{Store: newSQLite(t)}
	f := newFixture(t, ss, nil)
	ss.a = f.a
	key := p256(t)
	cert, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, key)))
	if !errors.Is(err, store.ErrSerialSettled) || cert != nil {
		t.Fatalf("IssueCitizen settled under it: %v, %v; want ErrSerialSettled and no certificate", cert, err)
	}
	evs, err := ss.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var serial string // the last intent's: the citizen's
	bySerial := map[string][]string{}
	for _, e := range evs {
		var d struct{ Serial string }
		if e.Action != ActionIssue || json.Unmarshal(e.Details, &d) != nil {
			continue
		}
		if e.Outcome == "intent" {
			serial = d.Serial
		}
		bySerial[d.Serial] = append(bySerial[d.Serial], e.Outcome)
	}
	outcomes := bySerial[serial]
	if len(outcomes) != 3 || outcomes[0] != "intent" || outcomes[1] != OutcomeAbandoned || outcomes[2] != "error" {
		t.Fatalf("the slow issuance's events: %v, want intent, abandoned, error", outcomes)
	}
	s, err := ParseSerial(serial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.GetCertificate(ctx, IssuingName, s); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the certificate of the settled serial: %v, want ErrNotFound", err)
	}
	// The key is not certified: the citizen's next issuance succeeds.
	ss.a = nil
	if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, key))); err != nil {
		t.Fatalf("issuing again: %v", err)
	}
}

// TestFailedIssuanceClosesItsReservation: an issuance failing after its
// reservation (here the issuer's key signs with another key) closes the
// reservation with its own error event, so the settlement adds no
// abandoned outcome to it.
func TestFailedIssuanceClosesItsReservation(t *testing.T) {
	ctx := context.Background()
	a, keys, st := newFaultyAuthority(t)
	keys.fault.Store(faultOtherKey)
	if _, err := a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); err == nil {
		t.Fatal("issued with a faulty signer")
	}
	if rs, err := st.OpenReservations(ctx, time.Now().Add(time.Hour), 0); err != nil || len(rs) != 0 {
		t.Fatalf("open reservations after a failed issuance: %v, %v; want none", rs, err)
	}
	if n, err := a.SettleReservations(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("settled %d (%v) after a failed issuance, want none", n, err)
	}
}
