// Package sqlite is kyso's embedded store: one SQLite file, opened with the
// pure-Go driver modernc.org/sqlite so that kysod starts with nothing
// installed and CGO_ENABLED=0 builds keep their database.
//
// The file is in WAL mode with synchronous=FULL (a committed transaction
// survives power loss) and foreign keys on. Writes go through one
// connection and every write transaction starts with BEGIN IMMEDIATE, so
// goroutines queue in Go for the writer instead of meeting SQLITE_BUSY, and
// other processes on the same file wait for busy_timeout. Writes that queue
// while a commit waits for its fsync are committed together, each in a
// savepoint of its own (group commit): one fsync serves them all, and each
// still succeeds or fails alone. Reads use a separate pool of read-only
// connections, which WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// Options changes how Open opens the database. A nil *Options and the zero
// value are the defaults.
type Options struct {
	// Now returns the current time, for records whose caller left a time
	// zero. Nil: time.Now.
	Now func() time.Time
	// BusyTimeout is how long a write waits for another process holding
	// the file's write lock before failing. Zero: 30 seconds.
	BusyTimeout time.Duration
	// MaxReaders bounds the read-only connections. Zero: the number of
	// CPUs, at least 4.
	MaxReaders int
}

// core is the store written once, which Store runs on SQLite.
type core = sqlstore.Store

// Store is a store.Store in one SQLite file. It is safe for concurrent use
// by many goroutines and by several processes opening the same file. Its
// methods — store.Store's, and ReserveSerials — are
// pkg/store/internal/sqlstore's, promoted; this package opens the file,
// migrates it, and runs writes through the group-commit writer.
type Store struct {
	*core
	w, r *sql.DB // w: one connection, BEGIN IMMEDIATE; r: read-only pool
	path string
	rb   sqlstore.Rebinder // every statement is written with $N

	// Group commit (write): transactions waiting for the writer, and
	// whether a goroutine is committing them.
	wmu     sync.Mutex
	pending []*groupWrite
	writing bool
	closed  bool
	// groups counts commits that carried more than one transaction, for
	// tests.
	groups atomic.Int64

	// hot holds the writer's hot statements (sqlstore.HotWrites), prepared
	// when the store opens and not changed after, by SQL text; reads holds
	// the one-row reads, prepared on the read pool at their first use.
	// SQLite parses a statement as long as it takes to run one of these.
	hot     map[string]*sql.Stmt
	readsMu sync.Mutex
	reads   map[string]*sql.Stmt
}

// readStmt returns q prepared on the read pool, preparing it the first
// time.
func (s *Store) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.readsMu.Lock()
	defer s.readsMu.Unlock()
	if st := s.reads[q]; st != nil {
		return st, nil
	}
	st, err := s.r.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.reads == nil {
		s.reads = map[string]*sql.Stmt{}
	}
	s.reads[q] = st
	return st, nil
}

// prepareWriter prepares the writer's hot statements. Preparing on the
// writer later would wait for its one connection, which the transaction
// asking holds.
func (s *Store) prepareWriter(ctx context.Context) error {
	s.hot = map[string]*sql.Stmt{}
	for _, q := range sqlstore.HotWrites {
		q = s.rb.Rebind(q)
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: preparing %q: %w", q, err)
		}
		s.hot[q] = st
	}
	return nil
}

// Open opens (creating if need be) the SQLite database at path, creating its
// directory (mode 0700) and file (mode 0600), and applies any migrations
// not yet recorded in schema_migrations, in one write transaction so that
// two processes opening a new file at once do not both migrate.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if path == "" {
		return nil, errors.New("sqlite: opening database: empty path")
	}
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: opening %q: the path may not contain '?' or start with \"file:\"", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: creating directory for %s: %w", abs, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: creating %s: %w", abs, err)
	}
	f.Close()

	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 30 * time.Second
	}
	params := "?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", abs+params+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	readers := opts.MaxReaders
	if readers <= 0 {
		readers = max(runtime.NumCPU(), 4)
	}
	r, err := sql.Open("sqlite", abs+params+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", abs, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)

	s := &Store{w: w, r: r, path: abs}
	s.core = sqlstore.New(driver{s}, dialect, opts.Now)
	// Several processes opening a new file at once race to switch it to WAL
	// and to migrate it; SQLite answers SQLITE_BUSY without waiting where
	// waiting could deadlock, so a busy migration is tried again, with
	// jittered backoff, until the busy timeout.
	deadline := time.Now().Add(busy)
	for attempt := 0; ; attempt++ {
		err := s.migrate(ctx, opts.Now)
		if err == nil {
			if err := s.prepareWriter(ctx); err != nil {
				s.Close()
				return nil, err
			}
			return s, nil
		}
		if !isBusy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			s.Close()
			return nil, err
		}
		pause := time.Duration(5+mathrand.IntN(20*min(attempt+1, 10))) * time.Millisecond
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY (5) or SQLITE_LOCKED (6), in
// their primary or extended forms.
func isBusy(err error) bool {
	var c interface{ Code() int }
	if errors.As(err, &c) {
		switch c.Code() & 0xff {
		case 5, 6:
			return true
		}
	}
	return false
}

// migrate applies the embedded migrations not yet recorded, all in one
// BEGIN IMMEDIATE transaction.
func (s *Store) migrate(ctx context.Context, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	err = s.writeOne(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER NOT NULL PRIMARY KEY,
			name    TEXT    NOT NULL,
			applied INTEGER NOT NULL)`); err != nil {
			return err
		}
		applied := map[int64]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("applying %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
				m.Version, m.Name, micro(now())); err != nil {
				return fmt.Errorf("recording %s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: migrating %s: %w", s.path, mapErr(err))
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the one writer
// connection) and commits it. Errors are fn's, or say which step failed;
// sqlstore wraps them with what was being done.
//
// Writes are committed in groups: while one commit waits for its fsync
// (about 2 ms on a cloud disk with synchronous=FULL), the writes that
// arrive queue up, and the next commit carries them all, each in a
// savepoint of its own, so that one failing undoes only its own changes.
// Every write returns after the commit that made it durable, so a caller
// sees no difference but the wait; a lone write is committed at once.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g := &groupWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return errors.New("the store is closed")
	}
	s.pending = append(s.pending, g)
	if !s.writing {
		s.writing = true
		go s.commitLoop()
	}
	s.wmu.Unlock()
	<-g.done
	return g.err
}

// commits times the commits (kyso_db_commit_duration_seconds): a group
// counts once.
var commits = metrics.DBCommits.WithLabelValues("sqlite")

// groupWrite is a write waiting for its commit.
type groupWrite struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	err  error
	done chan struct{}
}

// maxGroup bounds the writes one commit carries.
const maxGroup = 128

// commitLoop commits the pending writes, a group at a time, until none is
// left.
func (s *Store) commitLoop() {
	for {
		s.wmu.Lock()
		batch := s.pending
		if len(batch) > maxGroup {
			s.pending = append([]*groupWrite(nil), batch[maxGroup:]...)
			batch = batch[:maxGroup]
		} else {
			s.pending = nil
		}
		if len(batch) == 0 {
			s.writing = false
			s.wmu.Unlock()
			return
		}
		s.wmu.Unlock()
		start := time.Now()
		if len(batch) == 1 {
			g := batch[0]
			g.err = s.writeOne(g.ctx, g.fn)
			metrics.Since(commits, start)
			close(g.done)
			continue
		}
		s.groups.Add(1)
		s.commitGroup(batch)
		metrics.Since(commits, start)
		for _, g := range batch {
			trace.SpanFromContext(g.ctx).SetAttributes(attribute.Int("kyso.db.group", len(batch)))
			close(g.done)
		}
	}
}

// writeOne runs fn in a transaction of its own and commits it.
func (s *Store) writeOne(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// commitGroup runs each write of batch in a savepoint of one transaction
// and commits it, setting each write's error.
func (s *Store) commitGroup(batch []*groupWrite) {
	fail := func(gs []*groupWrite, format string, err error) {
		for _, g := range gs {
			if g.err == nil {
				g.err = fmt.Errorf(format, err)
			}
		}
	}
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		fail(batch, "beginning transaction: %w", err)
		return
	}
	for i, g := range batch {
		if err := g.ctx.Err(); err != nil {
			g.err = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			tx.Rollback()
			fail(batch, "beginning savepoint: %w", err)
			return
		}
		if err := g.fn(tx); err != nil {
			g.err = err
			if _, rerr := tx.Exec(`ROLLBACK TO w`); rerr != nil {
				// The transaction itself is gone (SQLite rolls back
				// everything on some errors): nothing of the group
				// stands.
				tx.Rollback()
				fail(batch[:i], "committing: a later write in the same group failed: %w", rerr)
				fail(batch[i:], "rolling back: %w", rerr)
				return
			}
		}
		if _, err := tx.Exec(`RELEASE w`); err != nil {
			tx.Rollback()
			fail(batch, "releasing savepoint: %w", err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(batch, "committing: %w", err)
	}
}

// dialect is how SQLite stores what differs: times as INTEGER microseconds
// since the epoch, an activation's hashes as a JSON array of base64
// strings, rowid for insertion order; no row locks, since BEGIN IMMEDIATE
// holds the file's write lock for the whole write.
var dialect = sqlstore.Dialect{
	Name:     "sqlite",
	NoRows:   sql.ErrNoRows,
	Time:     func(t time.Time) any { return micro(t) },
	TimeType: "INTEGER",
	Hashes: func(hs [][]byte) (any, error) {
		list, err := json.Marshal(hs) // base64 strings, in order
		return string(list), err
	},
	ScanHashes:   func(hs *[][]byte) any { return jsonHashes{hs} },
	Seq:          "rowid",
	DetailsOwner: `json_extract(details, '$.owner')`,
	MapErr:       mapErr,
	IsForeignKey: isForeignKey,
}

// jsonHashes scans the JSON array of an activation's hashes.
type jsonHashes struct{ hs *[][]byte }

// Scan implements sql.Scanner.
func (j jsonHashes) Scan(src any) error {
	var list []byte
	switch v := src.(type) {
	case string:
		list = []byte(v)
	case []byte:
		list = v
	default:
		return fmt.Errorf("hashes column holds %T", src)
	}
	if err := json.Unmarshal(list, j.hs); err != nil {
		return fmt.Errorf("hashes: %w", err)
	}
	return nil
}

// mapErr turns a constraint violation the checks in Go did not foresee into
// the nearest store sentinel, keeping SQLite's message.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %v", store.ErrExists, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %v", store.ErrNotReserved, err)
	}
	if se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// micro is t as microseconds since the epoch, the form times are stored in.
func micro(t time.Time) int64 { return check.Time(t).UnixMicro() }

// driver is the Store as sqlstore runs on it.
type driver struct{ s *Store }

// Reader is the read-only pool.
func (d driver) Reader() sqlstore.Conn { return conn{s: d.s, db: d.s.r, pool: true} }

// Read runs fn in one read-only transaction on the read pool.
// Within a traced request it is the span db.read.
func (d driver) Read(ctx context.Context, fn func(sqlstore.Conn) error) (err error) {
	ctx, span := tracing.Child(ctx, "db.read", dbSystem)
	defer func() { tracing.End(span, err) }()
	tx, err := d.s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(conn{s: d.s, db: tx})
}

// Write runs fn through the group-commit writer, alone or not: every write
// is a transaction on the one writer connection. Within a traced request
// it is the span db.write, from queueing to the commit, which names how
// many writes the commit carried (kyso.db.group).
func (d driver) Write(ctx context.Context, _ bool, fn func(sqlstore.Conn) error) (err error) {
	ctx, span := tracing.Child(ctx, "db.write", dbSystem)
	defer func() { tracing.End(span, err) }()
	return d.s.write(ctx, func(tx *sql.Tx) error { return fn(conn{s: d.s, db: tx, tx: tx}) })
}

// dbSystem names the database on its spans.
var dbSystem = attribute.String("db.system.name", "sqlite")

// conn is a sqlstore.Conn on database/sql: the read pool, a read
// transaction, or a write transaction. It rewrites every statement's
// placeholders for SQLite.
type conn struct {
	s  *Store
	db interface {
		ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	}
	tx   *sql.Tx // a write: the writer's prepared statements run through it
	pool bool    // the read pool: one-row reads run prepared
}

// Exec runs q and returns the rows it changed.
func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	q = c.s.rb.Rebind(q)
	var res sql.Result
	var err error
	if st := c.hot(q); st != nil {
		res, err = c.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	} else {
		res, err = c.db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExecEach runs q, prepared once (or ahead, when hot), with each argument
// list.
func (c conn) ExecEach(ctx context.Context, q string, args [][]any) (int64, error) {
	if c.tx == nil {
		return 0, errors.New("ExecEach outside a write")
	}
	q = c.s.rb.Rebind(q)
	st := (*sql.Stmt)(nil)
	if h := c.hot(q); h != nil {
		st = c.tx.StmtContext(ctx, h)
	} else {
		var err error
		if st, err = c.tx.PrepareContext(ctx, q); err != nil {
			return 0, err
		}
	}
	defer st.Close()
	var n int64
	for _, a := range args {
		res, err := st.ExecContext(ctx, a...)
		if err != nil {
			return n, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// QueryRow runs q for one row.
func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	q = c.s.rb.Rebind(q)
	if st := c.hot(q); st != nil {
		return c.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	if c.pool {
		st, err := c.s.readStmt(ctx, q)
		if err != nil {
			return errRow{err}
		}
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}

// Query runs q for rows.
func (c conn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.db.QueryContext(ctx, c.s.rb.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// hot returns the writer's prepared statement for q in a write, or nil.
func (c conn) hot(q string) *sql.Stmt {
	if c.tx == nil {
		return nil
	}
	return c.s.hot[q]
}

// sqlRows are *sql.Rows as sqlstore.Rows.
type sqlRows struct{ *sql.Rows }

// Close closes the rows; an error closing them shows in Err.
func (r sqlRows) Close() { r.Rows.Close() }

// errRow is a row that fails to scan with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Ping checks that both the writer and a reader answer a query.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.r, s.w} {
		var one int
		if err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
			return fmt.Errorf("sqlite: pinging %s: %w", s.path, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.wmu.Lock()
	s.closed = true
	s.wmu.Unlock()
	for _, st := range s.hot {
		st.Close()
	}
	s.readsMu.Lock()
	for _, st := range s.reads {
		st.Close()
	}
	s.reads = nil
	s.readsMu.Unlock()
	err := errors.Join(s.r.Close(), s.w.Close())
	if err != nil {
		return fmt.Errorf("sqlite: closing %s: %w", s.path, err)
	}
	return nil
}
