package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// ClaimUpkeep claims or extends a lease in one upsert on its primary key:
// of concurrent claims one inserts or updates the row, the others find
// the condition false and change nothing.
func (s *Store) ClaimUpkeep(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	if name == "" || holder == "" || len(name) > 64 || len(holder) > 128 || !until.After(now) {
		return false, s.invalid("claiming an upkeep lease", check.Invalid("a name, a holder and a lease that ends after now are required"))
	}
	var n int64
	err := s.write(ctx, fmt.Sprintf("claiming the upkeep lease %q", name), true, func(c Conn) error {
		var err error
		n, err = c.Exec(ctx, `INSERT INTO upkeep_leases (name, holder, until) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = $2, until = $3
			WHERE upkeep_leases.holder = $2 OR upkeep_leases.until <= $4`,
			name, holder, s.time(until), s.time(now))
		return err
	})
	return n == 1, err
}
