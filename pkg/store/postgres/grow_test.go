package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Grow fills the database dsn (migrated) with owners owners and what
// storetest.Scale says goes with them — credentials, certificates (5%
// revoked), enrolment records (over the last 140 days), transactions,
// webhooks and audit events — in a few INSERT …
// SELECT statements, then analyses it as autovacuum would. The plan test
// plans on its statistics, BenchmarkScale measures on it.
func Grow(ctx context.Context, dsn string, owners int) error {
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	base := time.Now().Add(-24 * time.Hour).UTC()
	series := `generate_series(1, $1::int) AS i`
	serial := `('\x01'::bytea || decode(lpad(to_hex(i), 14, '0'), 'hex'))`
	at := `($2::timestamptz + i * interval '1 microsecond')`
	for _, q := range []string{
		`INSERT INTO serials (issuer, serial, reserved_at) SELECT 'issuing', ` + serial + `, ` + at + ` FROM ` + series,
		`INSERT INTO certificates (issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
			not_before, not_after, status, campaign, key_reuse, created)
			SELECT 'issuing', ` + serial + `, decode(repeat(md5(i::text), 56), 'hex'), CASE WHEN i % 10000 = 1 THEN 'ocsp' ELSE 'citizen' END,
			'CN=Scale ' || i, 'CCCD:' || lpad(i::text, 12, '0'), sha256(int8send(i)), 'wrapped:cred-' || i,
			` + at + `, ` + at + ` + interval '365 days', CASE WHEN i % 20 = 0 THEN 'revoked' ELSE 'good' END, false, false, ` + at + ` FROM ` + series,
		`INSERT INTO certificate_counts (status, shard, n) SELECT status, 0, count(*) FROM certificates WHERE $1::int > 0 AND $2::timestamptz IS NOT NULL GROUP BY status`,
		`INSERT INTO revocations (issuer, serial, reason, revoked_at) SELECT 'issuing', ` + serial + `, 1, ` + at + ` FROM ` + series + ` WHERE i % 20 = 0`,
		`INSERT INTO ocsp_answers (issuer, serial, der, status, version, responder, this_update, next_update, refresh_at)
			SELECT 'issuing', ` + serial + `, decode(repeat(md5(i::text), 14), 'hex'), CASE WHEN i % 20 = 0 THEN 'revoked' ELSE 'good' END, 0,
			sha256('\x01'::bytea), ` + at + `, ` + at + ` + interval '24 hours', ` + at + ` + interval '12 hours' FROM ` + series + ` WHERE i % 10 <> 1`,
		`INSERT INTO owners (id, national_id, name, province, phone, email, pin_hash, pin_failures, totp_last_step, created_at)
			SELECT 'own-' || i, 'CCCD:' || lpad(i::text, 12, '0'), 'Scale ' || i, '79', '', '', 'x', 0, 0, ` + at + ` FROM ` + series,
		`INSERT INTO credentials (id, owner_id, key_uri, wrapped_key, algorithm, cert_issuer, cert_serial, status, created_at)
			SELECT 'cred-' || i, 'own-' || i, 'wrapped:cred-' || i, decode(repeat(md5(i::text), 8), 'hex'), 'ECDSA-P256', 'issuing', ` + serial + `, 'active', ` + at + ` FROM ` + series,
		`INSERT INTO enrolment_records (credential_id, channel, staff_id, province, ward, evidence_kind, evidence_ref, consent_at, created_at,
			cert_issuer, cert_serial, cert_status, cert_not_after)
			SELECT 'cred-' || i, (ARRAY['desk', 'event', 'household', 'online'])[i % 4 + 1], CASE WHEN i % 4 = 3 THEN '' ELSE 'staff-' || i % 40 END,
			(ARRAY['Hồ Chí Minh', 'Hà Nội', 'Huế', 'Cần Thơ'])[i % 4 + 1], 'Phường ' || i % 97, 'cccd-chip', '',
			$2::timestamptz - i * interval '10 minutes', $2::timestamptz - i * interval '10 minutes',
			'issuing', ` + serial + `, CASE WHEN i % 20 = 0 THEN 'revoked' ELSE 'good' END, ` + at + ` + interval '365 days' FROM ` + series,
		`INSERT INTO clients (id, name, secret_hash, webhook_url, disabled, created_at, category)
			SELECT 'portal-' || i, 'Scale portal ' || i, 'x', 'https://portal.example/hook', false, ` + at + `, 'public-service'
			FROM generate_series(0, 49) AS i WHERE $1::int > 0`,
		`INSERT INTO transactions (id, client_id, client_ref, credential_id, owner_id, description, documents, status, error,
			created_at, updated_at, expires_at, lease_owner, lease_until)
			SELECT 'tx-' || i, 'portal-' || i % 50, 'ref-' || i, 'cred-' || i, 'own-' || i, 'Scale', '\x7b7d'::bytea,
			CASE i % 100 WHEN 0 THEN 'pending' WHEN 1 THEN 'approved' ELSE 'signed' END, '',
			` + at + `, ` + at + `, ` + at + ` + interval '5 minutes', CASE WHEN i % 100 = 1 THEN 'gone' ELSE '' END,
			CASE WHEN i % 100 = 1 THEN ` + at + ` + interval '2 minutes' END FROM ` + series,
		`INSERT INTO webhooks (client_id, url, body, attempts, next_attempt, delivered_at, last_error, idempotency_key)
			SELECT 'portal-' || i % 50, 'https://portal.example/hook', '\x7b7d'::bytea, 1,
			CASE WHEN i % 100 = 2 THEN ` + at + ` END, CASE WHEN i % 100 <> 2 THEN ` + at + ` END, '', 'tx-' || i || ':signed' FROM ` + series,
		`INSERT INTO audit_events (id, time, actor, action, subject, outcome, details, prev_hash, hash)
			SELECT 2 * i - 1, ` + at + `, 'operator', 'cert.issue', 'issuing/' || encode(` + serial + `, 'hex'), 'ok', '{"profile":"citizen"}', sha256(int8send(-i)), sha256(int8send(i)) FROM ` + series + `
			UNION ALL
			SELECT 2 * i, ` + at + `, 'client:portal', 'signature.create', 'cred-' || i, 'intent',
			json_build_object('owner', 'own-' || i, 'activation', 'act-' || i, 'digest', 'AAAA', 'hash', 'SHA-256'), sha256(int8send(i)), sha256(int8send(-i)) FROM ` + series,
	} {
		if _, err := db.Exec(ctx, q, owners, base); err != nil {
			return fmt.Errorf("growing the store: %w\n%s", err, q)
		}
	}
	_, err = db.Exec(ctx, `ANALYZE`)
	return err
}
