package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHotPlans checks that every hot statement (sqlstore.HotQueries: the
// lookups on the OCSP, issuance and signing paths, the certificate list,
// the sweeps, the audit log's head, tail and an owner's signatures)
// searches the index it was given rather than scanning a table (a partial
// index holding only the rows sought may be read whole) or sorting (but
// the few rows of one owner): with ten million rows a scan is the difference between
// microseconds and seconds. The plan is SQLite's on a fresh database, as
// kysod's is (it never runs ANALYZE).
func TestHotPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, hq := range s.HotQueries() {
		t.Run(hq.Name, func(t *testing.T) {
			plan, err := s.plan(ctx, hq.Query, hq.Args...)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			for _, d := range plan {
				// A co-routine's rows are a subquery's (the series'
				// periods), not a table's.
				coroutine := strings.HasPrefix(d, "SCAN ") && slices.Contains(plan, "CO-ROUTINE "+strings.TrimPrefix(d, "SCAN "))
				scan := strings.HasPrefix(d, "SCAN ") && d != "SCAN CONSTANT ROW" && !coroutine && !(hq.Partial && strings.Contains(d, " INDEX "+hq.SQLite))
				if scan || (strings.Contains(d, "TEMP B-TREE") && hq.Sorts == "") {
					t.Errorf("plan scans a table or sorts:\n%s", text)
				}
			}
			if !strings.Contains(text, hq.SQLite) {
				t.Errorf("plan does not use %q:\n%s", hq.SQLite, text)
			}
		})
	}
}

// plan returns the details of EXPLAIN QUERY PLAN q.
func (s *Store) plan(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.rb.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}
