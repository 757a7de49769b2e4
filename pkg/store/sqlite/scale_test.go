package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

// grow fills the SQLite file at path (migrated) with sc's rows, as
// storetest.Scale describes them (and as postgres.Grow does: transactions
// and webhooks too), in a few INSERT … SELECT statements.
func grow(b *testing.B, path string, sc storetest.Scale) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	base := time.Now().Add(-24 * time.Hour).UnixMicro()
	series := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) `
	serial := `unhex(printf('01%014x', i))`
	for _, q := range []string{
		series + `INSERT INTO serials (issuer, serial, reserved_at) SELECT 'issuing', ` + serial + `, $2 + i FROM n`,
		series + `INSERT INTO certificates (issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
			not_before, not_after, status, campaign, key_reuse, created)
			SELECT 'issuing', ` + serial + `, randomblob(900), CASE WHEN i % 10000 = 1 THEN 'ocsp' ELSE 'citizen' END,
			'CN=Scale ' || i, printf('CCCD:%012d', i), randomblob(32), 'wrapped:cred-' || i,
			$2 + i, $2 + i + 31536000000000, CASE WHEN i % 20 = 0 THEN 'revoked' ELSE 'good' END, 0, 0, $2 + i FROM n`,
		`INSERT INTO certificate_counts (status, shard, n) SELECT status, 0, count(*) FROM certificates WHERE $1 > 0 AND $2 IS NOT NULL GROUP BY status`,
		series + `INSERT INTO revocations (issuer, serial, reason, revoked_at) SELECT 'issuing', ` + serial + `, 1, $2 + i FROM n WHERE i % 20 = 0`,
		series + `INSERT INTO owners (id, national_id, name, province, phone, email, pin_hash, pin_failures, totp_last_step, created_at)
			SELECT 'own-' || i, printf('CCCD:%012d', i), 'Scale ' || i, '79', '', '', 'x', 0, 0, $2 + i FROM n`,
		series + `INSERT INTO credentials (id, owner_id, key_uri, wrapped_key, algorithm, cert_issuer, cert_serial, status, created_at)
			SELECT 'cred-' || i, 'own-' || i, 'wrapped:cred-' || i, randomblob(120), 'ECDSA-P256', 'issuing', ` + serial + `, 'active', $2 + i FROM n`,
		series + `INSERT INTO clients (id, name, secret_hash, webhook_url, disabled, created_at, category)
			SELECT 'portal-' || (i - 1), 'Scale portal ' || i, 'x', 'https://portal.example/hook', 0, $2 + i, 'public-service' FROM n WHERE i <= 50`,
		series + `INSERT INTO transactions (id, client_id, client_ref, credential_id, owner_id, description, documents, status, error,
			created_at, updated_at, expires_at, lease_owner, lease_until)
			SELECT 'tx-' || i, 'portal-' || (i % 50), 'ref-' || i, 'cred-' || i, 'own-' || i, 'Scale', X'7b7d',
			CASE i % 100 WHEN 0 THEN 'pending' WHEN 1 THEN 'approved' ELSE 'signed' END, '',
			$2 + i, $2 + i, $2 + i + 300000000, CASE WHEN i % 100 = 1 THEN 'gone' ELSE '' END,
			CASE WHEN i % 100 = 1 THEN $2 + i + 120000000 END FROM n`,
		series + `INSERT INTO webhooks (client_id, url, body, attempts, next_attempt, delivered_at, last_error, idempotency_key)
			SELECT 'portal-' || (i % 50), 'https://portal.example/hook', X'7b7d', 1,
			CASE WHEN i % 100 = 2 THEN $2 + i END, CASE WHEN i % 100 <> 2 THEN $2 + i END, '', 'tx-' || i || ':signed' FROM n`,
		series + `INSERT INTO audit_events (id, time, actor, action, subject, outcome, details, prev_hash, hash)
			SELECT 2 * i - 1, $2 + i, 'operator', 'cert.issue', 'issuing/' || hex(` + serial + `), 'ok', '{"profile":"citizen"}', randomblob(32), randomblob(32) FROM n
			UNION ALL
			SELECT 2 * i, $2 + i, 'client:portal', 'signature.create', 'cred-' || i, 'intent',
			json_object('owner', 'own-' || i, 'activation', 'act-' || i, 'digest', 'AAAA', 'hash', 'SHA-256'), randomblob(32), randomblob(32) FROM n`,
	} {
		if _, err := db.Exec(q, sc.Owners, base); err != nil {
			b.Fatalf("growing the store: %v\n%s", err, q)
		}
	}
}

// BenchmarkScale measures the hot reads on a store grown to KYSO_SCALE
// owners (storetest.BenchScale).
func BenchmarkScale(b *testing.B) {
	path := filepath.Join(b.TempDir(), "kyso.db")
	s := open(b, path)
	sc := storetest.ScaleFromEnv(b)
	grow(b, path, sc)
	storetest.BenchScale(b, s, sc)
}
