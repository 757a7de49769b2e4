package server

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/revocation"
)

// clockedPKI is a catest hierarchy with an Authority of opts (BaseURL
// http://ca.kyso.test) and its PKI routes, both on the clock *now.
func clockedPKI(t *testing.T, now *time.Time, opts *ca.Options) (*catest.PKI, *ca.Authority, *PKI) {
	t.Helper()
	ctx := context.Background()
	p0, err := catest.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p0.Close() })
	clock := func() time.Time { return *now }
	o := *opts
	o.BaseURL, o.Now = "http://ca.kyso.test", clock
	a, err := ca.New(p0.Store, p0.Keys, &o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPKI(ctx, a, p0.Store, &PKIOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return p0, a, p
}

// TestCRLShardRoutes: each shard's CRL is served at the URL its
// certificates name, a shard no certificate names is not found (requests
// cannot make CRLs), kyso's fetcher judges a certificate by its shard's
// CRL, and a batched suspension makes the tick sign its shard's CRL again
// and no other.
func TestCRLShardRoutes(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	p0, a, p := clockedPKI(t, &now, &ca.Options{CRLBatch: time.Minute, CRLShards: 3})
	st := p0.Store
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	var d net.Dialer
	f := &revocation.Fetcher{Now: clock, Client: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}}}

	byURL := map[string][]*x509.Certificate{}
	for _, cccd := range []string{"079203003001", "079203003002", "079203003003", "079203003004", "079203003005", "079203003006", "079203003007", "079203003008", "079203003009"} {
		c := issue(t, a, cccd)
		byURL[c.CRLDistributionPoints[0]] = append(byURL[c.CRLDistributionPoints[0]], c)
	}
	if len(byURL) < 2 {
		t.Fatalf("nine serials fell in %d shards", len(byURL))
	}
	for u, cs := range byURL {
		pu, _ := url.Parse(u)
		der := mustGet(t, srv.URL+pu.Path)
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("%s: %v", pu.Path, err)
		}
		if len(l.RevokedCertificateEntries) != 0 {
			t.Errorf("%s lists %d before any revocation", pu.Path, len(l.RevokedCertificateEntries))
		}
		res, err := f.CRL(ctx, cs[0], p0.Hierarchy.Issuing)
		if err != nil || res.Status != revocation.Good || res.URL != u {
			t.Errorf("fetcher on %s: %+v, %v", u, res, err)
		}
	}
	mustGet(t, srv.URL+"/crl/issuing.crl") // the original CRL, for certificates from before
	for _, path := range []string{"/crl/issuing-0.crl", "/crl/issuing-01.crl", "/crl/issuing-4.crl", "/crl/issuing-999999.crl", "/crl/issuing-.crl", "/crl/-1.crl", "/crl/nope-1.crl", "/crl/issuing-1", "/crl/issuing--1.crl"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}

	// Suspend one certificate (batched): its shard's CRL is signed again
	// once the batch has passed, the other shards' are not.
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	var held *x509.Certificate
	for _, cs := range byURL {
		held = cs[0]
		break
	}
	heldShard, err := st.GetCertificate(ctx, ca.IssuingName, held.SerialNumber.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	scopes, err := a.CRLScopes(ctx, ca.IssuingName)
	if err != nil {
		t.Fatal(err)
	}
	numbers := func() map[int]int64 {
		t.Helper()
		out := map[int]int64{}
		for _, shard := range scopes {
			c, err := st.LatestCRL(ctx, ca.IssuingName, shard)
			if err != nil {
				t.Fatalf("shard %d: %v", shard, err)
			}
			out[shard] = c.Number
		}
		return out
	}
	before := numbers()
	if err := a.Suspend(ctx, held.SerialNumber.Bytes(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := numbers(); got[heldShard.CRLShard] != before[heldShard.CRLShard] {
		t.Errorf("a CRL was made before the batch passed: %v after %v", got, before)
	}
	now = now.Add(time.Minute)
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	after := numbers()
	for shard, n := range after {
		if changed := n != before[shard]; changed != (shard == heldShard.CRLShard) {
			t.Errorf("shard %d: CRL %d after %d; only shard %d had a change", shard, n, before[shard], heldShard.CRLShard)
		}
	}
	res, err := f.CRL(ctx, held, p0.Hierarchy.Issuing)
	if err != nil || res.Status != revocation.Revoked {
		t.Errorf("fetcher after the suspension: %+v, %v; want revoked", res, err)
	}
}
