package verify_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// BenchmarkVerify1Sig validates, offline, a one-page form signed once at
// PAdES B-T and extended to B-LT (pades.Extend): the DSS holds the OCSP
// responses and certificates, so Options.Fetcher is nil and nothing is
// fetched.
func BenchmarkVerify1Sig(b *testing.B) { benchVerify(b, 1) }

// BenchmarkVerify5Sig is BenchmarkVerify1Sig with five signers, one
// incremental update each, then the DSS: every signature's changes after
// it are analysed too.
func BenchmarkVerify5Sig(b *testing.B) { benchVerify(b, 5) }

func benchVerify(b *testing.B, n int) {
	f := getFixture(b)
	doc := formPDF()
	for range n {
		doc = f.sign(b, f.citizen(b, hsm.ECDSAP256), doc, &pades.SignOptions{Level: pades.LevelBT})
	}
	doc = f.extend(b, doc, pades.LevelBLT)
	opts := &verify.Options{Roots: f.roots}
	rep := f.verifyWith(b, doc, opts)
	if !rep.Valid || len(rep.Signatures) != n {
		b.Fatalf("valid %v with %d signatures, want %d valid", rep.Valid, len(rep.Signatures), n)
	}
	for i, s := range rep.Signatures {
		if s.Level != verify.LevelBLT {
			b.Fatalf("signature %d is %q, want %s offline", i+1, s.Level, verify.LevelBLT)
		}
	}
	ctx := context.Background()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := verify.Verify(ctx, bytes.NewReader(doc), int64(len(doc)), opts)
		if err != nil || !rep.Valid {
			b.Fatalf("verify: %v", err)
		}
	}
}
