package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestHotPlans checks that every hot statement (sqlstore.HotQueries: the
// lookups on the OCSP, issuance and signing paths, the certificate list,
// the sweeps, the audit log's head, tail and an owner's signatures) uses
// the index it was given, without sorting (but the few rows of one
// owner). The planner plans on statistics, so the store is grown first
// (Grow: 20000 owners and their rows, analysed); a small table is still
// cheapest to scan, so sequential scans are priced out (enable_seqscan =
// off): a plan that still scans has no index to use, and with ten million
// rows would take seconds.
func TestHotPlans(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewPostgres(t)
	s, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := Grow(ctx, dsn, 20000); err != nil {
		t.Fatal(err)
	}
	for _, hq := range s.HotQueries() {
		t.Run(hq.Name, func(t *testing.T) {
			var plan []string
			err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
					return err
				}
				rows, _ := tx.Query(ctx, "EXPLAIN "+hq.Query, hq.Args...)
				var err error
				plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			if strings.Contains(text, "Seq Scan") || (strings.Contains(text, "Sort") && hq.Sorts == "") {
				t.Errorf("plan scans a table or sorts:\n%s", text)
			}
			uses := false
			for _, index := range strings.Split(hq.Postgres, "|") {
				uses = uses || strings.Contains(text, " "+index+" ")
			}
			if !uses {
				t.Errorf("plan does not use %q:\n%s", hq.Postgres, text)
			}
		})
	}
}
