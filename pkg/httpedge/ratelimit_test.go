package httpedge

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"slices"
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
	r := httptest.NewRequest("POST", "/", nil)
	if !ls.AllowSource(w, r) || !ls.AllowClient(w, r, "c") || !ls.CheckClient(w, r, "c") {
		t.Fatal("nil Limits refused")
	}
	ls.ChargeClient("c")
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

// TestHold: a refusal is held for half of Hold to all of it, never longer
// than the Retry-After it would announce, and Retry-After then says what
// is left; at most MaxHeld are held at once, the others answered at once;
// a request that is allowed is never held.
func TestHold(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	var mu sync.Mutex
	var slept []time.Duration
	release := make(chan struct{})
	ls := &Limits{Source: NewLimiter(Rate{PerSecond: 0.25, Burst: 1}, &LimiterOptions{Now: clk.now}),
		Hold: time.Second, MaxHeld: 3}
	ls.sleep = func(ctx context.Context, d time.Duration) {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		<-release
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = "192.0.2.1:1000"
	if !ls.AllowSource(httptest.NewRecorder(), r) {
		t.Fatal("the first request was refused")
	}
	// Five refusals at once: three held (½ to 1s of the 4s wait,
	// Retry-After 4 less that, rounded up), two answered at once
	// (Retry-After 4).
	var wg sync.WaitGroup
	var finished atomic.Int32
	after := make([]string, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			if ls.AllowSource(w, r) {
				t.Error("refused request allowed")
			}
			after[i] = w.Header().Get("Retry-After")
			finished.Add(1)
		}()
	}
	// Three asleep, two answered at once, before any is released.
	for {
		mu.Lock()
		n := len(slept)
		mu.Unlock()
		if n == 3 && finished.Load() == 2 {
			break
		}
		if n > 3 {
			t.Fatalf("%d held at once, MaxHeld 3", n)
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	slices.Sort(after)
	if n := slices.Index(after, "4"); n < 0 || n > 3 || !slices.Equal(after[n:], slices.Repeat([]string{"4"}, 5-n)) || len(slept) != 3 || !held(slept, time.Second) {
		t.Fatalf("Retry-After %v, held %v; want three held ½ to 1s (Retry-After 3 after a whole second, else 4) and two at once (4)", after, slept)
	}
	// The hold is never longer than the Retry-After it would announce:
	// at 10 a second the client's bucket has a token in 100ms, announced
	// as 1s, held ½ to 1s of it (Hold is longer), then Retry-After 1.
	slept = nil
	ls.Hold = 5 * time.Second
	ls.Client = NewLimiter(Rate{PerSecond: 10, Burst: 1}, &LimiterOptions{Now: clk.now})
	ls.AllowClient(httptest.NewRecorder(), r, "c")
	w := httptest.NewRecorder()
	if ls.AllowClient(w, r, "c") || len(slept) != 1 || !held(slept, time.Second) || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("held %v, Retry-After %q; want ½ to 1s and 1", slept, w.Header().Get("Retry-After"))
	}
	if ls.held.Load() != 0 {
		t.Fatalf("%d still counted as held", ls.held.Load())
	}
}

// held reports whether every hold is from half of hold to all of it.
func held(slept []time.Duration, hold time.Duration) bool {
	for _, d := range slept {
		if d < hold/2 || d > hold {
			return false
		}
	}
	return true
}
