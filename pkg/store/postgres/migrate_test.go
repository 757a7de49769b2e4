package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store/internal/migrate"
	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

// TestEnrolmentStateBackfilled: migration 0027 gives the enrolment
// records made before it their credential's certificate and its state, so
// a report, which reads the records alone after it, counts them as the
// join did: good, expired, revoked, held, a renewed credential by its new
// certificate, and a credential naming no stored certificate not at all.
func TestEnrolmentStateBackfilled(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewPostgres(t)
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(`CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL)`)
	for _, m := range ms {
		if m.Version >= 27 {
			break
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`, m.Version, m.Name, now)
	}
	for i, c := range storetest.BackfillCertificates(now) {
		serial := []byte{1, byte(i + 1)}
		exec(`INSERT INTO serials (issuer, serial, reserved_at) VALUES ('issuing', $1, $2)`, serial, now)
		exec(`INSERT INTO certificates (issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
			not_before, not_after, status, campaign, key_reuse, created)
			VALUES ('issuing', $1, '\x3000', 'citizen', 'CN=x', '', $2, '', $3, $4, $5, false, false, $6)`,
			serial, []byte{byte(i), 31: 0}, now.Add(-48*time.Hour), c.NotAfter, c.Status, now)
	}
	for _, n := range storetest.BackfillCredentials {
		id := fmt.Sprintf("cred-%d", n)
		exec(`INSERT INTO owners (id, national_id, name, province, phone, email, pin_hash, pin_failures, totp_last_step, created_at)
			VALUES ($1, $2, 'x', 'Huế', '', '', 'x', 0, 0, $3)`, "own-"+id, "CCCD:"+id, now)
		exec(`INSERT INTO credentials (id, owner_id, key_uri, algorithm, cert_issuer, cert_serial, status, created_at)
			VALUES ($1, $2, '', 'ECDSA-P256', 'issuing', $3, 'active', $4)`, id, "own-"+id, []byte{1, n}, now)
		exec(`INSERT INTO enrolment_records (credential_id, channel, staff_id, province, ward, evidence_kind, evidence_ref, consent_at, created_at)
			VALUES ($1, 'desk', 'staff-1', 'Huế', 'Xã Phú Vang', 'cccd-chip', '', $2, $3)`, id, now, now.Add(-time.Hour))
	}
	db.Close(ctx)
	s, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckBackfilled(t, s, now)
}
