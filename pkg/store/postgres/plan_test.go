package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store/internal/sqlstore"
)

// TestLookupPlans checks that the lookups on the OCSP and issuance paths
// can use an index. An empty table is cheapest to scan, so sequential scans
// are priced out (enable_seqscan = off): a plan that still scans has no
// index to use, and with ten million certificates would take seconds.
func TestLookupPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testenv.NewPostgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query string
		args        []any
		uses        []string // each must appear in the plan
	}{
		{"GetRevocation", sqlstore.QueryRevocation, []any{"issuing", []byte{1}}, []string{"revocations_pkey"}},
		{"PublicKeyCertified", sqlstore.QueryKeyCertified, []any{make([]byte, 32)}, []string{"certified_keys_pkey", "certificates_spki_sha256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plan []string
			err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
					return err
				}
				rows, _ := tx.Query(ctx, "EXPLAIN "+tc.query, tc.args...)
				var err error
				plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			if strings.Contains(text, "Seq Scan") {
				t.Errorf("plan scans a table:\n%s", text)
			}
			for _, u := range tc.uses {
				if !strings.Contains(text, u) {
					t.Errorf("plan does not use %q:\n%s", u, text)
				}
			}
		})
	}
}
