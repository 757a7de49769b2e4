package store_test

import (
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// TestWholeMonths: the whole months a switch deducts.
func TestWholeMonths(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 12, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		since, at time.Time
		want      int
	}{
		{d(2026, 1, 10), d(2026, 1, 10), 0},
		{d(2026, 1, 10), d(2026, 2, 9), 0},
		{d(2026, 1, 10), d(2026, 2, 10), 1},
		{d(2026, 1, 10), d(2026, 4, 15), 3},
		{d(2026, 1, 10), d(2027, 1, 10), 12},
		{d(2026, 1, 10), d(2028, 3, 1), 25},
		{d(2026, 3, 10), d(2026, 1, 10), 0},
	} {
		if got := store.WholeMonths(c.since, c.at); got != c.want {
			t.Errorf("WholeMonths(%v, %v) = %d, want %d", c.since, c.at, got, c.want)
		}
	}
}
