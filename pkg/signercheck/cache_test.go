package signercheck_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/store"
)

// countingSource counts the status questions asked.
type countingSource struct {
	f     *revocation.Fetcher
	calls atomic.Int64
}

func (c *countingSource) OCSP(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.OCSPResult, error) {
	c.calls.Add(1)
	return c.f.OCSP(ctx, cert, issuer)
}

func (c *countingSource) CRL(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error) {
	c.calls.Add(1)
	return c.f.CRL(ctx, cert, issuer)
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	p, srv := newPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.Hierarchy.Root)
	src := &countingSource{f: &revocation.Fetcher{Client: srv.Client}}
	now := time.Now()
	cfg := &signercheck.Config{Roots: roots, Revocation: src, Now: func() time.Time { return now }}
	chain := []*x509.Certificate{p.Hierarchy.Issuing}
	good, _, err := p.Citizen(ctx, "good", hsm.ECDSAP256, "079203000011")
	if err != nil {
		t.Fatal(err)
	}
	held, _, err := p.Revoked(ctx, "held", hsm.ECDSAP256, "079203000012", store.ReasonCertificateHold)
	if err != nil {
		t.Fatal(err)
	}
	// asked checks whether the status was asked for (again), or not.
	asked := func(t *testing.T, what string, want bool) {
		t.Helper()
		if got := src.calls.Swap(0); (got > 0) != want {
			t.Errorf("%s: %d status questions; asked: want %v", what, got, want)
		}
	}

	c := &signercheck.Cache{MaxAge: 30 * time.Second}
	first, err := c.Check(ctx, good, chain, cfg)
	if err != nil {
		t.Fatal(err)
	}
	asked(t, "first check", true)
	now = now.Add(29 * time.Second)
	again, err := c.Check(ctx, good, chain, cfg)
	if err != nil || again != first {
		t.Fatalf("check 29 s later: %v, reused %v", err, again == first)
	}
	asked(t, "check within MaxAge", false)
	now = now.Add(2 * time.Second)
	if _, err := c.Check(ctx, good, chain, cfg); err != nil {
		t.Fatal(err)
	}
	asked(t, "check past MaxAge", true)

	// Refusals are not kept: each attempt asks again.
	for range 2 {
		if _, err := c.Check(ctx, held, chain, cfg); err == nil {
			t.Fatal("a certificate on hold passed")
		}
	}
	if n := src.calls.Swap(0); n < 2 {
		t.Errorf("two refused checks asked %d questions: a refusal was reused", n)
	}

	// Never past the nextUpdate of an answer relied on.
	long := &signercheck.Cache{MaxAge: 1000 * time.Hour}
	res, err := long.Check(ctx, good, chain, cfg)
	if err != nil {
		t.Fatal(err)
	}
	next := res.Statuses[0].OCSP.Response.NextUpdate
	if next.IsZero() {
		t.Fatal("the OCSP answer has no nextUpdate")
	}
	src.calls.Store(0)
	now = next.Add(time.Second)
	long.Check(ctx, good, chain, cfg) // may well refuse: the responder's fresh answer is for the wall clock
	if src.calls.Load() == 0 {
		t.Error("a check past the OCSP answer's nextUpdate was reused")
	}

	// A negative MaxAge checks every time.
	off := &signercheck.Cache{MaxAge: -1}
	now = time.Now()
	src.calls.Store(0)
	off.Check(ctx, good, chain, cfg)
	asked(t, "MaxAge -1, first check", true)
	off.Check(ctx, good, chain, cfg)
	asked(t, "MaxAge -1, second check", true)
}

// TestAnchors: a check takes its anchors from Anchors, read for each
// check, when it is set.
func TestAnchors(t *testing.T) {
	ctx := context.Background()
	p, srv := newPKI(t)
	good, _, err := p.Citizen(ctx, "good", hsm.ECDSAP256, "079203000021")
	if err != nil {
		t.Fatal(err)
	}
	trusted := x509.NewCertPool()
	trusted.AddCert(p.Hierarchy.Root)
	pool := x509.NewCertPool() // empty: nothing trusted yet
	reads := 0
	cfg := &signercheck.Config{Revocation: &revocation.Fetcher{Client: srv.Client},
		Anchors: func(context.Context) (*x509.CertPool, error) { reads++; return pool, nil }}
	chain := []*x509.Certificate{p.Hierarchy.Issuing}
	if _, err := signercheck.Check(ctx, good, chain, cfg); !errors.Is(err, &signercheck.Error{Code: signercheck.CodeUntrusted}) {
		t.Fatalf("with no anchor: %v, want untrusted", err)
	}
	pool = trusted // `kyso trust add` while the service runs
	if _, err := signercheck.Check(ctx, good, chain, cfg); err != nil {
		t.Fatalf("after the anchor was added: %v", err)
	}
	if reads != 2 {
		t.Errorf("Anchors read %d times for 2 checks", reads)
	}
	cfg.Anchors = func(context.Context) (*x509.CertPool, error) { return nil, errors.New("database down") }
	if _, err := signercheck.Check(ctx, good, chain, cfg); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Errorf("anchors unreadable: %v", err)
	}
}
