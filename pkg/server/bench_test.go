package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// envCount returns the number the environment variable name holds, def
// when it is unset; one below least fails the benchmark.
func envCount(b *testing.B, name string, def, least int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		b.Fatalf("%s=%q: want a number of at least %d", name, v, least)
	}
	return n
}

// BenchmarkNewPKI measures the PKI's start (kysod builds it once, before
// serving) over an audit trail of KYSO_AUDIT_EVENTS events (default
// 210,000: what 100,000 certificates left in issue 19's measurement).
func BenchmarkNewPKI(b *testing.B) {
	n := envCount(b, "KYSO_AUDIT_EVENTS", 210_000, 0)
	ctx := context.Background()
	a, st, _ := setup(b)
	for done := 0; done < n; {
		var batch []*store.AuditEvent
		for ; len(batch) < 5000 && done < n; done++ {
			batch = append(batch, &store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: fmt.Sprintf("cred-%d", done),
				Outcome: "intent", Details: []byte(fmt.Sprintf(`{"owner":"own-%d","activation":"act-%d","digest":"AAAA","hash":"SHA-256"}`, done, done))})
		}
		if err := st.AppendAudit(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := NewPKI(ctx, a, st, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPresignFromStore fills the store with 10⁵ citizen certificates
// (5% revoked) through its API, then asks the PKI's OCSP route once for
// each, from GOMAXPROCS goroutines: every request misses the cache, so
// each is the work a pre-signer does per certificate — the status read
// from the store (certificate, and revocation for the revoked) and an
// answer signed by the current OCSP responder key — without storing the
// answer. It reports answers per second and the seconds 10⁶ would take
// (issue 19: within a quarter of the answer's validity, 6 h by
// default). KYSO_PRESIGN_CERTS sets another number of certificates. Run it
// with -benchtime 1x.
func BenchmarkPresignFromStore(b *testing.B) {
	n := envCount(b, "KYSO_PRESIGN_CERTS", 100_000, 1)
	ctx := context.Background()
	a, st, _ := setup(b)
	h, err := a.Hierarchy(ctx)
	if err != nil {
		b.Fatal(err)
	}
	serials := make([]*big.Int, n)
	now := time.Now().UTC().Truncate(time.Second)
	fill := func(i int) error {
		serial := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 72), big.NewInt(int64(i+1)))
		serials[i] = serial
		spki := sha256.Sum256(serial.Bytes())
		if err := st.ReserveSerial(ctx, &store.SerialReservation{Issuer: ca.IssuingName, Serial: serial.Bytes(), Reserved: now}); err != nil {
			return err
		}
		if err := st.PutCertificate(ctx, &store.Certificate{Issuer: ca.IssuingName, Serial: serial.Bytes(), DER: spki[:], Profile: "citizen",
			Subject: "CN=Trần Thị Presign", PublicKeySHA256: spki[:], NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), Status: store.StatusGood}); err != nil {
			return err
		}
		if i%20 == 0 {
			return st.Revoke(ctx, &store.Revocation{Issuer: ca.IssuingName, Serial: serial.Bytes(), Reason: store.ReasonKeyCompromise, RevokedAt: now})
		}
		return nil
	}
	start := time.Now()
	if err := parallel(n, 64, fill); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d certificates in %v", n, time.Since(start))
	p, err := NewPKI(ctx, a, st, &PKIOptions{OCSPCacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	answers := make([][]byte, n)
	for b.Loop() {
		start := time.Now()
		if err := parallel(n, runtime.GOMAXPROCS(0), func(i int) error {
			der, err := xocsp.CreateRequest(&x509.Certificate{SerialNumber: serials[i]}, h.Issuing, &xocsp.RequestOptions{Hash: crypto.SHA1})
			if err != nil {
				return err
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(der)))
			answers[i] = w.Body.Bytes()
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "answers/s")
		b.ReportMetric(elapsed.Seconds()*1e6/float64(n), "s-per-1e6")
	}
	// Every answer checked, after the clock: good, or revoked for the
	// revoked, signed by the responder the issuing CA certified.
	if err := parallel(n, runtime.GOMAXPROCS(0), func(i int) error {
		resp, err := xocsp.ParseResponse(answers[i], h.Issuing)
		if err != nil {
			return fmt.Errorf("serial %x: %w", serials[i], err)
		}
		if want := map[bool]int{false: xocsp.Good, true: xocsp.Revoked}[i%20 == 0]; resp.Status != want {
			return fmt.Errorf("serial %x: status %d, want %d", serials[i], resp.Status, want)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// parallel runs f(0) … f(n-1) from g goroutines and returns the first
// error.
func parallel(n, g int, f func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
