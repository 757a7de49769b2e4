package ca

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/pkg/store"
)

// keyStore counts the serials issuance reserves, and can make
// PublicKeyCertified answer false, as it does to an issuance that raced
// another past the check.
type keyStore struct {
	store.Store
	reserves atomic.Int64
	stale    atomic.Bool
}

func (s *keyStore) ReserveSerial(ctx context.Context, r *store.SerialReservation, audit ...*store.AuditEvent) error {
	s.reserves.Add(1)
	return s.Store.ReserveSerial(ctx, r, audit...)
}

func (s *keyStore) PublicKeyCertified(ctx context.Context, spkiSHA256 []byte) (bool, error) {
	if s.stale.Load() {
		return false, nil
	}
	return s.Store.PublicKeyCertified(ctx, spkiSHA256)
}

func organisation(i int, csr []byte) *OrganisationRequest {
	return &OrganisationRequest{Name: fmt.Sprintf("Hợp tác xã %d", i), TaxCode: fmt.Sprintf("01012%05d", i), Province: "Huế", Key: KeySource{CSR: csr}}
}

// TestKeyCertifiedBeforeSigning checks Decree 23/2025 is applied before a
// serial is reserved (STYLE.md rule 13): a certified key reserves nothing,
// signs nothing and audits no intent. When the check is passed anyway, as
// by two issuances racing, PutCertificate still refuses the second.
func TestKeyCertifiedBeforeSigning(t *testing.T) {
	ctx := context.Background()
	st := &keyStore{Store: newSQLite(t)}
	f := newFixture(t, st, nil)
	csr := newCSR(t, p256(t))
	if _, err := f.a.IssueOrganisation(ctx, organisation(1, csr)); err != nil {
		t.Fatal(err)
	}
	events := func() []*store.AuditEvent {
		t.Helper()
		evs, err := st.ListAudit(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	reserves, nEvents := st.reserves.Load(), len(events())

	_, err := f.a.IssueOrganisation(ctx, organisation(2, csr))
	if !errors.Is(err, ErrKeyAlreadyCertified) || !strings.Contains(err.Error(), "Decree 23/2025") {
		t.Fatalf("same key twice: %v; want ErrKeyAlreadyCertified", err)
	}
	if n := st.reserves.Load() - reserves; n != 0 {
		t.Errorf("refusing a certified key reserved %d serials, want none", n)
	}
	if evs := events(); len(evs) != nEvents {
		t.Errorf("refusing a certified key before signing audited %d events (%s/%s), want none", len(evs)-nEvents, evs[len(evs)-1].Action, evs[len(evs)-1].Outcome)
	}

	// The check passed, as by a racing issuance: signed, then refused on
	// record, and the refusal audited.
	st.stale.Store(true)
	_, err = f.a.IssueOrganisation(ctx, organisation(3, csr))
	if !errors.Is(err, ErrKeyAlreadyCertified) || !strings.Contains(err.Error(), "Decree 23/2025") {
		t.Fatalf("same key past a stale check: %v; want ErrKeyAlreadyCertified", err)
	}
	if n := st.reserves.Load() - reserves; n != 1 {
		t.Errorf("issuance past a stale check reserved %d serials, want 1", n)
	}
	evs := events()
	last := evs[len(evs)-1]
	var d struct{ Stage string }
	if err := json.Unmarshal(last.Details, &d); err != nil || last.Outcome != "error" || d.Stage != "record" {
		t.Errorf("last audit event %s/%s %s, want cert.issue/error at stage record", last.Action, last.Outcome, last.Details)
	}
	certs, err := f.a.List(ctx, &store.CertificateFilter{Profile: ProfileOrganisation})
	if err != nil || len(certs) != 1 {
		t.Errorf("%d organisation certificates stored, %v; want 1", len(certs), err)
	}
}

func TestConcurrentSameKeySQLite(t *testing.T) {
	testConcurrentSameKey(t, newSQLite(t))
}

func TestConcurrentSameKeyPostgres(t *testing.T) {
	testConcurrentSameKey(t, newPostgres(t))
}

// testConcurrentSameKey issues one CSR from several goroutines released
// together: exactly one certificate is issued and every other caller gets
// ErrKeyAlreadyCertified, whether the check before signing or the store
// caught it.
func testConcurrentSameKey(t *testing.T, st store.Store) {
	ctx := context.Background()
	f := newFixture(t, st, nil)
	const n = 8
	for round := 0; round < 3; round++ {
		csr := newCSR(t, p256(t))
		errs := make([]error, n)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := 0; i < n; i++ {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				_, errs[i] = f.a.IssueOrganisation(ctx, organisation(round*n+i, csr))
			}()
		}
		start.Done()
		done.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrKeyAlreadyCertified):
				t.Fatalf("round %d, goroutine %d: %v; want nil or ErrKeyAlreadyCertified", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d certificates issued for one key, want exactly 1", round, won)
		}
	}
	certs, err := f.a.List(ctx, &store.CertificateFilter{Profile: ProfileOrganisation})
	if err != nil || len(certs) != 3 {
		t.Fatalf("%d organisation certificates stored, %v; want 3", len(certs), err)
	}
}
