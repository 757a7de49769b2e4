package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// pastPKI is a throwaway hierarchy whose clock was set back a year: its
// CAs were made, its one-hour citizen certificate issued, and signatures
// with it made and time-stamped (by its own TSA, on the same clock) then.
// That certificate has expired for every checker today, which is how the
// agreement test builds "expired at validation time" without telling any
// checker another validation time (EU DSS's tool cannot be told one).
// After the signing the clock is set to the real time, and the hierarchy
// is served over HTTP with current CRLs and OCSP responses.
type pastPKI struct {
	p     *catest.PKI
	srv   *servertest.Served
	root  *x509.Certificate
	chain []*x509.Certificate
	// bb and bt are a PAdES B-B and B-T signature of formPDF made with the
	// expired certificate while it was valid; blt and blta are bt extended
	// to B-LT and B-LTA ten minutes later, with the validation data the CA
	// served then, before the certificate expired.
	bb, bt, blt, blta []byte
	cert              *x509.Certificate
}

func newPastPKI(t *testing.T) *pastPKI {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var mu sync.Mutex
	clock := time.Now().Add(-365 * 24 * time.Hour).Truncate(time.Second)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if clock.IsZero() {
			return time.Now()
		}
		return clock
	}
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }

	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase=test-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := ca.New(st, ks, &ca.Options{BaseURL: "http://ca.kyso.test", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Init(ctx, &ca.InitRequest{Name: "Kyso Năm Ngoái"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := a.IssueCitizen(ctx, &ca.CitizenRequest{
		Name: "Lê Thị Hoa", CCCD: "079303000001", Province: "Hồ Chí Minh", Validity: time.Hour,
		Key: ca.KeySource{KeyLabel: "past-citizen", KeyAlgorithm: hsm.ECDSAP256},
	})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer(ctx, &hsm.SignerRequest{Label: "past-citizen"})
	if err != nil {
		t.Fatal(err)
	}
	tcert, tkey, err := a.TSASigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chain := []*x509.Certificate{h.Issuing}
	ts, err := tsa.New(tsa.Config{Certificate: tcert, Chain: []*x509.Certificate{h.Issuing, h.Root}, Signer: tkey, Policy: tsa.PlaceholderPolicy, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	set(now().Add(10 * time.Minute))
	pp := &pastPKI{root: h.Root, chain: chain, cert: cert}
	sign := func(level pades.Level) []byte {
		in := formPDF()
		opts := &pades.SignOptions{Level: level, Options: pades.Options{SigningTime: now(), SkipSignerCheck: true}}
		if level == pades.LevelBT {
			opts.TSA = pades.TSAServer(ts)
		}
		var out bytes.Buffer
		if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, key, cert, chain, opts); err != nil {
			t.Fatalf("signing with the past hierarchy: %v", err)
		}
		return out.Bytes()
	}
	pp.bb, pp.bt = sign(pades.LevelBB), sign(pades.LevelBT)

	// The CA as it served then, for pades.Extend.
	then, err := server.NewPKI(ctx, a, st, &server.PKIOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	thenSrv := httptest.NewServer(then)
	roots := x509.NewCertPool()
	roots.AddCert(h.Root)
	set(now().Add(10 * time.Minute))
	extend := func(level pades.Level) []byte {
		var out bytes.Buffer
		opts := &pades.ExtendOptions{TSA: pades.TSAServer(ts), LTVOptions: pades.LTVOptions{Roots: roots, Now: now,
			Revocation: &revocation.Fetcher{Client: servertest.ClientFor(thenSrv), Now: now}}}
		if err := pades.Extend(ctx, bytes.NewReader(pp.bt), int64(len(pp.bt)), &out, level, opts); err != nil {
			t.Fatalf("extending to %s in the past: %v", level, err)
		}
		return out.Bytes()
	}
	pp.blt, pp.blta = extend(pades.LevelBLT), extend(pades.LevelBLTA)
	thenSrv.Close()

	// Back to the present: a current OCSP responder certificate and CRLs.
	set(time.Time{})
	if _, _, err := a.RenewOCSP(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GenerateCRL(ctx); err != nil {
		t.Fatal(err)
	}
	pp.p = &catest.PKI{Keys: ks, Store: st, CA: a, Hierarchy: h}
	if pp.srv, err = servertest.Serve(ctx, pp.p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pp.srv.Close)
	return pp
}
