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

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
	"github.com/kyso-pki/kyso/pkg/store/internal/migrate"
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

// Store is a store.Store in one SQLite file. It is safe for concurrent use
// by many goroutines and by several processes opening the same file.
type Store struct {
	w, r *sql.DB // w: one connection, BEGIN IMMEDIATE; r: read-only pool
	now  func() time.Time
	path string

	// Group commit (write): transactions waiting for the writer, and
	// whether a goroutine is committing them.
	wmu     sync.Mutex
	pending []*groupWrite
	writing bool
	closed  bool
	// groups counts commits that carried more than one transaction, for
	// tests.
	groups atomic.Int64

	// stmts holds the prepared statements of the hot paths (signHash's
	// lookups and writes), by database and SQL text: SQLite parses a
	// statement as long as it takes to run one of these.
	stmtMu sync.Mutex
	stmts  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	db *sql.DB
	q  string
}

// prepared returns q prepared on db, preparing it the first time.
func (s *Store) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	k := stmtKey{db, q}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st := s.stmts[k]; st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st, nil
}

// readRow runs a one-row query, prepared once, on the read pool.
func (s *Store) readRow(ctx context.Context, q string, args ...any) rowScanner {
	st, err := s.prepared(ctx, s.r, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// Statements the writer prepares when the store opens (prepareWriter):
// preparing on the writer later would wait for its one connection, which
// the transaction asking holds.
const (
	sqlInsertAudit   = `INSERT INTO audit_events (time, actor, action, subject, outcome, details) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
	sqlUseActivation = `UPDATE activations SET remaining = remaining - ?1 WHERE sad_hash = ?2 AND remaining >= ?1 AND expires_at > ?3`
)

// prepareWriter prepares the writer's hot statements.
func (s *Store) prepareWriter(ctx context.Context) error {
	for _, q := range []string{sqlInsertAudit, sqlUseActivation} {
		if _, err := s.prepared(ctx, s.w, q); err != nil {
			return fmt.Errorf("sqlite: preparing %q: %w", q, err)
		}
	}
	return nil
}

// txStmt returns q for use in tx: the statement prepareWriter prepared,
// or, for any other q, one prepared in tx alone.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	st := s.stmts[stmtKey{s.w, q}]
	s.stmtMu.Unlock()
	if st == nil {
		return tx.PrepareContext(ctx, q)
	}
	return tx.StmtContext(ctx, st), nil
}

// rowScanner is what *sql.Row offers.
type rowScanner interface{ Scan(dest ...any) error }

// errRow is a row that fails to scan with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

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

	s := &Store{w: w, r: r, now: opts.Now, path: abs}
	if s.now == nil {
		s.now = time.Now
	}
	// Several processes opening a new file at once race to switch it to WAL
	// and to migrate it; SQLite answers SQLITE_BUSY without waiting where
	// waiting could deadlock, so a busy migration is tried again, with
	// jittered backoff, until the busy timeout.
	deadline := time.Now().Add(busy)
	for attempt := 0; ; attempt++ {
		err := s.migrate(ctx)
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
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return s.writeOne(ctx, "migrating "+s.path, func(tx *sql.Tx) error {
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
				m.Version, m.Name, micro(s.now())); err != nil {
				return fmt.Errorf("recording %s: %w", m.Name, err)
			}
		}
		return nil
	})
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the one writer
// connection) and commits it. Errors from fn that wrap a store sentinel are
// returned as they are under "sqlite: what: "; others are wrapped likewise.
//
// Writes are committed in groups: while one commit waits for its fsync
// (about 2 ms on a cloud disk with synchronous=FULL), the writes that
// arrive queue up, and the next commit carries them all, each in a
// savepoint of its own, so that one failing undoes only its own changes.
// Every write returns after the commit that made it durable, so a caller
// sees no difference but the wait; a lone write is committed at once.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	g := &groupWrite{ctx: ctx, what: what, fn: fn, done: make(chan struct{})}
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return fmt.Errorf("sqlite: %s: the store is closed", what)
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

// groupWrite is a write waiting for its commit.
type groupWrite struct {
	ctx  context.Context
	what string
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
		if len(batch) == 1 {
			g := batch[0]
			g.err = s.writeOne(g.ctx, g.what, g.fn)
			close(g.done)
			continue
		}
		s.groups.Add(1)
		s.commitGroup(batch)
		for _, g := range batch {
			close(g.done)
		}
	}
}

// writeOne runs fn in a transaction of its own and commits it.
func (s *Store) writeOne(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: beginning transaction: %w", what, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite: %s: %w", what, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: committing: %w", what, mapErr(err))
	}
	return nil
}

// commitGroup runs each write of batch in a savepoint of one transaction
// and commits it, setting each write's error.
func (s *Store) commitGroup(batch []*groupWrite) {
	fail := func(gs []*groupWrite, format string, err error) {
		for _, g := range gs {
			if g.err == nil {
				g.err = fmt.Errorf("sqlite: %s: "+format, g.what, err)
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
			g.err = fmt.Errorf("sqlite: %s: %w", g.what, err)
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			tx.Rollback()
			fail(batch, "beginning savepoint: %w", err)
			return
		}
		if err := g.fn(tx); err != nil {
			g.err = fmt.Errorf("sqlite: %s: %w", g.what, mapErr(err))
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
		fail(batch, "committing: %w", mapErr(err))
	}
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
	return err
}

// micro is t as microseconds since the epoch, the form times are stored in.
func micro(t time.Time) int64 { return check.Time(t).UnixMicro() }

// fromMicro is the inverse of micro, in UTC.
func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

// orNow returns t, or the store's clock when t is zero.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// PutCA records ca; ErrExists when a CA of that name exists.
func (s *Store) PutCA(ctx context.Context, ca *store.CA) error {
	if err := check.CA(ca); err != nil {
		return fmt.Errorf("sqlite: storing CA: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing CA %q", ca.Name), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO cas (name, kind, key_uri, cert_der, created)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			ca.Name, ca.Kind, ca.KeyURI, ca.CertDER, micro(s.orNow(ca.Created)))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrExists
		}
		for i, der := range ca.ChainDER {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ca_chain (ca, position, der) VALUES (?, ?, ?)`, ca.Name, i, der); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetCA returns the CA named name, or ErrNotFound.
func (s *Store) GetCA(ctx context.Context, name string) (*store.CA, error) {
	cas, err := s.listCAs(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading CA %q: %w", name, err)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("sqlite: reading CA %q: %w", name, store.ErrNotFound)
	}
	return cas[0], nil
}

// ListCAs returns every CA, oldest first.
func (s *Store) ListCAs(ctx context.Context) ([]*store.CA, error) {
	cas, err := s.listCAs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing CAs: %w", err)
	}
	return cas, nil
}

// listCAs reads the CA named name, or all of them when name is empty.
func (s *Store) listCAs(ctx context.Context, name string) ([]*store.CA, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name, kind, key_uri, cert_der, created FROM cas
		WHERE ? = '' OR name = ? ORDER BY created, rowid`, name, name)
	if err != nil {
		return nil, err
	}
	var cas []*store.CA
	byName := map[string]*store.CA{}
	for rows.Next() {
		ca := &store.CA{}
		var created int64
		if err := rows.Scan(&ca.Name, &ca.Kind, &ca.KeyURI, &ca.CertDER, &created); err != nil {
			rows.Close()
			return nil, err
		}
		ca.Created = fromMicro(created)
		cas = append(cas, ca)
		byName[ca.Name] = ca
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT ca, der FROM ca_chain WHERE ? = '' OR ca = ? ORDER BY ca, position`, name, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		var der []byte
		if err := rows.Scan(&n, &der); err != nil {
			return nil, err
		}
		if ca := byName[n]; ca != nil {
			ca.ChainDER = append(ca.ChainDER, der)
		}
	}
	return cas, rows.Err()
}

// ReserveSerial claims r.Serial for r.Issuer; ErrDuplicateSerial when it is
// taken.
func (s *Store) ReserveSerial(ctx context.Context, r *store.SerialReservation) error {
	if err := check.Reservation(r); err != nil {
		return fmt.Errorf("sqlite: reserving serial: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("reserving serial %x for %q", r.Serial, r.Issuer), func(tx *sql.Tx) error {
		return reserve(ctx, tx, r, micro(s.orNow(r.Reserved)))
	})
}

// ReserveSerials claims every serial in rs in one transaction: all or none.
// ErrDuplicateSerial when any is taken, or appears twice in rs. It is for
// bulk loads and tests; issuance reserves one serial at a time.
func (s *Store) ReserveSerials(ctx context.Context, rs []*store.SerialReservation) error {
	for _, r := range rs {
		if err := check.Reservation(r); err != nil {
			return fmt.Errorf("sqlite: reserving serials: %w", err)
		}
	}
	now := s.now()
	return s.write(ctx, fmt.Sprintf("reserving %d serials", len(rs)), func(tx *sql.Tx) error {
		for _, r := range rs {
			at := now
			if !r.Reserved.IsZero() {
				at = r.Reserved
			}
			if err := reserve(ctx, tx, r, micro(at)); err != nil {
				return fmt.Errorf("serial %x for %q: %w", r.Serial, r.Issuer, err)
			}
		}
		return nil
	})
}

func reserve(ctx context.Context, tx *sql.Tx, r *store.SerialReservation, at int64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO serials (issuer, serial, reserved_at) VALUES (?, ?, ?)
		ON CONFLICT (issuer, serial) DO NOTHING`, r.Issuer, r.Serial, at)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrDuplicateSerial
	}
	return nil
}

// PutCertificate stores c after checking, in the same transaction, that its
// serial is reserved, its public key not yet certified (unless
// AllowKeyReuse), and, for a campaign certificate, that its national ID has
// no active holder.
func (s *Store) PutCertificate(ctx context.Context, c *store.Certificate) error {
	if err := check.Certificate(c); err != nil {
		return fmt.Errorf("sqlite: storing certificate: %w", err)
	}
	status := c.Status
	if status == "" {
		status = store.StatusGood
	}
	return s.write(ctx, fmt.Sprintf("storing certificate %x from %q", c.Serial, c.Issuer), func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM serials WHERE issuer = ? AND serial = ?`, c.Issuer, c.Serial).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotReserved
		} else if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO certificates (issuer, serial, der, profile, subject,
			national_id, spki_sha256, key_uri, not_before, not_after, status, campaign, key_reuse, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issuer, serial) DO NOTHING`,
			c.Issuer, c.Serial, c.DER, c.Profile, c.Subject, c.NationalID, c.PublicKeySHA256, c.KeyURI,
			micro(c.NotBefore), micro(c.NotAfter), status, c.Campaign, c.AllowKeyReuse, micro(s.orNow(c.Created)))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("a certificate with this serial is stored already: %w", store.ErrExists)
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO certified_keys (spki_sha256, issuer, serial) VALUES (?, ?, ?)
			ON CONFLICT (spki_sha256) DO NOTHING`, c.PublicKeySHA256, c.Issuer, c.Serial)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 && !c.AllowKeyReuse {
			return store.ErrDuplicatePublicKey
		}
		if !c.Campaign || status == store.StatusRevoked {
			return nil
		}
		var holderStatus string
		var holderNotAfter int64
		err = tx.QueryRowContext(ctx, `SELECT c.status, c.not_after FROM campaign_holders h
			JOIN certificates c ON c.issuer = h.issuer AND c.serial = h.serial
			WHERE h.national_id = ?`, c.NationalID).Scan(&holderStatus, &holderNotAfter)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			res, err := tx.ExecContext(ctx, `INSERT INTO campaign_holders (national_id, issuer, serial) VALUES (?, ?, ?)
				ON CONFLICT (national_id) DO NOTHING`, c.NationalID, c.Issuer, c.Serial)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return store.ErrCampaignHolder
			}
			return nil
		case err != nil:
			return err
		}
		// RFC 5280 section 4.1.2.5: notAfter is inclusive.
		if holderStatus != store.StatusRevoked && holderNotAfter >= micro(c.NotBefore) {
			return store.ErrCampaignHolder
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaign_holders SET issuer = ?, serial = ? WHERE national_id = ?`,
			c.Issuer, c.Serial, c.NationalID)
		return err
	})
}

const certColumns = `issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
	not_before, not_after, status, campaign, key_reuse, created`

func scanCert(row interface{ Scan(...any) error }) (*store.Certificate, error) {
	c := &store.Certificate{}
	var nb, na, created int64
	if err := row.Scan(&c.Issuer, &c.Serial, &c.DER, &c.Profile, &c.Subject, &c.NationalID, &c.PublicKeySHA256,
		&c.KeyURI, &nb, &na, &c.Status, &c.Campaign, &c.AllowKeyReuse, &created); err != nil {
		return nil, err
	}
	c.NotBefore, c.NotAfter, c.Created = fromMicro(nb), fromMicro(na), fromMicro(created)
	return c, nil
}

// GetCertificate returns the certificate issuer issued with serial, or
// ErrNotFound.
func (s *Store) GetCertificate(ctx context.Context, issuer string, serial []byte) (*store.Certificate, error) {
	c, err := scanCert(s.r.QueryRowContext(ctx, `SELECT `+certColumns+` FROM certificates WHERE issuer = ? AND serial = ?`, issuer, serial))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading certificate %x from %q: %w", serial, issuer, err)
	}
	return c, nil
}

// ListCertificates returns the certificates matching f, newest first, at
// most f.Limit (≤ 0: 1000; at most 10000).
func (s *Store) ListCertificates(ctx context.Context, f *store.CertificateFilter) ([]*store.Certificate, error) {
	if err := check.Filter(f); err != nil {
		return nil, fmt.Errorf("sqlite: listing certificates: %w", err)
	}
	if f == nil {
		f = &store.CertificateFilter{}
	}
	q := `SELECT ` + certColumns + ` FROM certificates WHERE 1 = 1`
	var args []any
	for _, w := range []struct{ col, v string }{
		{"issuer", f.Issuer}, {"national_id", f.NationalID}, {"profile", f.Profile}, {"status", f.Status},
	} {
		if w.v != "" {
			q += ` AND ` + w.col + ` = ?`
			args = append(args, w.v)
		}
	}
	q += ` ORDER BY created DESC, id DESC LIMIT ?`
	args = append(args, check.Limit(f.Limit))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing certificates: %w", err)
	}
	defer rows.Close()
	var out []*store.Certificate
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing certificates: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing certificates: %w", err)
	}
	return out, nil
}

// Revoke revokes the certificate, or puts it on hold when r.Reason is
// ReasonCertificateHold. A certificate on hold may be revoked; one revoked
// gives ErrAlreadyRevoked, and so does putting a held certificate on hold
// again. Revoking a campaign certificate frees its national ID.
func (s *Store) Revoke(ctx context.Context, r *store.Revocation) error {
	if err := check.Revocation(r); err != nil {
		return fmt.Errorf("sqlite: revoking: %w", err)
	}
	at := micro(s.orNow(r.RevokedAt))
	return s.write(ctx, fmt.Sprintf("revoking certificate %x from %q", r.Serial, r.Issuer), func(tx *sql.Tx) error {
		var status, nationalID string
		var campaign bool
		err := tx.QueryRowContext(ctx, `SELECT status, campaign, national_id FROM certificates WHERE issuer = ? AND serial = ?`,
			r.Issuer, r.Serial).Scan(&status, &campaign, &nationalID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		next, err := nextStatus(status, r.Reason)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE certificates SET status = ? WHERE issuer = ? AND serial = ?`, next, r.Issuer, r.Serial); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (issuer, serial, reason, revoked_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (issuer, serial) DO UPDATE SET reason = excluded.reason, revoked_at = excluded.revoked_at`,
			r.Issuer, r.Serial, r.Reason, at); err != nil {
			return err
		}
		if next == store.StatusRevoked && campaign {
			_, err = tx.ExecContext(ctx, `DELETE FROM campaign_holders WHERE national_id = ? AND issuer = ? AND serial = ?`,
				nationalID, r.Issuer, r.Serial)
		}
		return err
	})
}

// ReleaseHold lifts a certificate's hold: status good again, revocation
// record deleted, in one transaction. A revoked certificate gives
// ErrAlreadyRevoked, a good one ErrNotOnHold. A campaign certificate keeps
// its national ID throughout: a hold never freed it.
func (s *Store) ReleaseHold(ctx context.Context, issuer string, serial []byte) error {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return fmt.Errorf("sqlite: releasing hold: %w", err)
	}
	if err := check.Serial(serial); err != nil {
		return fmt.Errorf("sqlite: releasing hold: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("releasing the hold on certificate %x from %q", serial, issuer), func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM certificates WHERE issuer = ? AND serial = ?`, issuer, serial).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		if err := releasable(status); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE certificates SET status = ? WHERE issuer = ? AND serial = ?`, store.StatusGood, issuer, serial); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM revocations WHERE issuer = ? AND serial = ?`, issuer, serial)
		return err
	})
}

// releasable says whether a certificate in status may have its hold
// released: ErrAlreadyRevoked or ErrNotOnHold when not.
func releasable(status string) error {
	switch status {
	case store.StatusHold:
		return nil
	case store.StatusRevoked:
		return fmt.Errorf("revoked for good, not on hold: %w", store.ErrAlreadyRevoked)
	}
	return store.ErrNotOnHold
}

// nextStatus is the status a certificate in status moves to when revoked
// for reason, or ErrAlreadyRevoked.
func nextStatus(status string, reason int) (string, error) {
	switch {
	case status == store.StatusRevoked:
		return "", store.ErrAlreadyRevoked
	case status == store.StatusHold && reason == store.ReasonCertificateHold:
		return "", fmt.Errorf("on hold already: %w", store.ErrAlreadyRevoked)
	case reason == store.ReasonCertificateHold:
		return store.StatusHold, nil
	}
	return store.StatusRevoked, nil
}

// ListRevoked returns issuer's revocations (including holds) in serial
// number order.
func (s *Store) ListRevoked(ctx context.Context, issuer string) ([]*store.Revocation, error) {
	// Serials have no leading zero bytes, so numeric order is shorter
	// first, then bytewise.
	rows, err := s.r.QueryContext(ctx, `SELECT serial, reason, revoked_at FROM revocations WHERE issuer = ?
		ORDER BY length(serial), serial`, issuer)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing revocations for %q: %w", issuer, err)
	}
	defer rows.Close()
	var out []*store.Revocation
	for rows.Next() {
		r := &store.Revocation{Issuer: issuer}
		var at int64
		if err := rows.Scan(&r.Serial, &r.Reason, &at); err != nil {
			return nil, fmt.Errorf("sqlite: listing revocations for %q: %w", issuer, err)
		}
		r.RevokedAt = fromMicro(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing revocations for %q: %w", issuer, err)
	}
	return out, nil
}

// queryRevocation reads one revocation by the revocations table's primary
// key (issuer, serial).
const queryRevocation = `SELECT reason, revoked_at FROM revocations WHERE issuer = ? AND serial = ?`

// GetRevocation returns the revocation (or hold) of issuer's certificate
// serial, or ErrNotFound when it has none.
func (s *Store) GetRevocation(ctx context.Context, issuer string, serial []byte) (*store.Revocation, error) {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return nil, fmt.Errorf("sqlite: reading revocation: %w", err)
	}
	if err := check.Serial(serial); err != nil {
		return nil, fmt.Errorf("sqlite: reading revocation: %w", err)
	}
	r := &store.Revocation{Issuer: issuer, Serial: append([]byte(nil), serial...)}
	var at int64
	err := s.readRow(ctx, queryRevocation, issuer, serial).Scan(&r.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading revocation of %x from %q: %w", serial, issuer, err)
	}
	r.RevokedAt = fromMicro(at)
	return r, nil
}

// queryKeyCertified asks both places a certified key is recorded, each
// through an index: certified_keys by its primary key, certificates by
// certificates_spki_sha256.
const queryKeyCertified = `SELECT EXISTS (SELECT 1 FROM certified_keys WHERE spki_sha256 = ?1)
	OR EXISTS (SELECT 1 FROM certificates WHERE spki_sha256 = ?1)`

// PublicKeyCertified reports whether a stored certificate carries the
// public key with SubjectPublicKeyInfo SHA-256 spkiSHA256.
func (s *Store) PublicKeyCertified(ctx context.Context, spkiSHA256 []byte) (bool, error) {
	if err := check.KeyHash(spkiSHA256); err != nil {
		return false, fmt.Errorf("sqlite: looking up public key: %w", err)
	}
	var certified bool
	if err := s.r.QueryRowContext(ctx, queryKeyCertified, spkiSHA256).Scan(&certified); err != nil {
		return false, fmt.Errorf("sqlite: looking up public key %x: %w", spkiSHA256, err)
	}
	return certified, nil
}

// NextCRLNumber returns issuer's next CRL number, starting at 1.
func (s *Store) NextCRLNumber(ctx context.Context, issuer string) (int64, error) {
	return s.bump(ctx, "issuer", issuer, "CRL number for", `INSERT INTO crl_numbers (issuer, last) VALUES (?, 1)
		ON CONFLICT (issuer) DO UPDATE SET last = last + 1 RETURNING last`)
}

// NextSequence returns the next value of the counter name, starting at 1.
func (s *Store) NextSequence(ctx context.Context, name string) (int64, error) {
	return s.bump(ctx, "sequence name", name, "next value of sequence", `INSERT INTO sequences (name, last) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET last = last + 1 RETURNING last`)
}

// bump runs an upsert that increments and returns the counter keyed by key,
// in a write transaction: what names the key for errors, doing what is
// being allocated.
func (s *Store) bump(ctx context.Context, what, key, doing, query string) (int64, error) {
	if err := check.String(what, key, check.MaxName, true); err != nil {
		return 0, fmt.Errorf("sqlite: allocating %s %q: %w", doing, key, err)
	}
	var n int64
	err := s.write(ctx, fmt.Sprintf("allocating %s %q", doing, key), func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, query, key).Scan(&n)
	})
	return n, err
}

// PutCRL stores crl; ErrExists when issuer has a CRL with that number.
func (s *Store) PutCRL(ctx context.Context, crl *store.CRL) error {
	if err := check.CRL(crl); err != nil {
		return fmt.Errorf("sqlite: storing CRL: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing CRL %d for %q", crl.Number, crl.Issuer), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO crls (issuer, number, der, this_update, next_update) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (issuer, number) DO NOTHING`, crl.Issuer, crl.Number, crl.DER, micro(crl.ThisUpdate), micro(crl.NextUpdate))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrExists
		}
		return nil
	})
}

// LatestCRL returns issuer's CRL with the highest number, or ErrNotFound.
func (s *Store) LatestCRL(ctx context.Context, issuer string) (*store.CRL, error) {
	c := &store.CRL{Issuer: issuer}
	var tu, nu int64
	err := s.r.QueryRowContext(ctx, `SELECT number, der, this_update, next_update FROM crls WHERE issuer = ?
		ORDER BY number DESC LIMIT 1`, issuer).Scan(&c.Number, &c.DER, &tu, &nu)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading latest CRL for %q: %w", issuer, err)
	}
	c.ThisUpdate, c.NextUpdate = fromMicro(tu), fromMicro(nu)
	return c, nil
}

// AppendAudit records es in one transaction, one prepared INSERT, and
// sets their IDs. IDs increase in the order events are committed; the
// table refuses UPDATE and DELETE.
func (s *Store) AppendAudit(ctx context.Context, es ...*store.AuditEvent) error {
	details, err := auditDetails(es)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	ids := make([]int64, len(es))
	err = s.write(ctx, fmt.Sprintf("appending %d audit event(s) %q", len(es), es[0].Action), func(tx *sql.Tx) error {
		return s.appendAuditTx(ctx, tx, es, details, ids)
	})
	if err != nil {
		return err
	}
	for i, e := range es {
		e.ID = ids[i]
	}
	return nil
}

// auditDetails checks audit events and returns their details as stored.
func auditDetails(es []*store.AuditEvent) ([]string, error) {
	details := make([]string, len(es))
	for i, e := range es {
		d, err := check.Audit(e)
		if err != nil {
			return nil, fmt.Errorf("sqlite: appending audit event: %w", err)
		}
		details[i] = string(d)
	}
	return details, nil
}

// appendAuditTx inserts audit events in tx, their IDs into ids.
func (s *Store) appendAuditTx(ctx context.Context, tx *sql.Tx, es []*store.AuditEvent, details []string, ids []int64) error {
	st, err := s.txStmt(ctx, tx, sqlInsertAudit)
	if err != nil {
		return err
	}
	for i, e := range es {
		if err := st.QueryRowContext(ctx, micro(s.orNow(e.Time)), e.Actor, e.Action, e.Subject, e.Outcome, details[i]).Scan(&ids[i]); err != nil {
			return err
		}
	}
	return nil
}

// ListAudit returns the events after ID after, in order, at most limit
// (≤ 0: 1000; at most 10000).
func (s *Store) ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, actor, action, subject, outcome, details FROM audit_events
		WHERE id > ? ORDER BY id LIMIT ?`, after, check.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing audit events: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEvent
	for rows.Next() {
		e := &store.AuditEvent{}
		var t int64
		var details string
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Subject, &e.Outcome, &details); err != nil {
			return nil, fmt.Errorf("sqlite: listing audit events: %w", err)
		}
		e.Time, e.Details = fromMicro(t), []byte(details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing audit events: %w", err)
	}
	return out, nil
}

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
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	err := errors.Join(s.r.Close(), s.w.Close())
	if err != nil {
		return fmt.Errorf("sqlite: closing %s: %w", s.path, err)
	}
	return nil
}
