package txcheck

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

// TestJudgeIssuance: each violation JudgeIssuance counts is found in a
// store written to have it, and a certificate issued as ca.Authority
// issues it (reserved with its intent, stored with its ok) has none.
func TestJudgeIssuance(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kyso.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	event := func(c *store.Certificate, outcome string) *store.AuditEvent {
		return &store.AuditEvent{Actor: "ca", Action: "cert.issue", Subject: c.Issuer, Outcome: outcome,
			Details: fmt.Appendf(nil, `{"issuer":%q,"serial":%q}`, c.Issuer, display.FormatSerial(c.Serial))}
	}
	reserve := func(c *store.Certificate, audit ...*store.AuditEvent) {
		t.Helper()
		if err := st.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}, audit...); err != nil {
			t.Fatal(err)
		}
	}
	put := func(c *store.Certificate, audit ...*store.AuditEvent) {
		t.Helper()
		if err := st.PutCertificate(ctx, c, audit...); err != nil {
			t.Fatal(err)
		}
	}
	judgeAt := func(step string, settled time.Time, want Issuance) {
		t.Helper()
		got, err := JudgeIssuance(ctx, db, settled)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: judged %s, want %s (%s)", step, got, want, IssuanceColumns)
		}
	}
	judge := func(step string, want Issuance) { t.Helper(); judgeAt(step, time.Time{}, want) }
	good := storetest.NewCertificate(t, "issuing")
	reserve(good, event(good, "intent"))
	put(good, event(good, "ok"))
	judge("issued as the CA does", Issuance{Certificates: 1})

	crashed := storetest.NewCertificate(t, "issuing")
	reserve(crashed, event(crashed, "intent"))
	judge("a crash after the reservation", Issuance{Certificates: 1, Orphans: 1})

	failed := storetest.NewCertificate(t, "issuing")
	reserve(failed, event(failed, "intent"))
	if err := st.AppendAudit(ctx, event(failed, "error")); err != nil {
		t.Fatal(err)
	}
	judge("a failure after the reservation, audited", Issuance{Certificates: 1, Orphans: 1})

	split := storetest.NewCertificate(t, "issuing")
	if err := st.AppendAudit(ctx, event(split, "intent")); err != nil {
		t.Fatal(err)
	}
	judge("an intent without its reservation", Issuance{Split: 1, Certificates: 1, Orphans: 2})

	bare := storetest.NewCertificate(t, "issuing")
	reserve(bare)
	put(bare, event(bare, "ok"))
	judge("a certificate without an intent", Issuance{Unaudited: 1, Split: 1, Certificates: 2, Orphans: 2})

	// A certificate whose serial was never reserved cannot be stored;
	// one whose reservation went missing is counted.
	gone := storetest.NewCertificate(t, "issuing")
	reserve(gone, event(gone, "intent"))
	put(gone, event(gone, "ok"))
	if _, err := db.Exec(`PRAGMA foreign_keys = OFF; DELETE FROM serials WHERE serial = ?`, gone.Serial); err != nil {
		t.Fatal(err)
	}
	judge("a certificate without its reservation", Issuance{Unreserved: 1, Unaudited: 1, Split: 2, Certificates: 3, Orphans: 2})
	before := Issuance{Unreserved: 1, Unaudited: 1, Split: 2, Certificates: 3, Orphans: 2}

	// The crashed and the failed issuance's reservations are open: a
	// judgement requiring them settled counts them.
	later := time.Now().Add(time.Hour)
	want := before
	want.Unsettled = 2
	judgeAt("open reservations past the settlement's time", later, want)
	settle := func(c *store.Certificate, e *store.AuditEvent) {
		t.Helper()
		if ok, err := st.SettleReservation(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}, time.Now(), e); err != nil || !ok {
			t.Fatalf("settling: %v %v", ok, err)
		}
	}
	settle(crashed, event(crashed, "abandoned"))
	settle(failed, event(failed, "error"))
	want = before
	want.Orphans, want.Abandoned = 1, 1
	judgeAt("the crash settled as abandoned, the failure closed with its error", later, want)

	// An abandoned event for a serial still open, and a certificate whose
	// serial is marked abandoned.
	open := storetest.NewCertificate(t, "issuing")
	reserve(open, event(open, "intent"))
	if err := st.AppendAudit(ctx, event(open, "abandoned")); err != nil {
		t.Fatal(err)
	}
	want.Mismarked, want.Abandoned = 1, 2
	judge("an abandoned event for an open reservation", want)
	if _, err := db.Exec(`UPDATE serials SET status = 'abandoned' WHERE serial = ?`, good.Serial); err != nil {
		t.Fatal(err)
	}
	want.Contradicted, want.Mismarked = 1, 2
	judge("a certificate under a serial marked abandoned", want)
}
