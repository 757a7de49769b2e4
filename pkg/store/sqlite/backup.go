package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Snapshot writes a consistent copy of the SQLite database at src to dst,
// a file that must not exist yet: SQLite's VACUUM INTO, which reads the
// database in one read transaction — so writers, in this process and
// others, go on meanwhile, and the copy holds every transaction committed
// before it began and none after — and writes a new, compacted file with
// no write-ahead log of its own. It neither migrates src nor writes to it:
// `kyso backup` runs it while kysod, perhaps of another version, serves.
func Snapshot(ctx context.Context, src, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("sqlite: snapshot to %q: %w", dst, err)
	}
	if _, err := os.Lstat(abs); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: snapshot to %s: the file exists (or cannot be checked: %v)", abs, err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlite: snapshot of %s: not a database file (%v)", src, err)
	}
	if strings.ContainsAny(src, "?\x00") || strings.HasPrefix(src, "file:") {
		return fmt.Errorf("sqlite: snapshot of %q: the path may not contain '?' or start with \"file:\"", src)
	}
	// A connection of its own (VACUUM INTO reads src and writes only the
	// new file), that waits out a writer's checkpoint.
	db, err := sql.Open("sqlite", src+"?_pragma=busy_timeout(30000)")
	if err != nil {
		return fmt.Errorf("sqlite: snapshot: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("sqlite: snapshot to %s: %w", abs, err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return fmt.Errorf("sqlite: snapshot to %s: %w", abs, err)
	}
	return nil
}

// CheckIntegrity runs SQLite's integrity_check and foreign_key_check and
// returns an error naming the first problems they find.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	var problems []string
	rows, err := s.r.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("sqlite: integrity_check: %w", err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: integrity_check: %w", err)
		}
		if line != "ok" && len(problems) < 10 {
			problems = append(problems, line)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	fk, err := s.r.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("sqlite: foreign_key_check: %w", err)
	}
	defer fk.Close()
	for fk.Next() && len(problems) < 10 {
		var table, parent string
		var rowid, id any
		if err := fk.Scan(&table, &rowid, &parent, &id); err != nil {
			return fmt.Errorf("sqlite: foreign_key_check: %w", err)
		}
		problems = append(problems, fmt.Sprintf("a row of %s (rowid %v) names a missing row of %s", table, rowid, parent))
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlite: %s is damaged: %s", s.path, strings.Join(problems, "; "))
	}
	return nil
}
