// Package sqlstore is kyso's store written once: every method of
// store.Store, every state rule and every SQL statement, over a thin query
// interface (Conn, DB) that both databases' drivers satisfy and a Dialect
// that says what really differs between them — how times and hash lists
// are stored, row locks, error codes. The drivers (pkg/store/sqlite,
// pkg/store/postgres) open the database, migrate it and decide how a
// write runs: SQLite's group-commit writer, PostgreSQL's retried
// transactions and, for the signing path's writes, its commit batcher
// (SharedWriter).
//
// Statements are written with PostgreSQL's numbered placeholders ($1, $2);
// a driver whose database numbers them differently rewrites them (Rebind).
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// Conn runs statements: on a transaction, or on a pool where each
// statement stands alone.
type Conn interface {
	// Exec runs a statement and returns the rows it changed.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	// ExecEach runs q once with each argument list, in order, and returns
	// the rows changed in all; a driver may send them together.
	ExecEach(ctx context.Context, q string, args [][]any) (int64, error)
	// QueryRow runs a statement that returns at most one row.
	QueryRow(ctx context.Context, q string, args ...any) Row
	// Query runs a statement that returns rows.
	Query(ctx context.Context, q string, args ...any) (Rows, error)
}

// Row is one row of a result; Scan gives the Dialect's NoRows when there
// is none.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows of a result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// DB is a database as a driver offers it.
type DB interface {
	// Reader runs reads, each statement alone.
	Reader() Conn
	// Read runs fn's reads in one read-only transaction, so that they see
	// one snapshot.
	Read(ctx context.Context, fn func(Conn) error) error
	// Write runs fn in a write transaction and commits it; fn's error, or
	// the commit's, is returned unwrapped. alone says fn runs a single
	// statement, which the database may commit by itself, without a
	// transaction around it. fn may be run more than once.
	Write(ctx context.Context, alone bool, fn func(Conn) error) error
}

// SharedWriter is a DB whose writes from concurrent callers may share one
// transaction and one durable commit (PostgreSQL's commit batcher; SQLite's
// Write groups every write already). WriteShared runs fn like Write, but
// possibly in a transaction that carries other callers' writes too, each
// undone alone when it fails; it returns after the commit that made fn's
// changes durable, and when that commit fails every write it carried
// fails. fn must not lock rows another write of the same transaction could
// hold in another order, and must use the Conn it is given with any
// context: the Conn runs its statements under the batch's.
type SharedWriter interface {
	WriteShared(ctx context.Context, alone bool, fn func(Conn) error) error
}

// Dialect is what differs between the databases, beyond how a write runs.
type Dialect struct {
	// Name begins every error message ("sqlite", "postgres").
	Name string
	// NoRows is the error Row.Scan gives when there is no row.
	NoRows error
	// Time encodes a time (UTC, whole microseconds) as its columns hold it.
	Time func(time.Time) any
	// TimeType is the SQL type of a time column, for CAST.
	TimeType string
	// Hashes encodes an activation's ordered hash list as its column holds
	// it; ScanHashes gives a Scan destination that decodes it into *hs.
	Hashes     func(hs [][]byte) (any, error)
	ScanHashes func(hs *[][]byte) any
	// Seq is the column that orders rows of one table by insertion, where
	// a table has no ID of its own ("rowid", "seq").
	Seq string
	// RowLocks: a row read to be changed is locked (SELECT ... FOR UPDATE),
	// because other transactions write beside this one. A database whose
	// writes are serialised by one lock needs none.
	RowLocks bool
	// DetailsOwner is the expression of an audit event's details that
	// names its owner ("owner"), as the index audit_events_signatures
	// (migration 0019) is written: an owner's signatures are found through
	// it.
	DetailsOwner string
	// AuditLock, when set, is run in a write before the audit chain's head
	// is read and events are inserted, so that the chain is one sequence in
	// commit order.
	AuditLock string
	// MapErr turns a database error into the nearest store sentinel,
	// keeping the database's message; other errors pass unchanged.
	MapErr func(error) error
	// IsForeignKey reports whether err is a foreign key violation.
	IsForeignKey func(error) bool
}

// Store is a store.Store over a DB in a Dialect, but for Ping and Close,
// which are the driver's.
type Store struct {
	db  DB
	r   Conn
	d   Dialect
	now func() time.Time
}

// New returns the store over db, which must be ready to answer. now is the clock for records whose caller
// left a time zero; nil means time.Now.
func New(db DB, d Dialect, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, r: db.Reader(), d: d, now: now}
}

// Hot statements, which a driver may prepare when it opens: they are on
// the signing path (UseActivation and its audit events, chained to the
// head) and on issuance's (ca.go).
const (
	sqlInsertAudit = `INSERT INTO audit_events (id, time, actor, action, subject, outcome, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	sqlUseActivation = `UPDATE activations SET remaining = remaining - $1
		WHERE sad_hash = $2 AND remaining >= $1 AND expires_at > $3`
)

// HotWrites are the write statements worth preparing ahead.
var HotWrites = []string{sqlInsertAudit, sqlAuditHead, sqlUseActivation,
	sqlReserve, sqlCertifySerial, sqlPutCertificate, sqlCertifyKey, sqlCountStatus}

// write runs fn through the driver's Write and wraps its error
// "name: what: ".
func (s *Store) write(ctx context.Context, what string, alone bool, fn func(Conn) error) error {
	if err := s.db.Write(ctx, alone, fn); err != nil {
		return s.fail(what, err)
	}
	return nil
}

// writeShared is write, through the driver's WriteShared when it has one:
// for the writes of the signing path, which many requests make at once.
func (s *Store) writeShared(ctx context.Context, what string, alone bool, fn func(Conn) error) error {
	sw, ok := s.db.(SharedWriter)
	if !ok {
		return s.write(ctx, what, alone, fn)
	}
	if err := sw.WriteShared(ctx, alone, fn); err != nil {
		return s.fail(what, err)
	}
	return nil
}

// fail wraps err "name: what: ", mapped to the nearest sentinel.
func (s *Store) fail(what string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, what, s.d.MapErr(err))
}

// invalid wraps an input error "name: what: " unmapped.
func (s *Store) invalid(what string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
}

// noRows reports whether err says a row was not there.
func (s *Store) noRows(err error) bool { return errors.Is(err, s.d.NoRows) }

// notFound turns no row into store.ErrNotFound.
func (s *Store) notFound(err error) error {
	if s.noRows(err) {
		return store.ErrNotFound
	}
	return err
}

// missingParent turns a foreign key violation into ErrNotFound naming what
// the record refers to; other errors pass unchanged.
func (s *Store) missingParent(err error, what string) error {
	if err != nil && s.d.IsForeignKey(err) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

// inserted turns an insert that changed nothing (ON CONFLICT DO NOTHING)
// into taken.
func inserted(n int64, err error, taken error) error {
	if err == nil && n == 0 {
		return taken
	}
	return err
}

// clock returns t, or the store's clock when t is zero, not yet truncated.
func (s *Store) clock(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// orNow returns t, or the store's clock when t is zero, as stored: UTC, to
// the microsecond.
func (s *Store) orNow(t time.Time) time.Time { return check.Time(s.clock(t)) }

// time is t as its columns hold it.
func (s *Store) time(t time.Time) any { return s.d.Time(check.Time(t)) }

// nullTime is t as a nullable time column holds it: NULL for the zero time.
func (s *Store) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.time(t)
}

// lock is the clause that locks the rows a SELECT reads to change them (of
// the table named of, when set), or nothing when the dialect needs none.
func (s *Store) lock(of string) string {
	switch {
	case !s.d.RowLocks:
		return ""
	case of != "":
		return " FOR UPDATE OF " + of
	}
	return " FOR UPDATE"
}

// skipLocked ends the SELECT a claim (ClaimWebhooks, ClaimApproved) leases
// rows from: FOR UPDATE SKIP LOCKED where writers run side by side, so
// that claimers pass over each other's rows; nothing where one writer
// holds the database.
func (s *Store) skipLocked() string {
	if !s.d.RowLocks {
		return ""
	}
	return s.lock("") + " SKIP LOCKED"
}

// Time is a Scan destination for a time column, nullable or not, in either
// form a dialect stores: microseconds since the epoch (an integer) or a
// timestamp. NULL gives the zero time; every time is given in UTC.
type Time struct{ T *time.Time }

// Scan implements sql.Scanner.
func (t Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t.T = time.Time{}
	case int64:
		*t.T = time.UnixMicro(v).UTC()
	case time.Time:
		*t.T = v.UTC()
	default:
		return fmt.Errorf("a time column holds %T", src)
	}
	return nil
}

// nullBytes is b as a nullable binary column holds it: NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullString is s as a nullable text column holds it: NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// NullString is a Scan destination for a nullable text column: NULL gives
// "".
type NullString struct{ S *string }

// Scan implements sql.Scanner.
func (n NullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.S = ""
	case string:
		*n.S = v
	case []byte:
		*n.S = string(v)
	default:
		return fmt.Errorf("a text column holds %T", src)
	}
	return nil
}

// collect reads every row of rows with scan.
func collect[T any](rows Rows, err error, scan func(Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
