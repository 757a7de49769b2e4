package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/ocsp/ocspbench"
)

// BenchmarkRespond measures one request through ServeHTTP on a P-256
// delegated responder: served from the cache, and with a nonce, which forces
// a fresh signature.
func BenchmarkRespond(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Now = nil })
	b.Run("cached", func(b *testing.B) {
		der := reqFor(b, f.pki.good, f.pki.root, crypto.SHA1)
		post(b, f.r, der)
		b.ReportAllocs()
		for b.Loop() {
			if w := post(b, f.r, der); w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
	b.Run("nonce", func(b *testing.B) {
		der := f.reqWith(f.pki.good, nonceExt(16))
		b.ReportAllocs()
		for b.Loop() {
			if w := post(b, f.r, der); w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		der := reqFor(b, f.pki.good, f.pki.root, crypto.SHA1)
		post(b, f.r, der)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, f.r, der)
			}
		})
	})
}

// BenchmarkServeHTTP measures ServeHTTP alone on a cached answer, as
// net/http's server calls it: a fresh header map per answer, the body read
// from the connection, the writer discarding what it is given. The test
// harness's costs (httptest.NewRequest, ResponseRecorder) are left out, so
// allocations and time are the responder's own.
func BenchmarkServeHTTP(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Now = nil })
	der := reqFor(b, f.pki.good, f.pki.root, crypto.SHA1)
	post(b, f.r, der)
	req := httptest.NewRequest(http.MethodPost, "/ocsp", nil)
	req.Header.Set("Content-Type", "application/ocsp-request")
	req.ContentLength = int64(len(der))
	body := bytes.NewReader(der)
	req.Body = io.NopCloser(body)
	w := &discardWriter{}
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(der)
		w.h, w.code, w.n = make(http.Header), 0, 0
		f.r.ServeHTTP(w, req)
		if w.code != http.StatusOK || w.n == 0 {
			b.Fatal(w.code, w.n)
		}
	}
}

// discardWriter is an http.ResponseWriter that keeps only the status and
// the number of bytes written.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// BenchmarkVsOpenSSL runs kyso's responder and `openssl ocsp` as a responder
// over the same certificates, loads each over HTTP with the same requests
// (no nonce, good and revoked) for a fixed time, and reports responses per
// second. openssl signs every response; kyso serves from its cache. openssl
// is measured single-process and with -multi NumCPU.
func BenchmarkVsOpenSSL(b *testing.B) {
	p := newTestPKI(b)
	reqs := [][]byte{reqFor(b, p.good, p.root, crypto.SHA1), reqFor(b, p.revoked, p.root, crypto.SHA1)}
	src := newMapSource(p.good)
	src.set(p.revoked.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: time.Now().Add(-time.Hour), Reason: 1})
	r, err := New(Config{Issuer: p.root, Signer: p.ocspKey, SignerCert: p.ocsp, Source: src})
	if err != nil {
		b.Fatal(err)
	}
	kyso := httptest.NewServer(r)
	b.Cleanup(kyso.Close)
	single := opensslResponder(b, p, 0, 0)
	multi := opensslResponder(b, newTestPKIFrom(b, p), 0, runtime.NumCPU())

	const conc = 16
	d := 3 * time.Second
	for _, tc := range []struct{ name, url string }{
		{"kyso", kyso.URL}, {"openssl", single}, {"openssl-multi", multi},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var res ocspbench.Result
			for b.Loop() {
				res, err = ocspbench.Run(context.Background(), ocspbench.Options{
					URL: tc.url, Requests: reqs, Concurrency: conc, Duration: d,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if res.Responses == 0 {
				b.Fatalf("no responses: %v", res.FirstError)
			}
			b.ReportMetric(res.PerSecond(), "responses/s")
			b.ReportMetric(float64(res.Errors), "errors")
			b.Logf("%s: %d responses, %d errors in %v (%.0f/s); first error %v", tc.name, res.Responses, res.Errors, res.Elapsed, res.PerSecond(), res.FirstError)
		})
	}
}

// BenchmarkCacheMemory asks for 100,000 distinct serials once each and
// reports the heap the responder keeps afterwards (after a GC), the
// responses cached and their counted bytes: bounded by count as before
// issue 19 (100,000 entries, the old default) and by bytes (the default,
// DefaultCacheBytes). Run it with -benchtime 1x.
func BenchmarkCacheMemory(b *testing.B) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"100k-entries", func(c *Config) { c.CacheSize, c.CacheBytes = 100_000, 1<<40 }},
		{"default-bytes", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				f := newFixture(b, tc.mod)
				ih := f.r.issuerHashes[crypto.SHA1]
				for i := range 100_000 {
					post(b, f.r, buildRequest(algid.SHA1, ih[0], ih[1], big.NewInt(int64(1_000_000+i))))
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				n, bytes := f.r.CacheUse()
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(bytes)/(1<<20), "counted-MiB")
				b.ReportMetric(float64(n), "entries")
				runtime.KeepAlive(f)
			}
		})
	}
}

// BenchmarkPresign signs answers for 10⁵ distinct serials (one in twenty
// revoked) with the responder's own signing path, from GOMAXPROCS
// goroutines, as a pre-signer would before any request (issue 19): the
// P-256 responder key in memory, statuses given, nothing stored. It
// reports answers per second and the seconds 10⁶ would take at that rate.
// Run it with -benchtime 1x.
func BenchmarkPresign(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Now = nil })
	st := f.r.signer
	ih := f.r.issuerHashes[crypto.SHA1]
	const n = 100_000
	revokedAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	for b.Loop() {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := next.Add(1); i <= n; i = next.Add(1) {
					var sb cryptobyte.Builder
					sb.AddASN1BigInt(big.NewInt(1_000_000 + i))
					req := &request{hash: crypto.SHA1, nameHash: ih[0], keyHash: ih[1], serialDER: sb.BytesOrPanic()}
					status := Status{Known: true}
					if i%20 == 0 {
						status = Status{Known: true, Revoked: true, RevokedAt: revokedAt, Reason: 1}
					}
					if _, err := f.r.signOne(st, req, status, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.ReportMetric(n/elapsed.Seconds(), "answers/s")
		b.ReportMetric(elapsed.Seconds()*10, "s-per-1e6")
	}
}
