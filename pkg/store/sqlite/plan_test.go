package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/store/internal/sqlstore"
)

// TestLookupPlans checks that the lookups on the OCSP and issuance paths
// search an index rather than scan a table: with ten million certificates
// a scan is the difference between microseconds and seconds.
func TestLookupPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query string
		args        []any
		uses        []string // each must appear in the plan
	}{
		{"GetRevocation", sqlstore.QueryRevocation, []any{"issuing", []byte{1}},
			[]string{"SEARCH revocations USING PRIMARY KEY"}},
		{"PublicKeyCertified", sqlstore.QueryKeyCertified, []any{make([]byte, 32)},
			[]string{"SEARCH certified_keys USING PRIMARY KEY", "certificates_spki_sha256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.rb.Rebind(tc.query), tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			for _, d := range plan {
				if strings.HasPrefix(d, "SCAN ") && d != "SCAN CONSTANT ROW" {
					t.Errorf("plan scans a table:\n%s", text)
				}
			}
			for _, u := range tc.uses {
				if !strings.Contains(text, u) {
					t.Errorf("plan does not use %q:\n%s", u, text)
				}
			}
		})
	}
}
