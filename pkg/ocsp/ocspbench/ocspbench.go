// Package ocspbench measures an OCSP responder's throughput over HTTP, so
// kyso's responder and others (openssl ocsp, a CDN in front of either) can be
// compared on the same requests. It sends RFC 6960 appendix A.1 POST
// requests.
//
// By default each sending goroutine keeps one HTTP/1.1 connection and
// writes each request's octets, encoded once, and reads the answer from a
// buffer, as load generators such as wrk do: net/http's client hands each
// request between three goroutines and builds it anew, and in the
// responder's own process that took as much CPU as the responder
// (issue 19). Options.Client chooses net/http's client instead.
package ocspbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Options describes one load run.
type Options struct {
	// URL is the responder's address.
	URL string
	// Requests are DER OCSPRequests (RFC 6960 section 4.1.1), sent round
	// robin. At least one is required.
	Requests [][]byte
	// Concurrency is the number of goroutines sending. 0 means 1.
	Concurrency int
	// Duration is how long to send. 0 means one second.
	Duration time.Duration
	// Client, when set, sends the requests through net/http. nil means
	// one keep-alive connection per goroutine, written to and read
	// directly, with a 10-second timeout per answer; an https URL means
	// a net/http client with keep-alive and Concurrency idle connections
	// per host.
	Client *http.Client
}

// Result is what a run measured.
type Result struct {
	// Responses counts HTTP 200 responses with Content-Type
	// application/ocsp-response.
	Responses int64
	// Errors counts transport errors and other HTTP responses.
	Errors int64
	// Elapsed is how long the run took.
	Elapsed time.Duration
	// FirstError is the first error seen, for diagnosis.
	FirstError error
}

// PerSecond is Responses per second of Elapsed.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Responses) / r.Elapsed.Seconds()
}

// Run fires opts.Requests at opts.URL from opts.Concurrency goroutines for
// opts.Duration (or until ctx ends) and counts the responses.
func Run(ctx context.Context, opts Options) (Result, error) {
	if len(opts.Requests) == 0 {
		return Result{}, errors.New("ocspbench: no requests")
	}
	n := max(opts.Concurrency, 1)
	d := opts.Duration
	if d <= 0 {
		d = time.Second
	}
	client := opts.Client
	u, err := url.Parse(opts.URL)
	if err != nil {
		return Result{}, fmt.Errorf("ocspbench: %w", err)
	}
	raw := client == nil && u.Scheme == "http"
	if client == nil && !raw {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = n
		tr.MaxIdleConns = n
		client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
		defer tr.CloseIdleConnections()
	}
	// start is taken before the deadline is set, so Elapsed covers the
	// whole window: never less than d.
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var ok, bad atomic.Int64
	var firstErr error
	var once sync.Once
	fail := func(err error) {
		bad.Add(1)
		once.Do(func() { firstErr = err })
	}
	var wg sync.WaitGroup
	if raw {
		for g := range n {
			wg.Go(func() {
				c := newConn(u, opts.Requests)
				defer c.close()
				for i := g; ctx.Err() == nil; i++ {
					err := c.do(ctx, i%len(opts.Requests))
					switch {
					case err == nil:
						ok.Add(1)
					case ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded):
						fail(err)
					}
				}
			})
		}
		wg.Wait()
		return Result{Responses: ok.Load(), Errors: bad.Load(), Elapsed: time.Since(start), FirstError: firstErr}, nil
	}
	for g := range n {
		wg.Go(func() {
			for i := g; ctx.Err() == nil; i++ {
				der := opts.Requests[i%len(opts.Requests)]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, opts.URL, bytes.NewReader(der))
				if err != nil {
					fail(err)
					return
				}
				req.Header.Set("Content-Type", "application/ocsp-request")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					continue
				}
				_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				switch {
				case err != nil:
					if ctx.Err() == nil {
						fail(err)
					}
				case resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response":
					fail(fmt.Errorf("ocspbench: HTTP %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type")))
				default:
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return Result{Responses: ok.Load(), Errors: bad.Load(), Elapsed: time.Since(start), FirstError: firstErr}, nil
}
