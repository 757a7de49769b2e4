package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// sqlCountUsage adds one signature to its day's counter: an upsert, so
// concurrent writers of one counter add up (the row's lock, or SQLite's
// one writer, orders them).
const sqlCountUsage = `INSERT INTO usage_counts (day, owner_id, client_id, category, free, signatures)
	VALUES ($1, $2, $3, $4, $5, 1)
	ON CONFLICT (day, owner_id, client_id, category, free) DO UPDATE SET signatures = usage_counts.signatures + 1`

// countUsage counts the signatures the events es carry (AuditEvent.Usage)
// in the write that appends them, on each event's UTC day as rows holds it.
func (s *Store) countUsage(ctx context.Context, c Conn, es []*store.AuditEvent, rows []store.AuditEvent) error {
	var args [][]any
	for i, e := range es {
		if u := e.Usage; u != nil {
			free := 0
			if u.Free {
				free = 1
			}
			args = append(args, []any{rows[i].Time.UTC().Format(time.DateOnly), u.OwnerID, u.ClientID, u.Category, free})
		}
	}
	if len(args) == 0 {
		return nil
	}
	_, err := c.ExecEach(ctx, sqlCountUsage, args)
	return err
}

// Usage returns the signature counts f selects: summed over the days
// From to To (UTC dates, both included), one row per owner, client and
// category, with the owner's national ID.
func (s *Store) Usage(ctx context.Context, f *store.UsageFilter) ([]*store.UsageRow, error) {
	limit, err := check.UsageFilter(f)
	if err != nil {
		return nil, s.invalid("reading usage", err)
	}
	q, args := where(`SELECT u.owner_id, COALESCE(o.national_id, ''), u.client_id, u.category,
		CAST(SUM(CASE WHEN u.free = 1 THEN u.signatures ELSE 0 END) AS BIGINT),
		CAST(SUM(CASE WHEN u.free = 0 THEN u.signatures ELSE 0 END) AS BIGINT)
		FROM usage_counts u LEFT JOIN owners o ON o.id = u.owner_id`, "u.owner_id", f.OwnerID, "u.client_id", f.ClientID)
	args = append(args, f.From.UTC().Format(time.DateOnly), f.To.UTC().Format(time.DateOnly), limit)
	q += fmt.Sprintf(` AND u.day >= $%d AND u.day <= $%d GROUP BY u.owner_id, o.national_id, u.client_id, u.category
		ORDER BY u.owner_id, u.client_id, u.category LIMIT $%d`, len(args)-2, len(args)-1, len(args))
	rows, err := s.r.Query(ctx, q, args...)
	out, err := collect(rows, err, func(row Row) (*store.UsageRow, error) {
		u := &store.UsageRow{}
		return u, row.Scan(&u.OwnerID, &u.NationalID, &u.ClientID, &u.Category, &u.Free, &u.Metered)
	})
	if err != nil {
		return nil, s.fail("reading usage", err)
	}
	return out, nil
}
