package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// workers is how many goroutines the concurrency tests run at once.
const workers = 32

// parallel runs fn(0..workers-1) at once, released together, and returns
// their errors.
func parallel(fn func(i int) error) []error {
	errs := make([]error, workers)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := 0; i < workers; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

func testTimes(t *testing.T, s store.Store) {
	ctx := context.Background()
	hcm := time.FixedZone("ICT", 7*3600)
	c := NewCertificate(t, "i")
	c.NotBefore = time.Date(2026, 1, 1, 0, 0, 0, 123456789, hcm)
	c.NotAfter = time.Date(2049, 12, 31, 23, 59, 59, 999999999, hcm)
	c.Created = time.Date(2026, 1, 1, 0, 0, 1, 1000, hcm)
	mustIssue(t, s, c)
	got, err := s.GetCertificate(ctx, c.Issuer, c.Serial)
	noErr(t, "GetCertificate", err)
	for _, tc := range []struct {
		name      string
		got, want time.Time
	}{
		{"NotBefore", got.NotBefore, c.NotBefore},
		{"NotAfter", got.NotAfter, c.NotAfter},
		{"Created", got.Created, c.Created},
	} {
		if want := tc.want.UTC().Truncate(time.Microsecond); tc.got != want {
			t.Errorf("%s = %v, want %v (UTC, microseconds)", tc.name, tc.got, want)
		}
	}
}

func testConcurrentIssue(t *testing.T, s store.Store) {
	ctx := context.Background()
	const each = 10
	var mu sync.Mutex
	issued := map[string]bool{}
	errs := parallel(func(int) error {
		for j := 0; j < each; j++ {
			c := NewCertificate(t, "issuing")
			if err := issue(ctx, s, c); err != nil {
				return err
			}
			mu.Lock()
			issued[string(c.Serial)] = true
			mu.Unlock()
		}
		return nil
	})
	for _, err := range errs {
		noErr(t, "issuing concurrently", err)
	}
	cs, err := s.ListCertificates(ctx, &store.CertificateFilter{Issuer: "issuing", Limit: 10000})
	noErr(t, "ListCertificates", err)
	if len(cs) != workers*each || len(issued) != workers*each {
		t.Fatalf("stored %d certificates, issued %d distinct serials; want %d", len(cs), len(issued), workers*each)
	}
	for _, c := range cs {
		if !issued[string(c.Serial)] {
			t.Fatalf("stored serial %x was never issued", c.Serial)
		}
		delete(issued, string(c.Serial))
	}
	if len(issued) != 0 {
		t.Fatalf("%d issued certificates missing", len(issued))
	}
}

func testConcurrentSameSerial(t *testing.T, s store.Store) {
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		serial := NewSerial(t)
		errs := parallel(func(int) error {
			return s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "issuing", Serial: serial})
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrDuplicateSerial):
				t.Fatalf("ReserveSerial: %v, want nil or ErrDuplicateSerial", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d goroutines reserved serial %x, want exactly 1", won, serial)
		}
	}
}

// testConcurrentSameKey stores certificates for one public key from many
// goroutines at once, each under its own reserved serial, as issuances that
// all passed PublicKeyCertified would: exactly one is stored, the others get
// ErrDuplicatePublicKey.
func testConcurrentSameKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		key := NewCertificate(t, "issuing").PublicKeySHA256
		certs := make([]*store.Certificate, workers)
		for i := range certs {
			c := NewCertificate(t, []string{"issuing", "issuing-2"}[i%2])
			c.PublicKeySHA256 = key
			noErr(t, "ReserveSerial", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}))
			certs[i] = c
		}
		errs := parallel(func(i int) error { return s.PutCertificate(ctx, certs[i]) })
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("goroutines %d and %d both stored key %x", won, i, key)
			case err == nil:
				won = i
			case !errors.Is(err, store.ErrDuplicatePublicKey):
				t.Fatalf("PutCertificate: %v, want nil or ErrDuplicatePublicKey", err)
			}
		}
		if won < 0 {
			t.Fatalf("no goroutine stored key %x", key)
		}
		for i, c := range certs {
			_, err := s.GetCertificate(ctx, c.Issuer, c.Serial)
			if i == won {
				noErr(t, "GetCertificate winner", err)
			} else {
				wantErr(t, "GetCertificate loser", err, store.ErrNotFound)
			}
		}
		if ok, err := s.PublicKeyCertified(ctx, key); err != nil || !ok {
			t.Fatalf("PublicKeyCertified after the race = %v, %v", ok, err)
		}
	}
}

func testConcurrentCampaign(t *testing.T, s store.Store) {
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		nid := fmt.Sprintf("CCCD:%012d", round)
		certs := make([]*store.Certificate, workers)
		for i := range certs {
			c := NewCertificate(t, "issuing")
			c.Campaign, c.NationalID = true, nid
			noErr(t, "ReserveSerial", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}))
			certs[i] = c
		}
		errs := parallel(func(i int) error { return s.PutCertificate(ctx, certs[i]) })
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrCampaignHolder):
				t.Fatalf("PutCertificate: %v, want nil or ErrCampaignHolder", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d campaign certificates stored for %s, want exactly 1", won, nid)
		}
		cs, err := s.ListCertificates(ctx, &store.CertificateFilter{NationalID: nid})
		noErr(t, "ListCertificates", err)
		if len(cs) != 1 {
			t.Fatalf("%d certificates stored for %s, want 1", len(cs), nid)
		}
	}
}

// testConcurrentRevoke races revoking a campaign holder against issuing its
// successor: the successor may be refused, but never stored beside an
// active holder.
func testConcurrentRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	holder := NewCertificate(t, "issuing")
	holder.Campaign, holder.NationalID = true, "CCCD:079203009999"
	mustIssue(t, s, holder)
	errs := parallel(func(i int) error {
		if i == 0 {
			return s.Revoke(ctx, &store.Revocation{Issuer: holder.Issuer, Serial: holder.Serial, Reason: store.ReasonSuperseded})
		}
		if i%2 == 0 {
			err := s.Revoke(ctx, &store.Revocation{Issuer: holder.Issuer, Serial: holder.Serial, Reason: store.ReasonKeyCompromise})
			if errors.Is(err, store.ErrAlreadyRevoked) {
				return nil
			}
			return err
		}
		c := NewCertificate(t, "issuing")
		c.Campaign, c.NationalID = true, holder.NationalID
		err := issue(ctx, s, c)
		if errors.Is(err, store.ErrCampaignHolder) {
			return nil
		}
		return err
	})
	for i, err := range errs {
		if i == 0 && errors.Is(err, store.ErrAlreadyRevoked) {
			continue
		}
		noErr(t, fmt.Sprintf("goroutine %d", i), err)
	}
	cs, err := s.ListCertificates(ctx, &store.CertificateFilter{NationalID: holder.NationalID, Status: store.StatusGood})
	noErr(t, "ListCertificates", err)
	if len(cs) > 1 {
		t.Fatalf("%d good campaign certificates for one national ID", len(cs))
	}
	revs, err := s.ListRevoked(ctx, "issuing", 0, time.Time{})
	noErr(t, "ListRevoked", err)
	if len(revs) != 1 || !bytes.Equal(revs[0].Serial, holder.Serial) {
		t.Fatalf("revocations = %+v, want the holder's alone", revs)
	}
}

func testConcurrentCRLNumber(t *testing.T, s store.Store) {
	ctx := context.Background()
	const each = 10
	got := make([][]int64, workers)
	errs := parallel(func(i int) error {
		for j := 0; j < each; j++ {
			n, err := s.NextCRLNumber(ctx, "issuing")
			if err != nil {
				return err
			}
			if len(got[i]) > 0 && n <= got[i][len(got[i])-1] {
				return fmt.Errorf("CRL number %d after %d", n, got[i][len(got[i])-1])
			}
			got[i] = append(got[i], n)
		}
		return nil
	})
	seen := map[int64]bool{}
	for i, err := range errs {
		noErr(t, "NextCRLNumber", err)
		for _, n := range got[i] {
			if seen[n] || n < 1 || n > workers*each {
				t.Fatalf("CRL number %d repeated or out of 1..%d", n, workers*each)
			}
			seen[n] = true
		}
	}
	if n, err := s.NextCRLNumber(ctx, "issuing"); err != nil || n != workers*each+1 {
		t.Fatalf("NextCRLNumber after the race = %d, %v; want %d", n, err, workers*each+1)
	}
}

// testConcurrentSequence: named counters give every caller a distinct,
// increasing number, and counters are independent of each other and of CRL
// numbers.
func testConcurrentSequence(t *testing.T, s store.Store) {
	ctx := context.Background()
	const each = 10
	got := make([][]int64, workers)
	errs := parallel(func(i int) error {
		for j := 0; j < each; j++ {
			n, err := s.NextSequence(ctx, "tsa-serial")
			if err != nil {
				return err
			}
			if len(got[i]) > 0 && n <= got[i][len(got[i])-1] {
				return fmt.Errorf("sequence value %d after %d", n, got[i][len(got[i])-1])
			}
			got[i] = append(got[i], n)
		}
		return nil
	})
	seen := map[int64]bool{}
	for i, err := range errs {
		noErr(t, "NextSequence", err)
		for _, n := range got[i] {
			if seen[n] || n < 1 || n > workers*each {
				t.Fatalf("sequence value %d repeated or out of 1..%d", n, workers*each)
			}
			seen[n] = true
		}
	}
	if n, err := s.NextSequence(ctx, "other"); err != nil || n != 1 {
		t.Fatalf("NextSequence(other) = %d, %v; want 1 (counters are independent)", n, err)
	}
	if n, err := s.NextCRLNumber(ctx, "tsa-serial"); err != nil || n != 1 {
		t.Fatalf("NextCRLNumber(tsa-serial) = %d, %v; want 1 (sequences are not CRL numbers)", n, err)
	}
	if _, err := s.NextSequence(ctx, ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("NextSequence(\"\"): err = %v, want ErrInvalid", err)
	}
}

func testConcurrentAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	const each = 10
	ids := make([][]int64, workers)
	errs := parallel(func(i int) error {
		for j := 0; j < each; j++ {
			e := &store.AuditEvent{Actor: "kysod", Action: "cert.issue", Subject: fmt.Sprint(i), Outcome: "ok", Details: []byte(fmt.Sprintf(`{"j":%d}`, j))}
			if err := s.AppendAudit(ctx, e); err != nil {
				return err
			}
			if len(ids[i]) > 0 && e.ID <= ids[i][len(ids[i])-1] {
				return fmt.Errorf("audit ID %d after %d", e.ID, ids[i][len(ids[i])-1])
			}
			ids[i] = append(ids[i], e.ID)
		}
		return nil
	})
	for _, err := range errs {
		noErr(t, "AppendAudit", err)
	}
	evs, err := s.ListAudit(ctx, 0, 10000)
	noErr(t, "ListAudit", err)
	if len(evs) != workers*each {
		t.Fatalf("ListAudit: %d events, want %d", len(evs), workers*each)
	}
	// One chain, in ID order, without gaps: each event links to the one
	// before and hashes to what it stores.
	var prev []byte
	for i, e := range evs {
		if e.ID != int64(i+1) {
			t.Fatalf("ListAudit: event %d has ID %d, want IDs 1, 2, … without gaps", i, e.ID)
		}
		if !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, store.AuditHash(e, prev)) {
			t.Fatalf("event %d breaks the chain: prev %x (want %x), hash %x", e.ID, e.PrevHash, prev, e.Hash)
		}
		prev = e.Hash
	}
	seq, head, err := s.AuditHead(ctx)
	noErr(t, "AuditHead", err)
	if seq != int64(len(evs)) || !bytes.Equal(head, prev) {
		t.Fatalf("AuditHead = %d %x, want %d %x", seq, head, len(evs), prev)
	}
	// Paging by ID sees every event once.
	var paged int
	for after := int64(0); ; {
		page, err := s.ListAudit(ctx, after, 7)
		noErr(t, "ListAudit page", err)
		if len(page) == 0 {
			break
		}
		paged += len(page)
		after = page[len(page)-1].ID
	}
	if paged != workers*each {
		t.Fatalf("paging saw %d events, want %d", paged, workers*each)
	}
}

// testRandomSerials reserves 100,000 serials made as a CA makes them and
// checks that all are accepted (so none collided and all are valid), and
// that reserving any again is refused.
func testRandomSerials(t *testing.T, s store.Store) {
	if testing.Short() {
		t.Skip("100,000 serials: not in -short")
	}
	ctx := context.Background()
	const n = 100000
	rs := make([]*store.SerialReservation, n)
	seen := make(map[string]bool, n)
	for i := range rs {
		serial := NewSerial(t)
		if len(serial) > 20 || serial[0]&0x80 != 0 || serial[0] == 0 {
			t.Fatalf("serial %x is not positive, minimal and ≤ 20 octets", serial)
		}
		if seen[string(serial)] {
			t.Fatalf("serial %x generated twice", serial)
		}
		seen[string(serial)] = true
		rs[i] = &store.SerialReservation{Issuer: "issuing", Serial: serial}
	}
	start := time.Now()
	if b, ok := s.(BulkReserver); ok {
		const batch = 10000
		for i := 0; i < n; i += batch {
			noErr(t, "ReserveSerials", b.ReserveSerials(ctx, rs[i:i+batch]))
		}
	} else {
		errs := parallel(func(w int) error {
			for i := w; i < n; i += workers {
				if err := s.ReserveSerial(ctx, rs[i]); err != nil {
					return err
				}
			}
			return nil
		})
		for _, err := range errs {
			noErr(t, "ReserveSerial", err)
		}
	}
	t.Logf("reserved %d serials in %v", n, time.Since(start))
	for i := 0; i < n; i += n / 100 {
		wantErr(t, "reserving again", s.ReserveSerial(ctx, rs[i]), store.ErrDuplicateSerial)
	}
	if b, ok := s.(BulkReserver); ok {
		// All or nothing: a batch with one taken serial stores none.
		fresh := &store.SerialReservation{Issuer: "issuing", Serial: NewSerial(t)}
		wantErr(t, "batch with a taken serial", b.ReserveSerials(ctx, []*store.SerialReservation{fresh, rs[0]}), store.ErrDuplicateSerial)
		noErr(t, "fresh serial after the refused batch", s.ReserveSerial(ctx, fresh))
	}
}
