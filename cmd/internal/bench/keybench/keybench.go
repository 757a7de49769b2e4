// Package keybench measures signatures per second through kyso's key
// backends next to their physical limits run side by side: a bare PKCS#11
// C_SignInit+C_Sign loop on the same token (hsm/pkcs11/pkcs11bench), and Go's
// in-memory keys. It backs
// `kyso bench keys`; it asserts nothing about speed, it reports.
package keybench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Result is one measurement.
type Result struct {
	// Backend names what signed: "go-memory", "pkcs11-bare", "pkcs11", ...
	Backend string `json:"backend"`
	// Algorithm is the key algorithm.
	Algorithm string `json:"algorithm"`
	// Goroutines is how many signed at once.
	Goroutines int `json:"goroutines"`
	// Signatures is how many were made.
	Signatures int64 `json:"signatures"`
	// Seconds is the wall time measured.
	Seconds float64 `json:"seconds"`
	// PerSecond is Signatures / Seconds.
	PerSecond float64 `json:"per_second"`
	// VsBare is PerSecond over the bare PKCS#11 loop's, same algorithm and
	// goroutines; 0 when there is none.
	VsBare float64 `json:"vs_bare,omitempty"`
	// VsGo is PerSecond over Go's in-memory key's, same algorithm and
	// goroutines.
	VsGo float64 `json:"vs_go,omitempty"`
	// Err is set when the run failed.
	Err string `json:"error,omitempty"`
}

// SignFunc signs one digest; worker is the goroutine's index, so a bare loop
// can give each goroutine its own session.
type SignFunc = func(worker int, digest []byte) error

// Measure calls sign from goroutines goroutines until d has passed (after a
// short warm-up) and counts the signatures.
func Measure(ctx context.Context, backend, alg string, goroutines int, d time.Duration, sign SignFunc) Result {
	r := Result{Backend: backend, Algorithm: alg, Goroutines: goroutines}
	digest := sha256.Sum256([]byte("kyso bench"))
	// Warm-up: one signature per worker, so sessions and caches exist.
	for w := 0; w < goroutines; w++ {
		if err := sign(w, digest[:]); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	var n atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < goroutines; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if err := sign(w, digest[:]); err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				n.Add(1)
			}
		}(w)
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	close(stop)
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.Signatures = n.Load()
	r.PerSecond = float64(r.Signatures) / r.Seconds
	if e, ok := firstErr.Load().(string); ok {
		r.Err = e
	}
	return r
}

// SignerFunc adapts a crypto.Signer: PKCS#1 v1.5 or ECDSA over SHA-256.
func SignerFunc(s crypto.Signer) SignFunc {
	return func(_ int, digest []byte) error {
		_, err := s.Sign(rand.Reader, digest, crypto.SHA256)
		return err
	}
}

// PSSSignerFunc adapts a crypto.Signer for RSASSA-PSS over SHA-256.
func PSSSignerFunc(s crypto.Signer) SignFunc {
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	return func(_ int, digest []byte) error {
		_, err := s.Sign(rand.Reader, digest, opts)
		return err
	}
}

// Ratios fills VsBare and VsGo from the other results of the same algorithm
// and goroutine count.
func Ratios(rs []Result) {
	type key struct {
		alg string
		g   int
	}
	bare, gomem := map[key]float64{}, map[key]float64{}
	for _, r := range rs {
		switch r.Backend {
		case "pkcs11-bare":
			bare[key{r.Algorithm, r.Goroutines}] = r.PerSecond
		case "go-memory":
			gomem[key{r.Algorithm, r.Goroutines}] = r.PerSecond
		}
	}
	for i := range rs {
		k := key{rs[i].Algorithm, rs[i].Goroutines}
		if b := bare[k]; b > 0 && rs[i].Err == "" {
			rs[i].VsBare = rs[i].PerSecond / b
		}
		if g := gomem[k]; g > 0 && rs[i].Err == "" {
			rs[i].VsGo = rs[i].PerSecond / g
		}
	}
}

// Print writes rs as a table.
func Print(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\talgorithm\tgoroutines\tsig/s\tvs bare PKCS#11\tvs Go memory\t")
	for _, r := range rs {
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\tfailed: %s\t\t\t\n", r.Backend, r.Algorithm, r.Goroutines, r.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t\n", r.Backend, r.Algorithm, r.Goroutines, r.PerSecond, ratio(r.VsBare), ratio(r.VsGo))
	}
	return tw.Flush()
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}
