package sqlstore

import (
	"context"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// Statements of the audit chain.
const (
	// sqlAuditHead reads the last event by the maximum ID, which both
	// databases find at the end of the primary key (SQLite plans ORDER BY
	// id DESC LIMIT 1 as a scan, though it reads one row).
	sqlAuditHead   = `SELECT id, hash FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)`
	sqlAuditEvents = `SELECT id, time, actor, action, subject, outcome, details, prev_hash, hash FROM audit_events`
	sqlListAudit   = sqlAuditEvents + ` WHERE id > $1 ORDER BY id LIMIT $2`
)

// AppendAudit records es in one transaction, which may carry other
// callers' writes too (SharedWriter), and sets their IDs and chain hashes
// (see appendAudit); the table refuses UPDATE and DELETE.
func (s *Store) AppendAudit(ctx context.Context, es ...*store.AuditEvent) error {
	details, err := s.auditDetails(es)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	rows := make([]store.AuditEvent, len(es))
	err = s.writeShared(ctx, fmt.Sprintf("appending %d audit event(s) %q", len(es), es[0].Action), false, func(c Conn) error {
		return s.appendAudit(ctx, c, es, details, rows)
	})
	if err != nil {
		return err
	}
	setChained(es, rows)
	return nil
}

// writeAudited runs fn in a write and appends audit after it in the same
// transaction, so the change and its audit events are stored together or
// not at all.
func (s *Store) writeAudited(ctx context.Context, what string, audit []*store.AuditEvent, fn func(Conn) error) error {
	details, err := s.auditDetails(audit)
	if err != nil {
		return err
	}
	rows := make([]store.AuditEvent, len(audit))
	err = s.write(ctx, what, false, func(c Conn) error {
		if err := fn(c); err != nil {
			return err
		}
		return s.appendAudit(ctx, c, audit, details, rows)
	})
	if err == nil {
		setChained(audit, rows)
	}
	return err
}

// auditDetails checks audit events and returns their details as stored.
func (s *Store) auditDetails(es []*store.AuditEvent) ([]string, error) {
	details := make([]string, len(es))
	for i, e := range es {
		d, err := check.Audit(e)
		if err != nil {
			return nil, s.invalid("appending audit event", err)
		}
		details[i] = string(d)
	}
	return details, nil
}

// appendAudit inserts audit events in a write, as rows holds them: each
// the ID after the last event's and the chain hash over its fields and the
// last event's hash. The head is read under the dialect's AuditLock (or
// SQLite's one writer), so the chain is one sequence in commit order
// whichever replica writes; fn may run again, so rows is filled afresh.
func (s *Store) appendAudit(ctx context.Context, c Conn, es []*store.AuditEvent, details []string, rows []store.AuditEvent) error {
	if len(es) == 0 {
		return nil
	}
	if s.d.AuditLock != "" {
		if _, err := c.Exec(ctx, s.d.AuditLock); err != nil {
			return err
		}
	}
	seq, prev, err := s.auditHead(ctx, c)
	if err != nil {
		return err
	}
	args := make([][]any, len(es))
	for i, e := range es {
		seq++
		r := store.AuditEvent{ID: seq, Time: s.orNow(e.Time), Actor: e.Actor, Action: e.Action, Subject: e.Subject,
			Outcome: e.Outcome, Details: []byte(details[i]), PrevHash: prev}
		r.Hash = store.AuditHash(&r, prev)
		rows[i], prev = r, r.Hash
		args[i] = []any{r.ID, s.time(r.Time), r.Actor, r.Action, r.Subject, r.Outcome, details[i], nullBytes(r.PrevHash), r.Hash}
	}
	if _, err = c.ExecEach(ctx, sqlInsertAudit, args); err != nil {
		return err
	}
	return s.countUsage(ctx, c, es, rows)
}

// setChained gives es the IDs, times and hashes their rows were given.
func setChained(es []*store.AuditEvent, rows []store.AuditEvent) {
	for i, e := range es {
		e.ID, e.Time, e.PrevHash, e.Hash = rows[i].ID, rows[i].Time, rows[i].PrevHash, rows[i].Hash
	}
}

// AuditHead returns the last event's ID and chain hash.
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := s.db.Read(ctx, func(c Conn) error {
		var err error
		seq, hash, err = s.auditHead(ctx, c)
		return err
	})
	if err != nil {
		return 0, nil, s.fail("reading the audit chain's head", err)
	}
	return seq, hash, nil
}

// auditHead reads the last event's ID and hash on c; when the last was
// written before the chain (no hash), it recomputes the chain over every
// event from the first, which happens until the first chained event is
// written.
func (s *Store) auditHead(ctx context.Context, c Conn) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := c.QueryRow(ctx, sqlAuditHead).Scan(&seq, &hash)
	if s.noRows(err) {
		return 0, nil, nil
	}
	if err != nil || len(hash) > 0 {
		return seq, hash, err
	}
	rows, err := c.Query(ctx, sqlAuditEvents+` ORDER BY id`)
	events, err := collect(rows, err, scanAudit)
	if err != nil {
		return 0, nil, err
	}
	hash = nil
	for _, e := range events {
		if len(e.Hash) > 0 {
			return 0, nil, fmt.Errorf("audit event %d has a chain hash though the last event has none", e.ID)
		}
		hash = store.AuditHash(e, hash)
	}
	return seq, hash, nil
}

// scanAudit reads one row of sqlAuditEvents.
func scanAudit(row Row) (*store.AuditEvent, error) {
	e := &store.AuditEvent{}
	var details string
	err := row.Scan(&e.ID, Time{&e.Time}, &e.Actor, &e.Action, &e.Subject, &e.Outcome, &details, &e.PrevHash, &e.Hash)
	e.Details = []byte(details)
	return e, err
}

// ListAudit returns the events after ID after, in order, at most limit
// (≤ 0: 1000; at most 10000), with their chain fields.
func (s *Store) ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error) {
	rows, err := s.r.Query(ctx, sqlListAudit, after, check.Limit(limit))
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, s.fail("listing audit events", err)
	}
	return out, nil
}

// sqlOwnerSignatures is ListOwnerSignatures' statement: the partial index
// audit_events_signatures holds exactly its rows, by owner and ID.
func (s *Store) sqlOwnerSignatures() string {
	return sqlAuditEvents + ` WHERE action = 'signature.create' AND ` + s.d.DetailsOwner + ` = $1 AND id > $2 ORDER BY id LIMIT $3`
}

// ListOwnerSignatures returns the signature.create events whose details
// name owner ownerID ("owner"), after ID after, in order, at most limit
// (≤ 0: 1000; at most 10000): one owner's part of the log, read through
// an index however long the log.
func (s *Store) ListOwnerSignatures(ctx context.Context, ownerID string, after int64, limit int) ([]*store.AuditEvent, error) {
	rows, err := s.r.Query(ctx, s.sqlOwnerSignatures(), ownerID, after, check.Limit(limit))
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing owner %q's signatures", ownerID), err)
	}
	return out, nil
}

// AppendAuditCheckpoint records c and sets its ID.
func (s *Store) AppendAuditCheckpoint(ctx context.Context, c *store.AuditCheckpoint) error {
	if c.Seq < 0 || c.KeyLabel == "" || len(c.PublicKey) == 0 || len(c.Signature) == 0 {
		return s.invalid("appending an audit checkpoint", fmt.Errorf("%w: a checkpoint needs seq ≥ 0, a key label, a public key and a signature", store.ErrInvalid))
	}
	t := s.orNow(c.Time)
	var id int64
	err := s.write(ctx, fmt.Sprintf("appending the audit checkpoint at %d", c.Seq), true, func(q Conn) error {
		return q.QueryRow(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, key_label, public_key, signature)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, c.Seq, nullBytes(c.Hash), s.time(t), c.KeyLabel, c.PublicKey, c.Signature).Scan(&id)
	})
	if err != nil {
		return err
	}
	c.ID, c.Time = id, t
	return nil
}

// ListAuditCheckpoints returns checkpoints after ID after, in order.
func (s *Store) ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]*store.AuditCheckpoint, error) {
	rows, err := s.r.Query(ctx, `SELECT id, seq, hash, time, key_label, public_key, signature FROM audit_checkpoints
		WHERE id > $1 ORDER BY id LIMIT $2`, after, check.Limit(limit))
	out, err := collect(rows, err, func(row Row) (*store.AuditCheckpoint, error) {
		c := &store.AuditCheckpoint{}
		err := row.Scan(&c.ID, &c.Seq, &c.Hash, Time{&c.Time}, &c.KeyLabel, &c.PublicKey, &c.Signature)
		return c, err
	})
	if err != nil {
		return nil, s.fail("listing audit checkpoints", err)
	}
	return out, nil
}
