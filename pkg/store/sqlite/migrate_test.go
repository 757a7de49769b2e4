package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store/internal/migrate"
)

// TestRevocationShardsBackfilled: migration 0025 gives the revocations
// made before it their certificate's CRL shard, so a shard's CRL still
// lists them once it reads revocations by shard.
func TestRevocationShardsBackfilled(t *testing.T) {
	ctx := context.Background()
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
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)`)
	for _, m := range ms {
		if m.Version >= 25 {
			break
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`, m.Version, m.Name, now)
	}
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
