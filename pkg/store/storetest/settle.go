package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testSettle: the settlement finds only open reservations older than its
// bound (not certified, not settled, not recent), oldest first and
// bounded; settling writes the mark and its event once, a second
// settlement nothing; of concurrent settlements one writes; a
// certificate stored under a settled serial is refused, and one racing
// the settlement either certifies (nothing settled) or is refused.
func testSettle(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	bound := now.Add(-5 * time.Minute)
	reserve := func(at time.Time) *store.SerialReservation {
		t.Helper()
		r := &store.SerialReservation{Issuer: "i", Serial: NewSerial(t), Reserved: at}
		if err := s.ReserveSerial(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	open := func(limit int) []*store.SerialReservation {
		t.Helper()
		rs, err := s.OpenReservations(ctx, bound, limit)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	event := func(r *store.SerialReservation) *store.AuditEvent {
		return &store.AuditEvent{Actor: "kysod", Action: "cert.issue", Subject: "i/settle", Outcome: "abandoned",
			Details: []byte(`{"issuer":"i"}`)}
	}
	events := func() int {
		t.Helper()
		es, err := s.ListAudit(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.Outcome == "abandoned" {
				n++
			}
		}
		return n
	}

	oldest, old := reserve(now.Add(-20*time.Minute)), reserve(now.Add(-10*time.Minute))
	reserve(now.Add(-time.Minute)) // under way
	certified := NewCertificate(t, "i")
	if err := s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "i", Serial: certified.Serial, Reserved: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCertificate(ctx, certified); err != nil {
		t.Fatal(err)
	}
	rs := open(0)
	if len(rs) != 2 || !bytes.Equal(rs[0].Serial, oldest.Serial) || !bytes.Equal(rs[1].Serial, old.Serial) ||
		!rs[0].Reserved.Equal(oldest.Reserved) || rs[0].Issuer != "i" {
		t.Fatalf("open reservations before the bound: %+v, want the two old ones, oldest first", rs)
	}
	if rs := open(1); len(rs) != 1 || !bytes.Equal(rs[0].Serial, oldest.Serial) {
		t.Fatalf("limit 1: %+v", rs)
	}
	for i, r := range []*store.SerialReservation{oldest, old} {
		ok, err := s.SettleReservation(ctx, r, now, event(r))
		if err != nil || !ok {
			t.Fatalf("settling reservation %d: %v %v", i, ok, err)
		}
	}
	if n := events(); n != 2 {
		t.Fatalf("%d abandoned events after two settlements, want 2", n)
	}
	if rs := open(0); len(rs) != 0 {
		t.Fatalf("open after settling: %+v", rs)
	}
	// Settled twice, or certified: nothing written.
	for name, r := range map[string]*store.SerialReservation{"settled": old,
		"certified": {Issuer: "i", Serial: certified.Serial, Reserved: now}} {
		if ok, err := s.SettleReservation(ctx, r, now, event(r)); ok || err != nil {
			t.Errorf("settling a %s reservation: %v %v, want false", name, ok, err)
		}
	}
	if n := events(); n != 2 {
		t.Fatalf("%d abandoned events after settling again, want still 2", n)
	}
	// A slow issuance finishing after the settlement: refused, nothing
	// stored, its outcome not appended.
	late := NewCertificate(t, "i")
	late.Serial = old.Serial
	ok := &store.AuditEvent{Actor: "kysod", Action: "cert.issue", Subject: "i/late", Outcome: "ok", Details: []byte(`{}`)}
	if err := s.PutCertificate(ctx, late, ok); !errors.Is(err, store.ErrSerialSettled) {
		t.Fatalf("storing a certificate under a settled serial: %v, want ErrSerialSettled", err)
	}
	if _, err := s.GetCertificate(ctx, "i", old.Serial); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused certificate: %v, want ErrNotFound", err)
	}
	if ok.ID != 0 {
		t.Fatal("the refused certificate's outcome was appended")
	}
	// Bad input.
	if _, err := s.SettleReservation(ctx, &store.SerialReservation{Issuer: "i"}, now); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("settling no serial: %v, want ErrInvalid", err)
	}

	// Eight replicas settling one reservation: one writes.
	r := reserve(now.Add(-time.Hour))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := s.SettleReservation(ctx, r, now, event(r))
			if err != nil {
				t.Errorf("concurrent settlement: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || events() != 3 {
		t.Fatalf("8 concurrent settlements: %d settled, %d events; want 1 and 3", wins.Load(), events())
	}

	// A certificate racing its settlement: one of them wins, and the
	// store agrees with the winner.
	for i := range 10 {
		c := NewCertificate(t, "i")
		r := &store.SerialReservation{Issuer: "i", Serial: c.Serial, Reserved: now.Add(-time.Hour)}
		if err := s.ReserveSerial(ctx, r); err != nil {
			t.Fatal(err)
		}
		var putErr error
		var settled bool
		var wg sync.WaitGroup
		wg.Go(func() { putErr = s.PutCertificate(ctx, c) })
		wg.Go(func() {
			var err error
			if settled, err = s.SettleReservation(ctx, r, now, event(r)); err != nil {
				t.Errorf("round %d: settlement: %v", i, err)
			}
		})
		wg.Wait()
		_, getErr := s.GetCertificate(ctx, "i", c.Serial)
		switch {
		case putErr == nil && !settled && getErr == nil:
		case errors.Is(putErr, store.ErrSerialSettled) && settled && errors.Is(getErr, store.ErrNotFound):
		default:
			t.Fatalf("round %d: stored %v, settled %v, then read %v", i, putErr, settled, getErr)
		}
	}
}
