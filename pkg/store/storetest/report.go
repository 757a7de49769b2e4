package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// reportEnrolment is one enrolment of the report tests: its owner,
// credential and record, the certificate its credential names now.
type reportEnrolment struct {
	owner *store.Owner
	cred  *store.Credential
	rec   *store.EnrolmentRecord
}

// reportAreas are the report tests' areas: two provinces, three wards.
var reportAreas = [][2]string{{"Huế", "Phường Thuận Hóa"}, {"Huế", "Xã Phú Vang"}, {"Hồ Chí Minh", "Phường Sài Gòn"}}

// enrolWith issues a certificate valid until notAfter (unless noCert)
// and enrols a credential naming it, at created, in the i-th area and
// channel.
func enrolWith(t testing.TB, s store.Store, i int, created, notAfter time.Time, noCert bool) *reportEnrolment {
	t.Helper()
	ctx := context.Background()
	o := newOwner(t)
	cred := newCredential(t, o.ID)
	if !noCert {
		c := NewCertificate(t, "issuing")
		c.NotBefore, c.NotAfter = created.Add(-time.Hour), notAfter
		mustIssue(t, s, c)
		cred.CertSerial = c.Serial
	}
	channels := []string{store.ChannelDesk, store.ChannelEvent, store.ChannelHousehold, store.ChannelOnline}
	area := reportAreas[i%len(reportAreas)]
	rec := &store.EnrolmentRecord{CredentialID: cred.ID, Channel: channels[i%len(channels)], Province: area[0], Ward: area[1],
		EvidenceKind: "cccd-chip", EvidenceRef: "ref", ConsentAt: created, CreatedAt: created}
	if rec.Channel != store.ChannelOnline {
		rec.StaffID = "staff-1"
	}
	noErr(t, "PutEnrolment", s.PutEnrolment(ctx, o, cred, rec))
	return &reportEnrolment{owner: o, cred: cred, rec: rec}
}

// renew issues the credential's next certificate, valid until notAfter,
// and moves the credential to it as a renewal does; it returns the
// certificate renewed, and ErrConflict if another renewal came first.
func renew(t testing.TB, s store.Store, e *reportEnrolment, notAfter time.Time) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	from := e.cred.CertSerial
	next := NewCertificate(t, "issuing")
	next.NotAfter = notAfter
	mustIssue(t, s, next)
	r := &store.Renewal{CredentialID: e.cred.ID, FromSerial: from, OwnerID: e.owner.ID, RequestedBy: "owner:" + e.owner.ID,
		RequestedAt: now, ClaimedUntil: now.Add(time.Minute)}
	if err := s.ClaimRenewal(ctx, r, now); err != nil {
		return nil, err
	}
	r.NewSerial, r.DoneAt = next.Serial, now
	moved := *e.cred
	moved.CertSerial = next.Serial
	if err := s.FinishRenewal(ctx, r, &moved); err != nil {
		return nil, err
	}
	e.cred.CertSerial = next.Serial
	return from, nil
}

// recount counts f's enrolments among es the plain way — each record,
// its credential's certificate now, that certificate's state at f.At —
// through the single-row reads, keyed "province/ward/channel".
func recount(t testing.TB, s store.Store, es []*reportEnrolment, f *store.EnrolmentFilter) map[string]store.EnrolmentCount {
	t.Helper()
	ctx := context.Background()
	out := map[string]store.EnrolmentCount{}
	for _, e := range es {
		rec, err := s.GetEnrolmentRecord(ctx, e.cred.ID)
		noErr(t, "GetEnrolmentRecord", err)
		if rec.CreatedAt.Before(f.From) || !rec.CreatedAt.Before(f.To) ||
			(f.Province != "" && rec.Province != f.Province) || (f.Ward != "" && rec.Ward != f.Ward) {
			continue
		}
		cred, err := s.GetCredential(ctx, e.cred.ID)
		noErr(t, "GetCredential", err)
		c, err := s.GetCertificate(ctx, cred.CertIssuer, cred.CertSerial)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		noErr(t, "GetCertificate", err)
		k := rec.Province + "/" + rec.Ward + "/" + rec.Channel
		n := out[k]
		n.Province, n.Ward, n.Channel = rec.Province, rec.Ward, rec.Channel
		n.Enrolments++
		switch {
		case c.Status == store.StatusRevoked:
			n.Revoked++
		case c.Status == store.StatusHold:
			n.Suspended++
		case c.NotAfter.After(f.At):
			n.Active++
		default:
			n.Expired++
		}
		out[k] = n
	}
	return out
}

// sameCounts fails t unless CountEnrolments(f) equals the recount of es.
func sameCounts(t testing.TB, s store.Store, es []*reportEnrolment, f store.EnrolmentFilter, what string) {
	t.Helper()
	got, err := s.CountEnrolments(context.Background(), &f)
	noErr(t, "CountEnrolments", err)
	want := recount(t, s, es, &f)
	gotm := map[string]store.EnrolmentCount{}
	for _, c := range got {
		gotm[c.Province+"/"+c.Ward+"/"+c.Channel] = *c
	}
	if !maps.Equal(gotm, want) {
		keys := slices.Sorted(maps.Keys(want))
		t.Errorf("%s: CountEnrolments = %v;\nthe recount %v (keys %v)", what, gotm, want, keys)
	}
}

// testReportState: a campaign report counts each enrolment with the
// state of the certificate its credential names now, exactly as a
// recount from the single rows does, through every change of that state
// — enrolment, revocation, a switch of provider (superseded), hold and
// its release, renewal (the old certificate then revoked, the new one
// held), certificates expiring — for any period, area and time.
func testReportState(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var es []*reportEnrolment
	for i := range 24 {
		created := now.Add(-time.Duration(24-i) * 24 * time.Hour)
		notAfter := now.Add(365 * 24 * time.Hour)
		if i%6 == 5 {
			notAfter = now.Add(time.Duration(i) * time.Hour) // expires within days
		}
		if i%8 == 7 {
			notAfter = now.Add(-time.Hour) // expired already
		}
		es = append(es, enrolWith(t, s, i, created, notAfter, false))
	}
	// A credential naming no stored certificate is not counted.
	es = append(es, enrolWith(t, s, 1, now.Add(-time.Hour), now, true))
	revoke := func(e *reportEnrolment, reason int) {
		t.Helper()
		noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: e.cred.CertSerial, Reason: reason, RevokedAt: now}))
	}
	check := func(what string) {
		t.Helper()
		from, to := now.Add(-30*24*time.Hour), now.Add(time.Hour)
		for _, at := range []time.Time{now, now.Add(12 * time.Hour), now.Add(400 * 24 * time.Hour)} {
			sameCounts(t, s, es, store.EnrolmentFilter{From: from, To: to, At: at}, what+", the whole campaign")
			sameCounts(t, s, es, store.EnrolmentFilter{From: from, To: to, Province: "Huế", At: at}, what+", one province")
			sameCounts(t, s, es, store.EnrolmentFilter{From: from, To: to, Province: "Huế", Ward: "Xã Phú Vang", At: at}, what+", one ward")
			sameCounts(t, s, es, store.EnrolmentFilter{From: now.Add(-10 * 24 * time.Hour), To: now.Add(-3 * 24 * time.Hour), At: at}, what+", a week")
		}
	}
	check("as enrolled")
	// The series: each record in the period its time falls in, a record
	// at a cut in the period the cut begins.
	from, to := now.Add(-30*24*time.Hour), now.Add(time.Hour)
	cuts := []time.Time{now.Add(-20 * 24 * time.Hour), now.Add(-10 * 24 * time.Hour), now.Add(-5 * 24 * time.Hour)} // es[4], es[14] and es[19] at a cut
	for _, f := range []store.EnrolmentFilter{{From: from, To: to}, {From: from, To: to, Province: "Huế"}, {From: from, To: to, Province: "Huế", Ward: "Xã Phú Vang"}} {
		want := map[store.SeriesCount]bool{}
		n := map[[2]any]int64{}
		for _, e := range es {
			if f.Province != "" && e.rec.Province != f.Province || f.Ward != "" && e.rec.Ward != f.Ward {
				continue
			}
			p := 0
			for _, c := range cuts {
				if !e.rec.CreatedAt.Before(c) {
					p++
				}
			}
			n[[2]any{p, e.rec.Channel}]++
		}
		for k, v := range n {
			want[store.SeriesCount{Period: k[0].(int), Channel: k[1].(string), Enrolments: v}] = true
		}
		got, err := s.CountEnrolmentSeries(ctx, &f, cuts)
		noErr(t, "CountEnrolmentSeries", err)
		gotm := map[store.SeriesCount]bool{}
		for _, c := range got {
			gotm[*c] = true
		}
		if !maps.Equal(gotm, want) {
			t.Errorf("CountEnrolmentSeries(%s %s) = %v, the recount %v", f.Province, f.Ward, gotm, want)
		}
	}

	revoke(es[0], store.ReasonKeyCompromise)
	revoke(es[1], store.ReasonSuperseded) // switched to another provider
	revoke(es[2], store.ReasonCertificateHold)
	revoke(es[3], store.ReasonCertificateHold)
	noErr(t, "ReleaseHold", s.ReleaseHold(ctx, "issuing", es[3].cred.CertSerial))
	revoke(es[4], store.ReasonCertificateHold)
	revoke(es[4], store.ReasonCessationOfOperation) // held, then revoked
	revoke(es[7], store.ReasonCertificateHold)      // expired and held
	check("after revocations and holds")

	// Renewals: the record follows the credential to its new
	// certificate; the old one revoked after does not touch it.
	old, err := renew(t, s, es[5], now.Add(365*24*time.Hour)) // an expiring one renewed
	noErr(t, "renewing", err)
	noErr(t, "Revoke the renewed", s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: old, Reason: store.ReasonSuperseded, RevokedAt: now}))
	if _, err := renew(t, s, es[2], now.Add(365*24*time.Hour)); err != nil { // a held one renewed
		t.Fatalf("renewing a held certificate: %v", err)
	}
	if _, err := renew(t, s, es[8], now.Add(2*time.Hour)); err != nil {
		t.Fatalf("renewing: %v", err)
	}
	revoke(es[8], store.ReasonCertificateHold) // the new certificate held
	check("after renewals")

	// A certificate revoked before its enrolment is recorded revoked.
	o := newOwner(t)
	cred := newCredential(t, o.ID)
	c := NewCertificate(t, "issuing")
	mustIssue(t, s, c)
	cred.CertSerial = c.Serial
	noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: c.Serial, Reason: store.ReasonKeyCompromise, RevokedAt: now}))
	rec := &store.EnrolmentRecord{CredentialID: cred.ID, Channel: store.ChannelOnline, Province: "Huế", Ward: "Xã Phú Vang",
		EvidenceKind: "vneid-level2", EvidenceRef: "ref", ConsentAt: now, CreatedAt: now}
	noErr(t, "PutEnrolment", s.PutEnrolment(ctx, o, cred, rec))
	es = append(es, &reportEnrolment{owner: o, cred: cred, rec: rec})
	check("after enrolling a revoked certificate")
	// The counts are no constant: the last state is what was made.
	got, err := s.CountEnrolments(ctx, &store.EnrolmentFilter{From: now.Add(-30 * 24 * time.Hour), To: now.Add(time.Hour), At: now})
	noErr(t, "CountEnrolments", err)
	var sum store.EnrolmentCount
	for _, c := range got {
		sum.Enrolments += c.Enrolments
		sum.Active += c.Active
		sum.Expired += c.Expired
		sum.Revoked += c.Revoked
		sum.Suspended += c.Suspended
	}
	// 25 counted (enrolled with a stored certificate): revoked 0, 1, 4
	// and the last; held 7 and 8 (2 renewed to a good one, 3 released);
	// expired 15 and 23 (5 renewed); the other 17 active.
	want := store.EnrolmentCount{Enrolments: 25, Active: 17, Expired: 2, Revoked: 4, Suspended: 2}
	if sum != want {
		t.Errorf("the campaign's totals = %+v, want %+v", sum, want)
	}
}

// testConcurrentReportState: revocations, holds and their release race
// renewals of the same credentials (of the certificate renewed, and of
// the renewal's new one), new enrolments and reports; every
// report succeeds, and when all is done the report equals the recount —
// no record is left with a state its certificate no longer has.
func testConcurrentReportState(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	year := now.Add(365 * 24 * time.Hour)
	var es []*reportEnrolment
	for i := range 16 {
		es = append(es, enrolWith(t, s, i, now.Add(-time.Duration(i)*time.Hour), year, false))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 256)
	for i, e := range es {
		serial := e.cred.CertSerial
		// Revoke (or hold) the certificate the credential names, while a
		// renewal moves the credential off it.
		wg.Go(func() {
			reason := store.ReasonSuperseded
			if i%2 == 1 {
				reason = store.ReasonCertificateHold
			}
			if err := s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: serial, Reason: reason, RevokedAt: now}); err != nil {
				errs <- fmt.Errorf("revoking: %w", err)
			}
			if i%4 == 3 {
				if err := s.ReleaseHold(ctx, "issuing", serial); err != nil {
					errs <- fmt.Errorf("releasing: %w", err)
				}
			}
		})
		if i%3 != 2 {
			wg.Go(func() {
				if _, err := renew(t, s, e, year); err != nil {
					errs <- fmt.Errorf("renewing: %w", err)
				}
			})
		}
	}
	// A renewal's new certificate revoked while the renewal moves the
	// credential (and its record) onto it.
	for i := range 8 {
		e := enrolWith(t, s, i, now.Add(-time.Duration(i)*time.Minute), year, false)
		es = append(es, e)
		next := NewCertificate(t, "issuing")
		mustIssue(t, s, next)
		r := &store.Renewal{CredentialID: e.cred.ID, FromSerial: e.cred.CertSerial, OwnerID: e.owner.ID, RequestedBy: "owner:" + e.owner.ID,
			RequestedAt: now, ClaimedUntil: now.Add(time.Minute), NewSerial: next.Serial, DoneAt: now}
		noErr(t, "ClaimRenewal", s.ClaimRenewal(ctx, r, now))
		moved := *e.cred
		moved.CertSerial = next.Serial
		wg.Go(func() {
			if err := s.FinishRenewal(ctx, r, &moved); err != nil {
				errs <- fmt.Errorf("finishing a renewal: %w", err)
			}
		})
		wg.Go(func() {
			if err := s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: next.Serial, Reason: store.ReasonKeyCompromise, RevokedAt: now}); err != nil {
				errs <- fmt.Errorf("revoking a renewal's certificate: %w", err)
			}
		})
	}
	// New enrolments, each revoked at once, and reports throughout.
	for i := range 4 {
		wg.Go(func() {
			e := enrolWith(t, s, i, now, year, false)
			mu.Lock()
			es = append(es, e)
			mu.Unlock()
			if err := s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: e.cred.CertSerial, Reason: store.ReasonKeyCompromise, RevokedAt: now}); err != nil {
				errs <- fmt.Errorf("revoking a new enrolment: %w", err)
			}
		})
		wg.Go(func() {
			for range 5 {
				if _, err := s.CountEnrolments(ctx, &store.EnrolmentFilter{From: now.Add(-24 * time.Hour), To: now.Add(time.Hour)}); err != nil {
					errs <- fmt.Errorf("reporting: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The credentials renewed name their new certificate (good) and the
	// others their old one, revoked, held or released.
	for _, at := range []time.Time{now, year.Add(time.Hour)} {
		sameCounts(t, s, es, store.EnrolmentFilter{From: now.Add(-24 * time.Hour), To: now.Add(time.Hour), At: at}, "after the races")
	}
}

// BackfillCertificate is a certificate the drivers' tests of migration
// 0027 store before it (serial {1, i+1} for the i-th): its status and
// notAfter.
type BackfillCertificate struct {
	Status   string
	NotAfter time.Time
}

// BackfillCertificates are those certificates at now: good, expired,
// revoked, held, and 5 the renewal of 6 (revoked superseded).
// BackfillCredentials name serials {1, n}: 7 was never stored.
func BackfillCertificates(now time.Time) []BackfillCertificate {
	return []BackfillCertificate{{"good", now.Add(time.Hour)}, {"good", now.Add(-time.Hour)}, {"revoked", now.Add(time.Hour)},
		{"hold", now.Add(time.Hour)}, {"good", now.Add(time.Hour)}, {"revoked", now.Add(time.Hour)}}
}

// BackfillCredentials are the last octets of the serials the migration
// tests' credentials name, each enrolled at a desk in Xã Phú Vang an
// hour before now.
var BackfillCredentials = []byte{1, 2, 3, 4, 5, 7}

// CheckBackfilled fails t unless the report of the migrated store counts
// the backfill tests' enrolments as the join did: five with a stored
// certificate, 1 and 5 active, 2 expired, 3 revoked, 4 held.
func CheckBackfilled(t testing.TB, s store.Signing, now time.Time) {
	t.Helper()
	got, err := s.CountEnrolments(context.Background(), &store.EnrolmentFilter{From: now.Add(-24 * time.Hour), To: now, At: now})
	noErr(t, "CountEnrolments", err)
	want := store.EnrolmentCount{Province: "Huế", Ward: "Xã Phú Vang", Channel: "desk", Enrolments: 5, Active: 2, Expired: 1, Revoked: 1, Suspended: 1}
	if len(got) != 1 || *got[0] != want {
		t.Errorf("CountEnrolments after migration 0027 = %v, want %+v", got, want)
	}
}
