package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	var r Rebinder
	for q, want := range map[string]string{
		`SELECT 1`: `SELECT 1`,
		`UPDATE t SET a = $2 WHERE b = $1 AND c >= $2 LIMIT $10`: `UPDATE t SET a = ?2 WHERE b = ?1 AND c >= ?2 LIMIT ?10`,
		`SELECT '$' || $1`: `SELECT '$' || ?1`,
	} {
		for range 2 { // the second from the cache
			if got := r.Rebind(q); got != want {
				t.Errorf("Rebind(%q) = %q, want %q", q, got, want)
			}
		}
	}
}
