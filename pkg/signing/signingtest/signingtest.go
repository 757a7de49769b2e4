// Package signingtest makes what the tests of pkg/signing and of the APIs
// over it (csc, smartca, owner, admin) share: a signing.Service on a
// throwaway CA hierarchy (pkg/ca/catest), configured to be cheap in tests,
// with a clock that moves only when told, and the owner's one-time codes
// read from it.
package signingtest

import (
	"bytes"
	"context"
	"crypto/x509"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Clock is a test clock that moves only when told. The zero Clock reads
// the Unix epoch.
type Clock struct{ t atomic.Int64 }

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the clock's time; it is a signing.Config's Now.
func (c *Clock) Now() time.Time { return time.Unix(0, c.t.Load()) }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) { c.t.Store(t.UnixNano()) }

// Config is the service's configuration in tests: a fixed secrets key,
// argon2id at 64 KiB and one pass (cheap, for tests only), no pre-signing
// check, and Now from clock (nil: the wall clock).
func Config(clock *Clock) signing.Config {
	cfg := signing.Config{
		SkipSignerCheck: true,
		SecretsKey:      bytes.Repeat([]byte{7}, 32),
		Password:        signing.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1},
	}
	if clock != nil {
		cfg.Now = clock.Now
	}
	return cfg
}

// NewPKI makes a catest hierarchy in a directory of t's, closed when t
// ends.
func NewPKI(t testing.TB) *catest.PKI {
	t.Helper()
	p, err := catest.New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// NewService is signing.New on p's store, keys and CA with cfg.
func NewService(t testing.TB, p *catest.PKI, cfg signing.Config) *signing.Service {
	t.Helper()
	svc, err := signing.New(p.Store, p.Keys, p.CA, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// Env is a signing.Service on a throwaway CA, and the clock it reads.
type Env struct {
	PKI     *catest.PKI
	Service *signing.Service
	Clock   *Clock
}

// New makes an Env: a hierarchy (NewPKI), a clock reading the time now,
// and a service configured by Config, changed by mod when not nil.
func New(t testing.TB, mod func(*signing.Config)) *Env {
	t.Helper()
	e := &Env{PKI: NewPKI(t), Clock: NewClock(time.Now())}
	cfg := Config(e.Clock)
	if mod != nil {
		mod(&cfg)
	}
	e.Service = NewService(t, e.PKI, cfg)
	return e
}

// Code returns en's one-time code at the clock's time.
func (e *Env) Code(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	return Code(t, en, e.Clock.Now())
}

// NextCode moves the clock to the next 30-second step, as an owner waiting
// for a fresh code does, and returns en's code there.
func (e *Env) NextCode(t testing.TB, en *signing.Enrolment) string {
	t.Helper()
	e.Clock.Advance(30 * time.Second)
	return e.Code(t, en)
}

// Code returns en's one-time code at now.
func Code(t testing.TB, en *signing.Enrolment, now time.Time) string {
	t.Helper()
	code, err := signing.TOTPCode(en.TOTPURI, now)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// ServePKI serves p's PKI routes (OCSP, CRLs, time-stamps) on a local HTTP
// server until t ends, and returns it with the pre-signing check that
// trusts p's root and fetches revocation from that server.
func ServePKI(t testing.TB, p *catest.PKI) (*servertest.Served, *signercheck.Config) {
	t.Helper()
	srv, err := servertest.Serve(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(p.Hierarchy.Root)
	return srv, &signercheck.Config{Roots: roots, Revocation: &revocation.Fetcher{Client: srv.Client}}
}
