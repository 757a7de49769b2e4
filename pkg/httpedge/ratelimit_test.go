package httpedge

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterBucket(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewLimiter(Rate{PerSecond: 2, Burst: 3}, &LimiterOptions{Now: c.now})
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request: %v, wait %v; want refused, 500ms (2 a second)", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key shares a's bucket")
	}
	c.advance(499 * time.Millisecond)
	if ok, wait := l.Allow("a"); ok || wait < time.Millisecond || wait > 2*time.Millisecond {
		t.Fatalf("after 499ms: %v, wait %v", ok, wait)
	}
	c.advance(time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("after 500ms the token is back, but refused")
	}
	// A long pause refills to the burst, not beyond.
	c.advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d after an hour refused", i+1)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("an hour's pause filled the bucket beyond its burst")
	}
}

func TestLimiterCheckAndCharge(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewLimiter(Rate{PerSecond: 1, Burst: 2}, &LimiterOptions{Now: c.now})
	for range 10 {
		if ok, _ := l.Check("portal"); !ok {
			t.Fatal("Check took a token")
		}
	}
	l.Charge("portal")
	l.Charge("portal")
	l.Charge("portal") // one more than the burst: into debt
	ok, wait := l.Check("portal")
	if ok || wait != 2*time.Second {
		t.Fatalf("after 3 charges of a burst of 2: %v, wait %v; want refused, 2s (the debt, then a token)", ok, wait)
	}
	c.advance(2 * time.Second)
	if ok, _ := l.Check("portal"); !ok {
		t.Fatal("the debt was not paid back in 2s")
	}
}

// TestLimiterConcurrent: of 1000 requests at once from one key, exactly the
// burst gets through (the clock stands still).
func TestLimiterConcurrent(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewLimiter(Rate{PerSecond: 1, Burst: 10}, &LimiterOptions{Now: c.now})
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := l.Allow("flood"); ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 10 {
		t.Fatalf("%d of 1000 concurrent requests allowed, want the burst of 10", allowed.Load())
	}
}

// TestLimiterBoundedKeys: a flood from 100,000 addresses keeps at most
// MaxKeys buckets, and a key that keeps its bucket empty is not the one
// forgotten first: buckets that refilled go before others.
func TestLimiterBoundedKeys(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewLimiter(Rate{PerSecond: 1, Burst: 1}, &LimiterOptions{Now: c.now, MaxKeys: 1000})
	for i := range 100_000 {
		l.Allow(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
		if i%1000 == 999 {
			c.advance(2 * time.Second) // the older buckets refill
		}
		if n := l.Len(); n > 1000 {
			t.Fatalf("%d keys kept after %d, MaxKeys 1000", n, i+1)
		}
	}
}

func TestNilLimiter(t *testing.T) {
	l := NewLimiter(Rate{PerSecond: 0, Burst: 5}, nil)
	if l != nil {
		t.Fatal("a zero rate made a limiter")
	}
	if ok, _ := l.Allow("x"); !ok {
		t.Fatal("a nil limiter refused")
	}
	l.Charge("x")
	if ok, _ := l.Check("x"); !ok || l.Len() != 0 || l.Rate() != (Rate{}) {
		t.Fatal("a nil limiter keeps state")
	}
	var ls *Limits
	w := httptest.NewRecorder()
	if !ls.AllowSource(w, httptest.NewRequest("POST", "/", nil)) || !ls.AllowClient(w, "c") || !ls.CheckClient(w, "c") {
		t.Fatal("nil Limits refused")
	}
}

func TestSource(t *testing.T) {
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = c.remote
		if got := Source(r); got != c.want {
			t.Errorf("Source(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}

func TestRetryAfterAndLimits(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {90 * time.Second, "90"}} {
		w := httptest.NewRecorder()
		RetryAfter(w, c.d)
		if got := w.Header().Get("Retry-After"); got != c.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ls := &Limits{Source: NewLimiter(Rate{PerSecond: 0.1, Burst: 1}, &LimiterOptions{Now: clk.now})}
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = "192.0.2.1:1000"
	if w := httptest.NewRecorder(); !ls.AllowSource(w, r) || w.Header().Get("Retry-After") != "" {
		t.Fatal("the first request was refused")
	}
	w := httptest.NewRecorder()
	if ls.AllowSource(w, r) || w.Header().Get("Retry-After") != "10" {
		t.Fatalf("the second request: Retry-After %q, want refused and 10", w.Header().Get("Retry-After"))
	}
	r.RemoteAddr = "192.0.2.2:1000"
	if !ls.AllowSource(httptest.NewRecorder(), r) {
		t.Fatal("another source was refused")
	}
}
