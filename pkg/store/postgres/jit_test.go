package postgres

import (
	"context"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestJIT: kyso's connections run without PostgreSQL's JIT, unless the
// DSN asks for it (testenv's DSN has a query already).
func TestJIT(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewPostgres(t)
	for _, c := range []struct{ dsn, want string }{{dsn, "off"}, {dsn + "&jit=on", "on"}} {
		s, err := Open(ctx, c.dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := s.pool.QueryRow(ctx, `SHOW jit`).Scan(&got); err != nil || got != c.want {
			t.Errorf("SHOW jit on a connection of %q = %q, %v; want %q", c.dsn, got, err, c.want)
		}
		s.Close()
	}
}
