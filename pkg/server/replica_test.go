package server

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestOCSPRenewalReachesEveryReplica: two replicas (two Authorities and
// PKIs on one database and key store). Past half the responder
// certificate's life the first replica's tick renews it; the second's
// tick finds the new certificate fresh, renews nothing, and must sign
// with it from then on — not go on with the old one until, and past, its
// end, when every relying party would refuse its answers.
func TestOCSPRenewalReachesEveryReplica(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	p0, a, pa := clockedPKI(t, &now, &ca.Options{})
	clock := func() time.Time { return now }
	b, err := ca.New(p0.Store, p0.Keys, &ca.Options{BaseURL: "http://ca.kyso.test", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := NewPKI(ctx, b, p0.Store, &PKIOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srvA, srvB := httptest.NewServer(pa), httptest.NewServer(pb)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	h, err := a.Hierarchy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaf := issue(t, a, "079203001234")
	req, _ := xocsp.CreateRequest(leaf, h.Issuing, &xocsp.RequestOptions{Hash: crypto.SHA1})
	responder := func(base string) *xocsp.Response {
		t.Helper()
		resp := ocspGET(t, base, req)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		r, err := xocsp.ParseResponseForCert(body, leaf, h.Issuing)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if r.Certificate == nil {
			t.Fatalf("%s: no responder certificate in the answer", base)
		}
		return r
	}
	old := responder(srvB.URL).Certificate

	now = now.Add(ca.DefaultOCSPValidity/2 + time.Hour)
	if err := pa.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	renewed, _, err := a.OCSPSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatal("the first replica's tick did not renew the responder certificate")
	}
	if err := pb.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := b.OCSPSigner(ctx); got.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
		t.Fatalf("the second replica renewed again (%v after %v): one renewal per half-life", got.SerialNumber, renewed.SerialNumber)
	}
	for name, base := range map[string]string{"first": srvA.URL, "second": srvB.URL} {
		if c := responder(base).Certificate; c.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
			t.Errorf("%s replica signs with responder certificate %v, want the renewed %v", name, c.SerialNumber, renewed.SerialNumber)
		}
	}

	// Past the old certificate's end, before the new one's half life:
	// both replicas' answers are signed by a certificate valid now.
	now = old.NotAfter.Add(time.Minute)
	for _, p := range []*PKI{pa, pb} {
		if err := p.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, base := range map[string]string{"first": srvA.URL, "second": srvB.URL} {
		if c := responder(base).Certificate; now.After(c.NotAfter) {
			t.Errorf("%s replica signs with a responder certificate that ended %v ago", name, now.Sub(c.NotAfter))
		}
	}
}

// replicaPair is two replicas' PKIs on one database and key store, with
// one clock.
func replicaPair(t *testing.T, now *time.Time, opts *ca.Options) (a *ca.Authority, pa, pb *PKI, st store.Store) {
	t.Helper()
	p0, a, pa := clockedPKI(t, now, opts)
	o := *opts
	o.BaseURL, o.Now = "http://ca.kyso.test", func() time.Time { return *now }
	b, err := ca.New(p0.Store, p0.Keys, &o)
	if err != nil {
		t.Fatal(err)
	}
	pb, err = NewPKI(context.Background(), b, p0.Store, &PKIOptions{Now: o.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a, pa, pb, p0.Store
}

// crlEvents counts the CRLs signed and stored after audit event from.
func crlEvents(t *testing.T, st store.Store, from int64) (n int, last int64) {
	t.Helper()
	last = from
	for {
		evs, err := st.ListAudit(context.Background(), last, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return n, last
		}
		for _, e := range evs {
			last = e.ID
			if e.Action == ca.ActionCRL && e.Outcome == "ok" {
				n++
			}
		}
	}
}

// TestReplicasSignOneCRLPerBatch: two replicas tick at the same moment
// once a batched revocation's CRL is due. One CRL is signed, not one per
// replica: each would lint and sign the whole shard (0.8 s at 12,500
// entries), and two CRLs of one moment differ only in their numbers.
func TestReplicasSignOneCRLPerBatch(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	a, pa, pb, st := replicaPair(t, &now, &ca.Options{CRLBatch: time.Minute})
	if _, err := a.GenerateCRL(ctx); err != nil {
		t.Fatal(err)
	}
	_, from := crlEvents(t, st, 0)
	const rounds = 8
	doubles := 0
	for i := range rounds {
		leaf := issue(t, a, fmt.Sprintf("0792030%05d", i))
		if err := a.Revoke(ctx, leaf.SerialNumber.Bytes(), store.ReasonSuperseded, time.Time{}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute + time.Second)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, p := range []*PKI{pa, pb} {
			wg.Go(func() {
				<-start
				if err := p.Tick(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		var n int
		n, from = crlEvents(t, st, from)
		if n == 0 {
			t.Fatalf("round %d: no CRL signed for a revocation past its batch", i)
		}
		doubles += n - 1
	}
	if doubles > 0 {
		t.Errorf("%d CRLs signed twice in %d rounds of two replicas ticking together: one replica's upkeep is enough", doubles, rounds)
	}
}
