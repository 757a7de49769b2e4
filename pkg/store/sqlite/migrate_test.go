package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/migrate"
	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

// TestRevocationShardsBackfilled: migration 0025 gives the revocations
// made before it their certificate's CRL shard, so a shard's CRL still
// lists them once it reads revocations by shard.
func TestRevocationShardsBackfilled(t *testing.T) {
	ctx := context.Background()
	path, db, exec, now := migratedTo(t, 25)
	// Shard 3's revoked certificate and shard 0's, as 0022 left them.
	for i, shard := range []int{3, 0} {
		serial := []byte{1, byte(i)}
		exec(`INSERT INTO serials (issuer, serial, reserved_at) VALUES ('issuing', ?, ?)`, serial, now)
		exec(`INSERT INTO certificates (issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
			not_before, not_after, status, campaign, key_reuse, created, crl_shard)
			VALUES ('issuing', ?, x'3000', 'citizen', 'CN=x', '', ?, '', ?, ?, 'revoked', 0, 0, ?, ?)`,
			serial, []byte{byte(i), 31: 0}, now, now+int64(time.Hour/time.Microsecond), now, shard)
		exec(`INSERT INTO revocations (issuer, serial, reason, revoked_at) VALUES ('issuing', ?, 1, ?)`, serial, now)
	}
	db.Close()
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for shard, want := range map[int]byte{3: 0, 0: 1} {
		revs, err := s.ListRevoked(ctx, "issuing", shard, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) != 1 || len(revs[0].Serial) != 2 || revs[0].Serial[1] != want {
			t.Errorf("shard %d lists %d revocations (%v) after migration 0025, want serial 01%02x alone", shard, len(revs), revs, want)
		}
	}
}

// TestSerialsSettlementMigrated: migration 0032 leaves a serial with its
// certificate certified and one without reserved, so the settlement
// finds only the open one; a reservation left open under a stored
// certificate (a replica of an older version writing it) is closed as
// certified by the settlement, with no abandoned event.
func TestSerialsSettlementMigrated(t *testing.T) {
	ctx := context.Background()
	path, db, exec, now := migratedTo(t, 32)
	certified, open := []byte{1, 1}, []byte{1, 2}
	insertCert := func(db *sql.DB, serial []byte) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO certificates (issuer, serial, der, profile, subject, national_id, spki_sha256,
			key_uri, not_before, not_after, status, campaign, key_reuse, created, crl_shard)
			VALUES ('issuing', ?, x'3000', 'citizen', 'CN=x', '', ?, '', ?, ?, 'good', 0, 0, ?, 0)`,
			serial, append(make([]byte, 31), serial[1]), now, now+int64(time.Hour/time.Microsecond), now); err != nil {
			t.Fatal(err)
		}
	}
	for _, serial := range [][]byte{certified, open} {
		exec(`INSERT INTO serials (issuer, serial, reserved_at) VALUES ('issuing', ?, ?)`, serial, now)
	}
	insertCert(db, certified)
	db.Close()
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	later := time.Now().Add(time.Hour)
	rs, err := s.OpenReservations(ctx, later, 0)
	if err != nil || len(rs) != 1 || string(rs[0].Serial) != string(open) {
		t.Fatalf("open reservations after 0032: %+v, %v; want the serial without a certificate", rs, err)
	}
	// An older replica stores a certificate under the open serial without
	// closing it.
	insertCert(s.w, open)
	e := &store.AuditEvent{Actor: "kysod", Action: "cert.issue", Outcome: "abandoned", Details: []byte(`{}`)}
	if ok, err := s.SettleReservation(ctx, rs[0], time.Now(), e); ok || err != nil || e.ID != 0 {
		t.Fatalf("settling a reservation under a stored certificate: %v, %v, event %d; want it closed as certified, nothing appended", ok, err, e.ID)
	}
	if rs, err := s.OpenReservations(ctx, later, 0); err != nil || len(rs) != 0 {
		t.Fatalf("open reservations after the repair: %+v, %v", rs, err)
	}
}

// TestEnrolmentStateBackfilled: migration 0027 gives the enrolment
// records made before it their credential's certificate and its state, so
// a report, which reads the records alone after it, counts them as the
// join did: good, expired, revoked, held, a renewed credential by its new
// certificate, and a credential naming no stored certificate not at all.
func TestEnrolmentStateBackfilled(t *testing.T) {
	ctx := context.Background()
	path, db, exec, _ := migratedTo(t, 27)
	now := time.Now()
	us := func(t time.Time) int64 { return t.UnixMicro() }
	for i, c := range storetest.BackfillCertificates(now) {
		serial := []byte{1, byte(i + 1)}
		exec(`INSERT INTO serials (issuer, serial, reserved_at) VALUES ('issuing', ?, ?)`, serial, us(now))
		exec(`INSERT INTO certificates (issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
			not_before, not_after, status, campaign, key_reuse, created)
			VALUES ('issuing', ?, x'3000', 'citizen', 'CN=x', '', ?, '', ?, ?, ?, 0, 0, ?)`,
			serial, []byte{byte(i), 31: 0}, us(now.Add(-48*time.Hour)), us(c.NotAfter), c.Status, us(now))
	}
	for _, n := range storetest.BackfillCredentials {
		id := fmt.Sprintf("cred-%d", n)
		exec(`INSERT INTO owners (id, national_id, name, province, phone, email, pin_hash, pin_failures, totp_last_step, created_at)
			VALUES (?, ?, 'x', 'Huế', '', '', 'x', 0, 0, ?)`, "own-"+id, "CCCD:"+id, us(now))
		exec(`INSERT INTO credentials (id, owner_id, key_uri, algorithm, cert_issuer, cert_serial, status, created_at)
			VALUES (?, ?, '', 'ECDSA-P256', 'issuing', ?, 'active', ?)`, id, "own-"+id, []byte{1, n}, us(now))
		exec(`INSERT INTO enrolment_records (credential_id, channel, staff_id, province, ward, evidence_kind, evidence_ref, consent_at, created_at)
			VALUES (?, 'desk', 'staff-1', 'Huế', 'Xã Phú Vang', 'cccd-chip', '', ?, ?)`, id, us(now), us(now.Add(-time.Hour)))
	}
	db.Close()
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckBackfilled(t, s, now)
}

// migratedTo makes a SQLite database migrated up to, not including,
// version, and returns its path, the open database, a statement runner
// and the time it was made (microseconds).
func migratedTo(t *testing.T, version int64) (string, *sql.DB, func(string, ...any), int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kyso.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMicro()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)`)
	for _, m := range ms {
		if m.Version >= version {
			break
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`, m.Version, m.Name, now)
	}
	return path, db, exec, now
}
