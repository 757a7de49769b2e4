package cscbench_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench/cscbench"
	"github.com/kyso-pki/kyso/cmd/internal/bench/keybench"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/pkcs11/pkcs11bench"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// BenchmarkSignHashHTTPS measures signatures/signHash over HTTPS with
// keep-alive, one client, 1 and 20 hashes a request, on a SoftHSM token,
// next to the bare C_SignInit+C_Sign loop with a key of the same type on
// the same token (bare) and the credential's key as signHash opens it,
// without the service (cred-key). The SADs each request spends are made
// ahead with the timer stopped (cscbench). Besides ns/op (one
// request), it reports sigs/s and the median and 99th-percentile request
// latency; `kyso bench csc` prints the same with N clients and the ratios.
func BenchmarkSignHashHTTPS(b *testing.B) {
	ctx := context.Background()
	tok := testenv.NewSoftHSM(b)
	p11, err := pkcs11.Open(ctx, tok.URI(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p11.Close() })
	bare, err := pkcs11bench.OpenBare(tok.Module, tok.TokenLabel, []byte(tok.PIN))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bare.Close)
	algs := []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048}
	env, err := cscbench.Open(ctx, &cscbench.Options{Keys: p11, Dir: b.TempDir(), Algorithms: algs, Clients: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.Close() })
	digest := sha256.Sum256([]byte("kyso bench csc"))
	for _, alg := range algs {
		sign, err := bare.SignFunc(env.BareLabel(alg), alg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(alg)+"/bare", func(b *testing.B) {
			lat := latencies(b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := sign(0, digest[:]); err != nil {
					b.Fatal(err)
				}
				lat.add(t0)
			}
			lat.report(b, 1)
		})
		key, err := env.CredentialKey(ctx, alg)
		if err != nil {
			b.Fatal(err)
		}
		keySign := keybench.SignerFunc(key)
		b.Run(string(alg)+"/cred-key", func(b *testing.B) {
			lat := latencies(b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := keySign(0, digest[:]); err != nil {
					b.Fatal(err)
				}
				lat.add(t0)
			}
			lat.report(b, 1)
		})
		for _, hashes := range []int{1, 20} {
			b.Run(fmt.Sprintf("%s/hashes=%d", alg, hashes), func(b *testing.B) {
				c, err := env.NewClient(ctx, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				// One untimed request sets up the connection.
				sads, err := c.Prepare(ctx, alg, hashes, b.N+1)
				if err != nil {
					b.Fatal(err)
				}
				sigs, err := c.SignHash(ctx, sads[0])
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Check(alg, false, sads[0].Hashes, sigs); err != nil {
					b.Fatal(err)
				}
				lat := latencies(b.N)
				b.ResetTimer()
				for _, a := range sads[1:] {
					t0 := time.Now()
					if sigs, err = c.SignHash(ctx, a); err != nil {
						b.Fatal(err)
					}
					lat.add(t0)
				}
				b.StopTimer()
				if err := c.Check(alg, false, sads[len(sads)-1].Hashes, sigs); err != nil {
					b.Fatal(err)
				}
				lat.report(b, hashes)
			})
		}
	}
}

// latencyLog holds the latency of each request of a benchmark.
type latencyLog []time.Duration

func latencies(n int) *latencyLog {
	l := make(latencyLog, 0, n)
	return &l
}

func (l *latencyLog) add(t0 time.Time) { *l = append(*l, time.Since(t0)) }

// report adds sigs/s and the p50 and p99 latency, milliseconds, to b's
// results.
func (l *latencyLog) report(b *testing.B, sigsPerOp int) {
	if len(*l) == 0 {
		return
	}
	d := slices.Clone(*l)
	slices.Sort(d)
	pct := func(p float64) float64 {
		i := int(p*float64(len(d))+0.999999) - 1
		return d[min(max(i, 0), len(d)-1)].Seconds() * 1e3
	}
	b.ReportMetric(float64(len(d)*sigsPerOp)/b.Elapsed().Seconds(), "sigs/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
