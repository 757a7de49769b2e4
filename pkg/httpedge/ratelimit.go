package httpedge

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-pki/kyso/pkg/clientaddr"
)

// Rate is a token bucket's refill rate and size: Burst requests at once,
// then PerSecond requests a second on average.
type Rate struct {
	// PerSecond is how many tokens come back a second; zero or less
	// means no limit.
	PerSecond float64
	// Burst is how many tokens the bucket holds; less than one means
	// one.
	Burst int
}

// DefaultMaxKeys is how many keys a Limiter keeps when LimiterOptions
// says none: about 100 bytes each.
const DefaultMaxKeys = 100_000

// LimiterOptions tune a Limiter. The zero value is usable.
type LimiterOptions struct {
	// MaxKeys bounds how many keys (source addresses, clients) are kept;
	// zero means DefaultMaxKeys. When it is reached, keys whose buckets
	// have refilled are dropped (a fresh bucket is the same), then, should
	// that free too few, arbitrary ones: memory stays bounded under a
	// flood from many addresses, at the cost of forgetting some.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter keeps a token bucket per key (RFC 6585 section 4 leaves the
// policy to the server). It is safe for concurrent use.
//
// The buckets live in this process's memory: each replica of kysod
// counts on its own, so N replicas behind a load balancer let N times the
// rate through. DESIGN.md keeps in the database the state a replica needs
// to be correct; a rate limit is flood protection, not a rule two
// replicas must agree on (the PIN lockout is, and is in the database),
// so per-replica buckets are an acceptable first step. A limit shared by
// replicas would need a shared counter (the database, or a proxy in
// front).
type Limiter struct {
	rate    Rate
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter at rate r; nil when r has no limit
// (PerSecond ≤ 0): a nil *Limiter allows everything.
func NewLimiter(r Rate, o *LimiterOptions) *Limiter {
	if r.PerSecond <= 0 {
		return nil
	}
	r.Burst = max(r.Burst, 1)
	l := &Limiter{rate: r, maxKeys: DefaultMaxKeys, now: time.Now, buckets: map[string]*bucket{}}
	if o != nil && o.MaxKeys > 0 {
		l.maxKeys = o.MaxKeys
	}
	if o != nil && o.Now != nil {
		l.now = o.Now
	}
	return l
}

// Rate is the limiter's rate; the zero Rate for a nil limiter.
func (l *Limiter) Rate() Rate {
	if l == nil {
		return Rate{}
	}
	return l.rate
}

// Allow takes a token from key's bucket. When there is none it takes
// nothing and returns false and how long until there is one.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	return l.take(key, false)
}

// Check is Allow without taking: whether key's bucket has a token now.
func (l *Limiter) Check(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	return b.tokens >= 1, l.wait(b)
}

// Charge takes a token from key's bucket even when it is empty, into
// debt: for a request let through by Check that turned out to count
// (several may pass Check at once; their debt makes the next wait longer).
func (l *Limiter) Charge(key string) {
	l.take(key, true)
}

func (l *Limiter) take(key string, debt bool) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	if b.tokens >= 1 || debt {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

// wait is how long until b holds a whole token.
func (l *Limiter) wait(b *bucket) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - b.tokens) / l.rate.PerSecond * float64(time.Second)))
}

// bucket returns key's bucket refilled to now, making it (full) when
// there is none. l.mu is held.
func (l *Limiter) bucket(key string) *bucket {
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
		return b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(l.rate.Burst), b.tokens+el*l.rate.PerSecond)
		b.last = now
	}
	return b
}

// evict drops the buckets that have refilled, then arbitrary ones until an
// eighth of the room is free, so that the next sweep is that many keys
// away. l.mu is held.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate.PerSecond >= float64(l.rate.Burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= l.maxKeys-max(l.maxKeys/8, 1) {
			break
		}
		delete(l.buckets, k)
	}
}

// Len is how many keys the limiter keeps.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Source is the key of r's source address for a per-source limit: its
// client address (clientaddr.Of: the TCP peer's, or behind a trusted
// proxy the client it names), an IPv6 one cut to its /64 (what one
// subscriber is usually given), an IPv4-mapped one as IPv4.
func Source(r *http.Request) string {
	host := clientaddr.Of(r)
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Limits are the rate limits an API applies: per source address to every
// limited request, before any work, and per client (or owner) once the
// caller is known. Either may be nil: no limit. A nil *Limits limits
// nothing.
type Limits struct {
	Source, Client *Limiter
	// Hold is the longest a refused request's answer is held back, never
	// longer than the Retry-After it would announce (whole seconds, at
	// least one): a flood whose connections send their next request as
	// soon as the last is answered then sleeps instead of keeping the CPUs
	// busy with refusals, and the requests of others are served on time
	// (kyso bench csc, flood row). Each hold is drawn between half of it
	// and all of it, so that held connections do not all come back at
	// once. A client that honours Retry-After is not slowed. Zero answers
	// at once.
	Hold time.Duration
	// MaxHeld bounds the answers held at once, each a sleeping goroutine
	// with its connection; beyond it refusals are answered at once. Zero
	// means DefaultMaxHeld.
	MaxHeld int

	held atomic.Int64
	// sleep waits d or until ctx ends; nil means a timer. Tests set it.
	sleep func(ctx context.Context, d time.Duration)
}

// DefaultMaxHeld is how many refusals Limits holds at once when MaxHeld is
// zero.
const DefaultMaxHeld = 1024

// RetryAfter sets the Retry-After header (RFC 9110 section 10.2.3) to d in
// whole seconds, rounded up, at least one: for a 429 (RFC 6585 section 4)
// or a 503.
func RetryAfter(w http.ResponseWriter, d time.Duration) {
	s := max(int64(math.Ceil(d.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(s, 10))
}

// AllowSource takes a token for r's source address. When there is none it
// holds the answer (Hold), sets Retry-After and returns false: the caller
// answers 429 in its dialect.
func (l *Limits) AllowSource(w http.ResponseWriter, r *http.Request) bool {
	if l == nil {
		return true
	}
	ok, wait := l.Source.Allow(Source(r))
	return ok || l.refuse(w, r, wait)
}

// AllowClient takes a token for the client (or owner) key, as
// AllowSource does for the source.
func (l *Limits) AllowClient(w http.ResponseWriter, r *http.Request, key string) bool {
	if l == nil {
		return true
	}
	ok, wait := l.Client.Allow(key)
	return ok || l.refuse(w, r, wait)
}

// CheckClient is AllowClient without taking a token: for a request whose
// caller is only claimed (a client_id before its secret is checked), so
// that nobody else's requests can empty a client's bucket. ChargeClient
// takes the token once the caller is proven.
func (l *Limits) CheckClient(w http.ResponseWriter, r *http.Request, key string) bool {
	if l == nil {
		return true
	}
	ok, wait := l.Client.Check(key)
	return ok || l.refuse(w, r, wait)
}

// ChargeClient takes a token for key after CheckClient let it through.
func (l *Limits) ChargeClient(key string) {
	if l != nil {
		l.Client.Charge(key)
	}
}

// refuse holds a refusal for up to Hold of the Retry-After wait would
// announce, while fewer than MaxHeld are held, then sets Retry-After to
// what is left. It returns false.
func (l *Limits) refuse(w http.ResponseWriter, r *http.Request, wait time.Duration) bool {
	maxHeld := int64(l.MaxHeld)
	if maxHeld <= 0 {
		maxHeld = DefaultMaxHeld
	}
	wait = time.Duration(max(math.Ceil(wait.Seconds()), 1)) * time.Second
	if hold := min(l.Hold, wait); hold > 0 {
		hold -= rand.N(hold/2 + 1)
		if l.held.Add(1) <= maxHeld {
			sleep := l.sleep
			if sleep == nil {
				sleep = sleepCtx
			}
			sleep(r.Context(), hold)
			wait -= hold
		}
		l.held.Add(-1)
	}
	RetryAfter(w, wait)
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
