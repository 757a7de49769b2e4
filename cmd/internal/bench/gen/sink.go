package gen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver pkg/store/sqlite opens files with
)

// table is a batch of rows for one table.
type table struct {
	name string
	cols []string
	rows [][]any
}

// sink writes batches of rows into one of kyso's databases, each batch
// in one transaction: COPY on PostgreSQL, one prepared INSERT a row in a
// transaction on SQLite (its writer is in-process: no round trips).
type sink interface {
	// write writes the tables, in order (the foreign keys'), in one
	// transaction.
	write(ctx context.Context, ts []*table) error
	// exec runs one statement written with $N placeholders.
	exec(ctx context.Context, q string, args ...any) error
	// queryRow runs one query written with $N placeholders.
	queryRow(ctx context.Context, q string, args ...any) row
	// query runs a query of two text columns written with $N
	// placeholders and returns its rows.
	query(ctx context.Context, q string, args ...any) ([][2]string, error)
	// settle leaves the database as it would be some minutes after
	// such a load: on PostgreSQL vacuumed and analysed, as autovacuum
	// does after many inserts (the visibility map lets index-only scans
	// skip the heap); SQLite as it is (kysod never runs ANALYZE).
	settle(ctx context.Context) error
	// serials draws up to n citizens' certificate serials at random.
	serials(ctx context.Context, n int) ([][]byte, error)
	// time and bool are a value as the database stores it.
	time(t time.Time) any
	bool(b bool) any
	close()
}

type row interface{ Scan(dest ...any) error }

// openSink opens dsn: postgres://… or postgresql://…, or sqlite:PATH.
func openSink(ctx context.Context, dsn string) (sink, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("gen: connecting to PostgreSQL: %w", err)
		}
		return &pgSink{c: c}, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=busy_timeout(30000)&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, fmt.Errorf("gen: opening SQLite: %w", err)
		}
		db.SetMaxOpenConns(1)
		return &liteSink{db: db}, nil
	}
	return nil, fmt.Errorf("gen: database %q is neither postgres://… nor sqlite:PATH", redact(dsn))
}

// redact keeps a DSN's scheme and host, never its password.
func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

type pgSink struct{ c *pgx.Conn }

func (s *pgSink) write(ctx context.Context, ts []*table) error {
	return pgx.BeginFunc(ctx, s.c, func(tx pgx.Tx) error {
		for _, t := range ts {
			if len(t.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("gen: COPY into %s: %w", t.name, err)
			}
		}
		return nil
	})
}

func (s *pgSink) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.c.Exec(ctx, q, args...)
	return err
}

func (s *pgSink) queryRow(ctx context.Context, q string, args ...any) row {
	return s.c.QueryRow(ctx, q, args...)
}

func (s *pgSink) query(ctx context.Context, q string, args ...any) ([][2]string, error) {
	rows, err := s.c.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for rows.Next() {
		var r [2]string
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *pgSink) settle(ctx context.Context) error {
	_, err := s.c.Exec(ctx, `VACUUM (ANALYZE)`)
	return err
}

func (s *pgSink) serials(ctx context.Context, n int) ([][]byte, error) {
	rows, err := s.c.Query(ctx, `SELECT serial FROM certificates TABLESAMPLE SYSTEM (1) WHERE profile = 'citizen' LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]byte])
}

func (s *pgSink) time(t time.Time) any { return t.UTC() }
func (s *pgSink) bool(b bool) any      { return b }
func (s *pgSink) close()               { s.c.Close(context.Background()) }

type liteSink struct{ db *sql.DB }

func (s *liteSink) write(ctx context.Context, ts []*table) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	for _, t := range ts {
		if len(t.rows) == 0 {
			continue
		}
		q := "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(t.cols)-1) + ")"
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("gen: preparing the insert into %s: %w", t.name, err)
		}
		for _, r := range t.rows {
			if _, err := st.ExecContext(ctx, r...); err != nil {
				st.Close()
				return fmt.Errorf("gen: inserting into %s: %w", t.name, err)
			}
		}
		st.Close()
	}
	return tx.Commit()
}

func (s *liteSink) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.db.ExecContext(ctx, strings.ReplaceAll(q, "$", "?"), args...)
	return err
}

func (s *liteSink) queryRow(ctx context.Context, q string, args ...any) row {
	return s.db.QueryRowContext(ctx, strings.ReplaceAll(q, "$", "?"), args...)
}

func (s *liteSink) query(ctx context.Context, q string, args ...any) ([][2]string, error) {
	rows, err := s.db.QueryContext(ctx, strings.ReplaceAll(q, "$", "?"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var r [2]string
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *liteSink) settle(context.Context) error { return nil }

func (s *liteSink) serials(ctx context.Context, n int) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT serial FROM certificates WHERE profile = 'citizen' ORDER BY random() LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (s *liteSink) time(t time.Time) any { return t.UnixMicro() }
func (s *liteSink) bool(b bool) any {
	if b {
		return 1
	}
	return 0
}
func (s *liteSink) close() { s.db.Close() }
