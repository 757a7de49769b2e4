package cabench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
)

// CCCDs hands out distinct, valid citizen identity numbers: province code
// 001 (Hà Nội) then nine digits counting up. Under the campaign rule a
// number may hold one active certificate, so every issuance against one
// database must draw from the same CCCDs. It is safe for concurrent use.
type CCCDs struct{ n atomic.Int64 }

// Next returns a number not returned before.
func (c *CCCDs) Next() string {
	return fmt.Sprintf("001%09d", c.n.Add(1))
}

// IssueOptions describe one issuance row.
type IssueOptions struct {
	// Authority issues; its hierarchy must exist (ca.Authority.Init).
	Authority *ca.Authority
	// Database names the Authority's store in the row.
	Database string
	// Goroutines is how many issue at once; 0 means 1.
	Goroutines int
	// Duration is how long to measure; 0 means one second.
	Duration time.Duration
	// CCCDs numbers the citizens; nil means a fresh counter, which is only
	// right for a database used by this one row.
	CCCDs *CCCDs
	// Note is copied into the Result.
	Note string
}

func (o *IssueOptions) defaults() {
	o.Goroutines = max(o.Goroutines, 1)
	if o.Duration <= 0 {
		o.Duration = time.Second
	}
	if o.CCCDs == nil {
		o.CCCDs = &CCCDs{}
	}
}

// errExhausted ends a run whose pre-generated inputs ran out.
var errExhausted = errors.New("cabench: out of pre-generated CSRs")

// citizen is the request of the i-th certificate with key source k.
func citizen(o *IssueOptions, k ca.KeySource) *ca.CitizenRequest {
	return &ca.CitizenRequest{Name: "Nguyễn Văn Bench", CCCD: o.CCCDs.Next(), Province: "Hà Nội", Key: k, Actor: "kyso-bench"}
}

// IssueFromCSR measures ca.Authority.IssueCitizen from P-256 CSRs. The CSRs
// are made before timing: a warm-up of a few certificates per goroutine
// estimates the rate, and three times the expected need is generated. Should
// they run out anyway the row ends early, its rate still true, and Note says
// so.
func IssueFromCSR(ctx context.Context, o IssueOptions) Result {
	o.defaults()
	r := Result{Kind: KindIssue, Name: IssueCSR, Database: o.Database, Goroutines: o.Goroutines, Note: o.Note}
	warm, err := NewCSRs(ctx, 4*o.Goroutines)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	n, secs, err := run(ctx, o.Goroutines, time.Hour, csrIssuer(&o, warm))
	if err != nil && !errors.Is(err, errExhausted) {
		r.Err = fmt.Sprintf("warm-up: %v", err)
		return r
	}
	need := float64(n) / secs * o.Duration.Seconds() * 3
	pool, err := NewCSRs(ctx, int(math.Min(math.Max(need, 256), 1_000_000)))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	n, secs, err = run(ctx, o.Goroutines, o.Duration, csrIssuer(&o, pool))
	switch {
	case errors.Is(err, errExhausted):
		r.Note = joinNote(r.Note, fmt.Sprintf("the %d pre-generated CSRs ran out after %.2fs; the rate is over that time", len(pool), secs))
	case err != nil:
		r.Err = err.Error()
		return r
	}
	r.finish(n, secs)
	return r
}

func csrIssuer(o *IssueOptions, csrs [][]byte) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		if i >= len(csrs) {
			return errExhausted
		}
		_, err := o.Authority.IssueCitizen(ctx, citizen(o, ca.KeySource{CSR: csrs[i]}))
		return err
	}
}

// IssueWithKeyMade measures ca.Authority.IssueCitizen with
// KeySource{KeyLabel, KeyAlgorithm: ecdsa-p256}: each certificate's key is
// made in the Authority's key store (on PKCS#11, a token object), labelled
// labelPrefix and a number. One certificate per goroutine is issued first,
// untimed.
func IssueWithKeyMade(ctx context.Context, o IssueOptions, labelPrefix string) Result {
	o.defaults()
	r := Result{Kind: KindIssue, Name: IssueKeyMade, Database: o.Database, Goroutines: o.Goroutines, Note: o.Note}
	var label atomic.Int64
	issue := func(ctx context.Context, _ int) error {
		k := ca.KeySource{KeyLabel: fmt.Sprintf("%s%d", labelPrefix, label.Add(1)), KeyAlgorithm: hsm.ECDSAP256}
		_, err := o.Authority.IssueCitizen(ctx, citizen(&o, k))
		return err
	}
	for range o.Goroutines {
		if err := issue(ctx, 0); err != nil {
			r.Err = fmt.Sprintf("warm-up: %v", err)
			return r
		}
	}
	n, secs, err := run(ctx, o.Goroutines, o.Duration, issue)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.finish(n, secs)
	return r
}

// run calls issue(ctx, i) with i = 0, 1, 2, … from goroutines goroutines
// until d has passed, ctx ends or a call fails, and returns how many
// succeeded, over how many seconds, and the first error.
func run(ctx context.Context, goroutines int, d time.Duration, issue func(ctx context.Context, i int) error) (int64, float64, error) {
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	var wg sync.WaitGroup
	start := time.Now()
	for range goroutines {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if err := issue(ctx, int(next.Add(1)-1)); err != nil {
					once.Do(func() { firstErr = err })
					halt()
					return
				}
				done.Add(1)
			}
		})
	}
	timer := time.NewTimer(d)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-finished:
	}
	timer.Stop()
	halt()
	<-finished
	secs := time.Since(start).Seconds()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return done.Load(), secs, firstErr
}

// NewCSRs makes n DER PKCS#10 requests, each for a new P-256 key, using
// every CPU.
func NewCSRs(ctx context.Context, n int) ([][]byte, error) {
	out := make([][]byte, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err == nil {
					out[i], err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "kyso bench"}}, key)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("cabench: making a CSR: %w", err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
