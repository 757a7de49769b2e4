// Package postgres is kyso's production store: PostgreSQL through
// github.com/jackc/pgx/v5 (pgxpool), for several kysod replicas sharing one
// database.
//
// Uniqueness is the database's: primary keys and unique constraints, with
// INSERT ... ON CONFLICT DO NOTHING, which waits for a concurrent inserter's
// transaction and then reports the conflict, so no check in Go can be
// raced. Transactions run at READ COMMITTED with explicit row locks where a
// row is read and then changed; a serialization failure or deadlock is
// retried a few times before it is returned. The signing path's writes
// (spending activation data, appending audit events) that arrive together
// share one transaction and one commit (batch.go).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
	"github.com/kyso-pki/kyso/pkg/store/internal/migrate"
	"github.com/kyso-pki/kyso/pkg/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*Store)(nil)

// Advisory lock keys (pg_advisory_lock), arbitrary but fixed: "kyso" in
// ASCII, then a number.
const (
	lockMigrate = 0x6b79736f_0001
	lockAudit   = 0x6b79736f_0002
)

// maxAttempts bounds how often a transaction is tried when PostgreSQL
// reports a serialization failure or deadlock.
const maxAttempts = 5

// Options changes how Open connects. A nil *Options and the zero value are
// the defaults.
type Options struct {
	// Now returns the current time, for records whose caller left a time
	// zero. Nil: time.Now.
	Now func() time.Time
	// MaxConns bounds the pool. Zero: pgxpool's default (the larger of 4
	// and the number of CPUs), or pool_max_conns from the DSN.
	MaxConns int32
}

// core is the store written once, which Store runs on PostgreSQL.
type core = sqlstore.Store

// Store is a store.Store in a PostgreSQL database. It is safe for
// concurrent use by many goroutines and by many processes sharing the
// database. Its methods — store.Store's, and ReserveSerials — are
// pkg/store/internal/sqlstore's, promoted; this package connects,
// migrates, and runs writes, retrying serialization failures.
type Store struct {
	*core
	pool *pgxpool.Pool
	host string // for messages; never the password
	b    batcher
}

var _ sqlstore.SharedWriter = driver{}

// Open connects to the database dsn names ("postgres://user@host/db?..."
// or a key=value string) and applies any migrations not yet recorded in
// schema_migrations, holding an advisory lock so that replicas starting
// together migrate once.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors can quote the DSN; say only that it failed.
		return nil, errors.New("postgres: parsing the connection string failed (check its syntax)")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// kyso's statements are short lookups and writes, and its reports one
	// pass each: PostgreSQL's JIT compiles a report's plan (0.2 s at 10⁶
	// enrolments, docs/DESIGN.md "Data at scale") to run it once. Off
	// unless the DSN sets it (jit=on).
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	s := &Store{host: fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting to %s: %w", s.host, redact(err, cfg))
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", s.host, redact(err, cfg))
	}
	if err := s.migrate(ctx, opts.Now); err != nil {
		s.pool.Close()
		return nil, err
	}
	s.core = sqlstore.New(driver{s}, dialect, opts.Now)
	return s, nil
}

// redact removes the password from err's message, should a driver error
// ever quote it.
func redact(err error, cfg *pgxpool.Config) error {
	if pw := cfg.ConnConfig.Password; pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// migrate applies the embedded migrations not yet recorded, under a
// session advisory lock, each in its own transaction.
func (s *Store) migrate(ctx context.Context, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(lockMigrate)); err != nil {
		return fmt.Errorf("postgres: migrating %s: taking the migration lock: %w", s.host, err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(lockMigrate))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version bigint      NOT NULL PRIMARY KEY,
		name    text        NOT NULL,
		applied timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	applied := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	for _, v := range versions {
		applied[v] = true
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
				m.Version, m.Name, check.Time(now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migrating %s: applying %s: %w", s.host, m.Name, err)
		}
	}
	return nil
}

// mapErr turns a constraint violation the statements did not foresee into
// the nearest store sentinel, keeping PostgreSQL's message.
func mapErr(err error) error {
	if unreachable(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		switch pe.ConstraintName {
		case "serials_pkey":
			return fmt.Errorf("%w: %v", store.ErrDuplicateSerial, err)
		case "certified_keys_pkey":
			return fmt.Errorf("%w: %v", store.ErrDuplicatePublicKey, err)
		case "campaign_holders_pkey":
			return fmt.Errorf("%w: %v", store.ErrCampaignHolder, err)
		}
		return fmt.Errorf("%w: %v", store.ErrExists, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w: %v", store.ErrNotReserved, err)
	case "23514", "22P02", "22021": // check_violation, invalid text, bad encoding
		return fmt.Errorf("%w: %v", store.ErrInvalid, err)
	case "53100": // disk_full
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err says the server could not be reached or
// went away: refused or broken connections, a server shutting down or
// starting (57P01-57P03), a connection exception (class 08). The write
// did not happen, or its transaction was rolled back with the connection.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// dialect is how PostgreSQL stores what differs: times as timestamptz,
// an activation's hashes as bytea[], a seq identity column for insertion
// order; rows read to be changed are locked, since transactions run side
// by side at READ COMMITTED, and audit appends take an advisory lock so
// that IDs increase in commit order.
var dialect = sqlstore.Dialect{
	Name:         "postgres",
	NoRows:       pgx.ErrNoRows,
	Time:         func(t time.Time) any { return t },
	TimeType:     "timestamptz",
	Hashes:       func(hs [][]byte) (any, error) { return hs, nil },
	ScanHashes:   func(hs *[][]byte) any { return hs },
	Seq:          "seq",
	DetailsOwner: `kyso_audit_owner(details)`,
	RowLocks:     true,
	AuditLock:    fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, int64(lockAudit)),
	MapErr:       mapErr,
	IsForeignKey: isForeignKey,
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// driver is the Store as sqlstore runs on it.
type driver struct{ s *Store }

// Reader is the pool.
func (d driver) Reader() sqlstore.Conn { return conn{d.s.pool} }

// Read runs fn in one read-only REPEATABLE READ transaction: one snapshot.
// Within a traced request it is the span db.read.
func (d driver) Read(ctx context.Context, fn func(sqlstore.Conn) error) (err error) {
	ctx, span := tracing.Child(ctx, "db.read", dbSystem)
	defer func() { tracing.End(span, err) }()
	return pgx.BeginTxFunc(ctx, d.s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(conn{tx}) })
}

// Write runs fn in a transaction and commits it, or, when fn runs one
// statement alone, on the pool, where the statement commits by itself:
// one round trip instead of three. A serialization failure or deadlock is
// tried again, up to maxAttempts times. Within a traced request it is the
// span db.write, which names the attempts made (kyso.db.attempts).
func (d driver) Write(ctx context.Context, alone bool, fn func(sqlstore.Conn) error) (err error) {
	ctx, span := tracing.Child(ctx, "db.write", dbSystem)
	defer func() { tracing.End(span, err) }()
	return d.s.write(ctx, alone, fn)
}

// write is Write without its span: the transaction, tried again on a
// serialization failure or deadlock, timed, its attempts named on the
// span of ctx.
func (s *Store) write(ctx context.Context, alone bool, fn func(sqlstore.Conn) error) (err error) {
	start := time.Now()
	defer func() { metrics.Since(commits, start) }()
	attempt := 1
	defer func() {
		trace.SpanFromContext(ctx).SetAttributes(attribute.Int("kyso.db.attempts", min(attempt, maxAttempts)))
	}()
	for ; attempt <= maxAttempts; attempt++ {
		if alone {
			err = fn(conn{s.pool})
		} else {
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(conn{tx}) })
		}
		if err == nil {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
	return err
}

// dbSystem names the database on its spans.
var dbSystem = attribute.String("db.system.name", "postgresql")

// commits times the writes (kyso_db_commit_duration_seconds).
var commits = metrics.DBCommits.WithLabelValues("postgres")

// conn is a sqlstore.Conn on pgx: the pool or a transaction.
type conn struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	}
}

// Exec runs q and returns the rows it changed.
func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

// ExecEach sends q with each argument list in one batch: one round trip.
func (c conn) ExecEach(ctx context.Context, q string, args [][]any) (int64, error) {
	b := &pgx.Batch{}
	for _, a := range args {
		b.Queue(q, a...)
	}
	res := c.q.SendBatch(ctx, b)
	var n int64
	for range args {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, res.Close()
}

// QueryRow runs q for one row.
func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, q, args...)
}

// Query runs q for rows.
func (c conn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// Ping checks the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("postgres: pinging %s: %w", s.host, err)
	}
	return nil
}

// Close closes the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
