package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/store"
)

// refusal is a certificate the pre-signing check refuses, and how it says
// so.
type refusal struct {
	name   string
	cert   *x509.Certificate
	signer crypto.Signer
	chain  []*x509.Certificate
	code   signercheck.Code
	vi, en string
}

// refusals makes one certificate per refusal in f's hierarchy (and, for
// "untrusted", in another one).
func (f *ltvFixture) refusals(t *testing.T) []refusal {
	t.Helper()
	ctx := context.Background()
	must := func(c *x509.Certificate, s crypto.Signer, err error) (*x509.Certificate, crypto.Signer) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c, s
	}
	other, err := catest.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	chain := f.chain
	r := []refusal{
		{name: "expired", code: signercheck.CodeExpired, vi: "chứng thư số đã hết hạn", en: "certificate expired", chain: chain},
		{name: "revoked", code: signercheck.CodeRevoked, vi: "chứng thư số đã bị thu hồi", en: "certificate revoked", chain: chain},
		{name: "suspended", code: signercheck.CodeSuspended, vi: "chứng thư số đang bị tạm dừng", en: "certificate suspended", chain: chain},
		{name: "untrusted", code: signercheck.CodeUntrusted, vi: "không có đường tin cậy", en: "no trust path", chain: []*x509.Certificate{other.Hierarchy.Issuing}},
		{name: "weak-key", code: signercheck.CodeWeakKey, vi: "khóa của chứng thư số Khóa Yếu quá yếu", en: "key of Khóa Yếu too weak: RSA 1024 bits", chain: chain},
	}
	r[0].cert, r[0].signer = must(f.p.Expired(ctx, "refuse-expired", hsm.ECDSAP256, "079203009001"))
	r[1].cert, r[1].signer = must(f.p.Revoked(ctx, "refuse-revoked", hsm.ECDSAP256, "079203009002", store.ReasonKeyCompromise))
	r[2].cert, r[2].signer = must(f.p.Revoked(ctx, "refuse-held", hsm.ECDSAP256, "079203009003", store.ReasonCertificateHold))
	r[3].cert, r[3].signer = must(other.Citizen(ctx, "refuse-stranger", hsm.ECDSAP256, "079203009004"))
	r[4].cert, r[4].signer = must(f.p.WeakKey(ctx))
	return r
}

// assertRefused checks err is the refusal r, bilingual.
func assertRefused(t *testing.T, err error, r refusal) {
	t.Helper()
	var e *signercheck.Error
	if !errors.As(err, &e) || e.Code != r.code {
		t.Fatalf("got %v, want a refusal %s", err, r.code)
	}
	if msg := err.Error(); !strings.Contains(msg, r.vi) || !strings.Contains(msg, "("+r.en) {
		t.Errorf("error %q lacks %q and (%s…)", msg, r.vi, r.en)
	}
}

func (f *ltvFixture) checkConfig(src signercheck.RevocationSource) *signercheck.Config {
	if src == nil {
		src = f.fetcher
	}
	return &signercheck.Config{Roots: f.roots(), Revocation: src}
}

// TestSignRefuses: Sign checks the signer's certificate before it reads
// or writes anything, refuses each kind of bad certificate in Vietnamese
// and English, and refuses to run without a check unless told to skip it.
func TestSignRefuses(t *testing.T) {
	f := newLTVFixture(t)
	in := minimalPDF("1.7", 0)
	for _, r := range f.refusals(t) {
		t.Run(r.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, r.signer, r.cert, r.chain,
				&SignOptions{Check: f.checkConfig(nil)})
			assertRefused(t, err, r)
			if out.Len() != 0 {
				t.Errorf("a refused Sign wrote %d bytes", out.Len())
			}
		})
	}
	t.Run("no-check", func(t *testing.T) {
		k := f.keys["p256"]
		var out bytes.Buffer
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, k.signer, k.cert, f.chain, nil); !errors.Is(err, ErrNoSignerCheck) || out.Len() != 0 {
			t.Fatalf("Sign without a check: %v (%d bytes written), want ErrNoSignerCheck", err, out.Len())
		}
	})
	t.Run("checked-is-another-certificate", func(t *testing.T) {
		res, err := signercheck.Check(context.Background(), f.keys["p256"].cert, f.chain, f.checkConfig(nil))
		if err != nil {
			t.Fatal(err)
		}
		k := f.keys["rsa2048"]
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &bytes.Buffer{}, k.signer, k.cert, f.chain, &SignOptions{Checked: res}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Sign with another certificate's check: %v, want ErrMismatch", err)
		}
	})
}

// TestTwoPhaseSignerCheck: Embed takes only a signature by the
// certificate CheckSigner passed; CheckSigner refuses a revoked one.
func TestTwoPhaseSignerCheck(t *testing.T) {
	f := newLTVFixture(t)
	ctx := context.Background()
	orig := minimalPDF("1.7", 0)
	k := f.keys["p256"]
	sign := func(p *Prepared, key *signerKey) []byte {
		t.Helper()
		cp, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: key.cert, Chain: f.chain, ContentDigest: p.Digest, Hash: p.Hash})
		if err != nil {
			t.Fatal(err)
		}
		sig, err := key.signer.Sign(nil, cp.Digest, cp.SignerOpts())
		if err != nil {
			t.Fatal(err)
		}
		der, err := cp.Finish(sig)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	prepare := func() *Prepared {
		t.Helper()
		p, err := Prepare(bytes.NewReader(orig), int64(len(orig)), nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := prepare()
	if err := Embed(bytes.NewReader(orig), p, sign(p, k), &bytes.Buffer{}); !errors.Is(err, ErrNoSignerCheck) {
		t.Fatalf("Embed without CheckSigner: %v, want ErrNoSignerCheck", err)
	}
	refused := f.refusals(t)[1] // revoked
	if _, err := p.CheckSigner(ctx, refused.cert, refused.chain, f.checkConfig(nil)); err == nil {
		t.Fatal("CheckSigner passed a revoked certificate")
	} else {
		assertRefused(t, err, refused)
	}
	if _, err := p.CheckSigner(ctx, k.cert, f.chain, f.checkConfig(nil)); err != nil {
		t.Fatal(err)
	}
	// The check survives storage between the phases.
	state, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q Prepared
	if err := q.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if err := Embed(bytes.NewReader(orig), &q, sign(&q, f.keys["rsa2048"]), &bytes.Buffer{}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Embed of another signer's signature: %v, want ErrMismatch", err)
	}
	var out bytes.Buffer
	if err := Embed(bytes.NewReader(orig), &q, sign(&q, k), &out); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	checkAll(t, f.fixture, out.Bytes(), 1)
}

// countingSource counts what reaches the network.
type countingSource struct {
	next        RevocationSource
	signerAsked atomic.Int32
	signer      *x509.Certificate
}

func (c *countingSource) OCSP(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.OCSPResult, error) {
	if cert.Equal(c.signer) {
		c.signerAsked.Add(1)
	}
	return c.next.OCSP(ctx, cert, issuer)
}

func (c *countingSource) CRL(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error) {
	if cert.Equal(c.signer) {
		c.signerAsked.Add(1)
	}
	return c.next.CRL(ctx, cert, issuer)
}

// TestSignBLTKeepsCheckEvidence signs at B-LT the way every signing path
// does — check, sign at B-T with the check's result, extend with the
// check's evidence — and finds in the DSS the very OCSP response the check
// used, fetched once; pyHanko and EU DSS judge the file B-LT from the
// document alone.
func TestSignBLTKeepsCheckEvidence(t *testing.T) {
	f := newLTVFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	var cases []dssCase
	for _, key := range []string{"p256", "rsa2048"} {
		t.Run(key, func(t *testing.T) {
			k := f.keys[key]
			src := &countingSource{next: f.fetcher, signer: k.cert}
			res, err := signercheck.Check(ctx, k.cert, f.chain, f.checkConfig(src))
			if err != nil {
				t.Fatal(err)
			}
			if src.signerAsked.Load() != 1 || res.Statuses[0].OCSP == nil {
				t.Fatalf("the check asked %d times about the signer, OCSP answer %v; want once, by OCSP", src.signerAsked.Load(), res.Statuses[0].OCSP)
			}
			in := minimalPDF("1.7", 0)
			var bt bytes.Buffer
			if err := Sign(ctx, bytes.NewReader(in), int64(len(in)), &bt, k.signer, k.cert, f.chain,
				&SignOptions{Checked: res, Level: LevelBT, TSA: f.tsa, Options: Options{Reason: "Nộp hồ sơ"}}); err != nil {
				t.Fatal(err)
			}
			var lt bytes.Buffer
			if err := Extend(ctx, bytes.NewReader(bt.Bytes()), int64(bt.Len()), &lt, LevelBLT,
				&ExtendOptions{LTVOptions: LTVOptions{Roots: f.roots(), Revocation: res.Source(src)}}); err != nil {
				t.Fatal(err)
			}
			if n := src.signerAsked.Load(); n != 1 {
				t.Errorf("the signer's status was fetched %d times, want once (by the check)", n)
			}
			v := readDSSView(t, lt.Bytes())
			found := false
			for _, o := range v.ocsps {
				found = found || bytes.Equal(o, res.Statuses[0].OCSP.Raw)
			}
			if !found {
				t.Fatalf("the DSS (%d OCSP responses) lacks the OCSP response the check used", len(v.ocsps))
			}
			p := f.checkLTV(t, dir, lt.Bytes(), key+"-checked-lt.pdf", 1, 0)
			cases = append(cases, dssCase{p, "PAdES-BASELINE-LT", 0})
		})
	}
	f.assertDSS(t, cases...)
}
