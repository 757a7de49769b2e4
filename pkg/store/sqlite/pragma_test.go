package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings the package promises: WAL,
// synchronous=FULL (2), foreign keys and a busy timeout on the writer, and
// a read-only reader pool.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"},
		{"foreign_keys", "1"},
		{"busy_timeout", "30000"},
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `INSERT INTO crl_numbers (issuer, last) VALUES ('x', 1)`); err == nil {
		t.Error("a reader connection wrote")
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE audit_events SET actor = 'x'`); err != nil {
		t.Fatal(err) // no rows: the trigger does not fire
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO audit_events (time, actor, action, subject, outcome, details) VALUES (0, 'a', 'b', '', 'ok', '{}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM audit_events`); err == nil {
		t.Error("deleted an audit event")
	}
}
