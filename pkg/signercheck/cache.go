package signercheck

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// DefaultMaxAge is how long a Cache reuses a passed check when its
// MaxAge is zero.
const DefaultMaxAge = time.Minute

// maxCached bounds the certificates a Cache remembers.
const maxCached = 100_000

// Cache reuses a passed check of a certificate for a short while, so that a
// service signing many times a minute with one certificate does not build
// its path and fetch and verify its status every time: on a P-384
// hierarchy that is several milliseconds of signature verification, ten
// times what the signature itself costs.
//
// A check is reused for at most MaxAge after it was made and never past
// the nextUpdate of an OCSP response or CRL it relied on, nor past the
// certificate's notAfter; a refusal is never reused. The trade is the one
// any OCSP client's cache makes: a revocation takes effect for signing
// within MaxAge. A negative MaxAge checks every time.
type Cache struct {
	MaxAge time.Duration

	mu sync.Mutex
	m  map[[32]byte]cachedCheck
}

type cachedCheck struct {
	res   *Result
	until time.Time
}

// Check returns a passed check of cert reused from the cache when one is
// still good at cfg's time, and otherwise runs Check and remembers a pass.
func (c *Cache) Check(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate, cfg *Config) (*Result, error) {
	if c == nil || c.MaxAge < 0 || cert == nil || cfg == nil {
		return Check(ctx, cert, chain, cfg)
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	key := sha256.Sum256(cert.Raw)
	at := now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && !at.Before(e.res.At) && at.Before(e.until) {
		return e.res, nil
	}
	res, err := Check(ctx, cert, chain, cfg)
	if err != nil {
		return nil, err
	}
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	until := res.At.Add(maxAge)
	if cert.NotAfter.Before(until) {
		until = cert.NotAfter
	}
	for _, st := range res.Statuses {
		var next time.Time
		switch {
		case st.OCSP != nil && st.OCSP.Response != nil:
			next = st.OCSP.Response.NextUpdate
		case st.CRL != nil && st.CRL.List != nil:
			next = st.CRL.List.NextUpdate
		}
		if !next.IsZero() && next.Before(until) {
			until = next
		}
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[[32]byte]cachedCheck{}
	}
	c.m[key] = cachedCheck{res: res, until: until}
	c.mu.Unlock()
	return res, nil
}
