package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/store/internal/sqlstore"
)

// The commit batcher. Each signHash spends its activation data and appends
// its audit events in a write that must be durable before the key signs:
// one commit, an fsync of PostgreSQL's WAL, per request, and the audit
// chain's advisory lock held across it, so requests commit one after
// another. The batcher lets the writes that arrive while a commit is under
// way share the next one: one transaction, one fsync, many requests. It
// is SQLite's group commit (pkg/store/sqlite) for PostgreSQL.
//
// Every write still returns only after the commit that made it durable;
// when that commit fails, every write it carried fails, so no caller
// proceeds (signs) on a write that may not stand. A write that fails on
// its own is undone alone: the batch runs first without savepoints (a
// failure is rare and each savepoint costs two round trips), and when a
// write fails the transaction is rolled back and run again, each write in
// a savepoint of its own. Writes of one batch run one after another in one
// transaction, so each sees those before it: an activation spent by one
// is seen spent by the next.

// maxBatch bounds the writes one commit carries.
const maxBatch = 128

// batchTimeout bounds one batch's transaction, from BEGIN to COMMIT.
const batchTimeout = 30 * time.Second

// sharedWrite is a write waiting for the commit it shares.
type sharedWrite struct {
	ctx   context.Context
	alone bool
	fn    func(sqlstore.Conn) error
	err   error
	done  chan struct{}
}

// batcher is the queue of shared writes and whether a goroutine commits
// them.
type batcher struct {
	mu      sync.Mutex
	pending []*sharedWrite
	running bool
	// batches counts the commits that carried more than one write, and
	// largest the most writes one carried (SharedCommits).
	batches, largest atomic.Int64
}

// SharedCommits reports how many commits carried more than one write
// since the store opened, and the most writes one carried.
func (s *Store) SharedCommits() (commits, largest int64) {
	return s.b.batches.Load(), s.b.largest.Load()
}

// WriteShared runs fn in a transaction it may share with other callers'
// writes (sqlstore.SharedWriter), and returns after that transaction
// committed. A lone write runs as Write runs it, with its retries. Within a
// traced request it is the span db.write, which names how many writes the
// commit carried (kyso.db.group).
func (d driver) WriteShared(ctx context.Context, alone bool, fn func(sqlstore.Conn) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := tracing.Child(ctx, "db.write", dbSystem)
	defer func() { tracing.End(span, err) }()
	s := d.s
	w := &sharedWrite{ctx: ctx, alone: alone, fn: fn, done: make(chan struct{})}
	s.b.mu.Lock()
	s.b.pending = append(s.b.pending, w)
	if !s.b.running {
		s.b.running = true
		go s.commitLoop()
	}
	s.b.mu.Unlock()
	<-w.done
	return w.err
}

// commitLoop commits the pending shared writes, a batch at a time, until
// none is left.
func (s *Store) commitLoop() {
	for {
		s.b.mu.Lock()
		batch := s.b.pending
		if len(batch) > maxBatch {
			s.b.pending = append([]*sharedWrite(nil), batch[maxBatch:]...)
			batch = batch[:maxBatch]
		} else {
			s.b.pending = nil
		}
		if len(batch) == 0 {
			s.b.running = false
			s.b.mu.Unlock()
			return
		}
		s.b.mu.Unlock()
		s.commitBatch(batch)
		for _, w := range batch {
			close(w.done)
		}
	}
}

// commitBatch runs batch's writes in one transaction and commits it,
// setting each write's error. The writes of callers that gave up before
// their turn are left out.
func (s *Store) commitBatch(batch []*sharedWrite) {
	live := batch[:0:0]
	for _, w := range batch {
		if w.err = w.ctx.Err(); w.err == nil {
			live = append(live, w)
		}
	}
	switch len(live) {
	case 0:
		return
	case 1:
		w := live[0]
		w.err = s.write(w.ctx, w.alone, w.fn)
		return
	}
	s.b.batches.Add(1)
	for {
		n, m := int64(len(live)), s.b.largest.Load()
		if n <= m || s.b.largest.CompareAndSwap(m, n) {
			break
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if errors.Is(s.runBatch(ctx, live, false), errWriteFailed) {
		s.runBatch(ctx, live, true)
	}
	metrics.Since(commits, start)
	// A write that lost a deadlock or a serialization conflict is tried
	// again alone, with Write's retries; it was undone and committed
	// nothing.
	for _, w := range live {
		if retryable(w.err) && w.ctx.Err() == nil {
			w.err = s.write(w.ctx, false, w.fn)
		}
		trace.SpanFromContext(w.ctx).SetAttributes(attribute.Int("kyso.db.group", len(live)))
	}
}

// errWriteFailed says a write of a batch run without savepoints failed:
// the transaction was rolled back, and the batch must run again with them.
var errWriteFailed = errors.New("a write of the batch failed")

// runBatch runs the writes of live in one transaction, each in a savepoint
// when savepoints is set, and commits it. Without savepoints the first
// write that fails rolls everything back, sets no write's error and
// returns errWriteFailed. Any other failure — beginning, a savepoint, the
// commit — fails every write of the batch.
func (s *Store) runBatch(ctx context.Context, live []*sharedWrite, savepoints bool) error {
	failAll := func(what string, err error) error {
		for _, w := range live {
			w.err = fmt.Errorf("%s a transaction shared by %d writes: %w", what, len(live), err)
		}
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return failAll("beginning", err)
	}
	defer tx.Rollback(context.Background())
	// The audit chain's lock first: nearly every shared write appends to
	// the chain, and taking the lock before any row lock keeps two
	// batches from holding rows the other waits for.
	if _, err := tx.Exec(ctx, dialect.AuditLock); err != nil {
		return failAll("locking the audit chain in", err)
	}
	c := batchConn{ctx: ctx, c: conn{tx}}
	for _, w := range live {
		w.err = nil
		if !savepoints {
			if err := w.fn(c); err != nil {
				tx.Rollback(ctx)
				return errWriteFailed
			}
			continue
		}
		if _, err := tx.Exec(ctx, `SAVEPOINT w`); err != nil {
			return failAll("a savepoint in", err)
		}
		if w.err = w.fn(c); w.err != nil {
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT w`); err != nil {
				return failAll("rolling back a savepoint in", err)
			}
			continue
		}
		if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT w`); err != nil {
			return failAll("releasing a savepoint in", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return failAll("committing", err)
	}
	return nil
}

// retryable reports whether err is a serialization failure or a deadlock,
// which Write tries again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// batchConn is a batch's transaction as each write of it sees it: its
// statements run under the batch's context, not the caller's, so that a
// caller giving up mid-batch cannot cancel a statement, which would break
// the connection and with it every other write of the batch.
type batchConn struct {
	ctx context.Context
	c   conn
}

// Exec runs q in the batch's transaction.
func (b batchConn) Exec(_ context.Context, q string, args ...any) (int64, error) {
	return b.c.Exec(b.ctx, q, args...)
}

// ExecEach runs q with each argument list in the batch's transaction.
func (b batchConn) ExecEach(_ context.Context, q string, args [][]any) (int64, error) {
	return b.c.ExecEach(b.ctx, q, args)
}

// QueryRow runs q for one row in the batch's transaction.
func (b batchConn) QueryRow(_ context.Context, q string, args ...any) sqlstore.Row {
	return b.c.QueryRow(b.ctx, q, args...)
}

// Query runs q for rows in the batch's transaction.
func (b batchConn) Query(_ context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return b.c.Query(b.ctx, q, args...)
}
