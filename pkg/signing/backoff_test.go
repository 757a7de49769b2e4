package signing

import (
	"testing"
	"time"
)

// TestBackoff: 10 s doubling to an hour, given up once the waits would
// pass a day — about 32 attempts over some 23 hours.
func TestBackoff(t *testing.T) {
	now := time.Date(2025, 9, 2, 8, 0, 0, 0, time.UTC)
	d := &Dispatcher{Now: func() time.Time { return now }}
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second,
		9: 2560 * time.Second, 10: time.Hour, 31: time.Hour, 1000: time.Hour} {
		if got := d.backoff(n); got != want {
			t.Errorf("backoff after attempt %d: %v, want %v", n, got, want)
		}
	}
	var total time.Duration
	n := 1
	for ; ; n++ {
		next := d.retryAt(n)
		if next.IsZero() {
			break
		}
		total += next.Sub(now)
	}
	if n != 32 || total < 23*time.Hour || total > 24*time.Hour {
		t.Errorf("given up after attempt %d, %v of waiting", n, total)
	}
	quick := &Dispatcher{Now: d.Now, MinBackoff: time.Second, MaxBackoff: 4 * time.Second, GiveUpAfter: 10 * time.Second}
	// Waits of 1, 2 and 4 s fit in 10 s; a fourth of 4 s would not.
	if quick.retryAt(2).Sub(now) != 2*time.Second || quick.retryAt(3).Sub(now) != 4*time.Second || !quick.retryAt(4).IsZero() {
		t.Errorf("custom schedule: %v %v %v", quick.retryAt(2), quick.retryAt(3), quick.retryAt(4))
	}
}
