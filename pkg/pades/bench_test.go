package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"runtime"
	"testing"
)

// BenchmarkSign10MB signs a generated ~10 MB PDF at level B-B with a P-256
// key from the softkey store and reports throughput and allocations; the
// alloc/filesize metric is the memory Sign needs beyond the caller's input
// (two 1 MiB copy buffers and the update section, not the file).
func BenchmarkSign10MB(b *testing.B) {
	f := getFixture(b)
	in := minimalPDF("1.7", 10<<20)
	k := f.keys["p256"]
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, k.signer, k.cert, f.chain, skipCheck(nil)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(in)), "alloc/filesize")
}

// BenchmarkFloor10MB is the floor Sign is compared with: read the file,
// SHA-256 it, one signature, write it.
func BenchmarkFloor10MB(b *testing.B) {
	f := getFixture(b)
	in := minimalPDF("1.7", 10<<20)
	k := f.keys["p256"]
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.New()
		buf := make([]byte, 1<<20)
		io.CopyBuffer(h, bytes.NewReader(in), buf)
		if _, err := k.signer.Sign(rand.Reader, h.Sum(nil), crypto.SHA256); err != nil {
			b.Fatal(err)
		}
		io.CopyBuffer(io.Discard, bytes.NewReader(in), buf)
	}
}
