package revocation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/store"
)

// pki is a throwaway CA whose PKI routes (pkg/server) answer for
// http://ca.kyso.test, the base URL in its certificates, through an
// http.Client that dials the test server whatever the host: the real fetch
// path, without DNS.
type pki struct {
	p      *catest.PKI
	h      *ca.Hierarchy
	srv    *server.PKI
	client *http.Client
	hits   atomic.Int64
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	ctx := context.Background()
	p, err := catest.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h, err := p.CA.Hierarchy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewPKI(ctx, p.CA, p.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := &pki{p: p, h: h, srv: srv}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.hits.Add(1)
		if r.Host != "ca.kyso.test" {
			http.Error(w, "unexpected host "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	k.client = clientFor(ts)
	return k
}

// clientFor returns a client that sends every request to ts.
func clientFor(ts *httptest.Server) *http.Client {
	addr := ts.Listener.Addr().String()
	var d net.Dialer
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func (k *pki) issue(t testing.TB, cccd string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	c, err := k.p.CA.IssueCitizen(context.Background(), &ca.CitizenRequest{Name: "Trần Thị Mai", CCCD: cccd, Province: "Đà Nẵng", Key: ca.KeySource{CSR: csr}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (k *pki) revoke(t testing.TB, c *x509.Certificate) {
	t.Helper()
	ctx := context.Background()
	if err := k.p.CA.Revoke(ctx, c.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := k.srv.Tick(ctx); err != nil { // drop the responder's cached answer
		t.Fatal(err)
	}
}

func TestOCSP(t *testing.T) {
	k := newPKI(t)
	ctx := context.Background()
	leaf := k.issue(t, "048203000011")
	for _, c := range []struct {
		name string
		f    *revocation.Fetcher
	}{
		{"post", &revocation.Fetcher{Client: k.client}},
		{"get", &revocation.Fetcher{Client: k.client, OCSPGet: true}},
		{"post-nonce", &revocation.Fetcher{Client: k.client, OCSPNonce: true}},
		{"get-nonce", &revocation.Fetcher{Client: k.client, OCSPGet: true, OCSPNonce: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := c.f.OCSP(ctx, leaf, k.h.Issuing)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != revocation.Good || res.URL != "http://ca.kyso.test/ocsp" || len(res.Raw) == 0 {
				t.Fatalf("status %v from %q", res.Status, res.URL)
			}
			if res.Responder == nil || res.Responder.Equal(k.h.Issuing) || len(res.Responder.ExtKeyUsage) == 0 {
				t.Errorf("responder %v: want the delegated OCSP certificate", res.Responder.Subject)
			}
			again, err := revocation.ParseOCSP(res.Raw, leaf, k.h.Issuing)
			if err != nil || again.Status != revocation.Good {
				t.Errorf("ParseOCSP of the fetched bytes: %v", err)
			}
		})
	}

	t.Run("revoked", func(t *testing.T) {
		other := k.issue(t, "048203000012")
		k.revoke(t, other)
		f := &revocation.Fetcher{Client: k.client}
		res, err := f.OCSP(ctx, other, k.h.Issuing)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != revocation.Revoked || res.Response.RevocationReason != store.ReasonKeyCompromise {
			t.Errorf("status %v reason %d, want revoked for keyCompromise", res.Status, res.Response.RevocationReason)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		never := *leaf
		never.SerialNumber = big.NewInt(424242)
		res, err := (&revocation.Fetcher{Client: k.client}).OCSP(ctx, &never, k.h.Issuing)
		if err != nil || res.Status != revocation.Unknown {
			t.Errorf("never-issued serial: %v, %v", res, err)
		}
	})

	t.Run("wrong-issuer", func(t *testing.T) {
		res, err := (&revocation.Fetcher{Client: k.client}).OCSP(ctx, leaf, k.h.Root)
		if !errors.Is(err, revocation.ErrInvalid) {
			t.Errorf("OCSP with the root as issuer: %v, %v; want ErrInvalid", res, err)
		}
	})

	t.Run("tampered", func(t *testing.T) {
		res, err := (&revocation.Fetcher{Client: k.client}).OCSP(ctx, leaf, k.h.Issuing)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{len(res.Raw) / 3, len(res.Raw) / 2, len(res.Raw) - 20} {
			b := append([]byte(nil), res.Raw...)
			b[i] ^= 0x40
			if _, err := revocation.ParseOCSP(b, leaf, k.h.Issuing); err == nil {
				t.Errorf("ParseOCSP accepted a response with byte %d flipped", i)
			}
		}
	})

	t.Run("stale", func(t *testing.T) {
		later := func() time.Time { return time.Now().Add(30 * 24 * time.Hour) }
		_, err := (&revocation.Fetcher{Client: k.client, Now: later}).OCSP(ctx, leaf, k.h.Issuing)
		if !errors.Is(err, revocation.ErrStale) && !errors.Is(err, revocation.ErrInvalid) {
			t.Errorf("OCSP checked a month later: %v, want ErrStale", err)
		}
		earlier := func() time.Time { return time.Now().Add(-time.Hour) }
		if _, err := (&revocation.Fetcher{Client: k.client, Now: earlier}).OCSP(ctx, leaf, k.h.Issuing); !errors.Is(err, revocation.ErrStale) {
			t.Errorf("OCSP checked an hour ago: %v, want ErrStale", err)
		}
	})

	t.Run("no-url", func(t *testing.T) {
		// The issuing CA's certificate names no responder, only the root's CRL.
		if _, err := (&revocation.Fetcher{Client: k.client}).OCSP(ctx, k.h.Issuing, k.h.Root); !errors.Is(err, revocation.ErrNoURL) {
			t.Errorf("OCSP for the issuing CA: %v, want ErrNoURL", err)
		}
	})
}

func TestCRL(t *testing.T) {
	k := newPKI(t)
	ctx := context.Background()
	f := &revocation.Fetcher{Client: k.client}
	leaf := k.issue(t, "048203000021")

	res, err := f.CRL(ctx, leaf, k.h.Issuing)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != revocation.Good || res.Entry != nil || res.URL != "http://ca.kyso.test/crl/issuing.crl" {
		t.Fatalf("fresh certificate: %v %v from %q", res.Status, res.Entry, res.URL)
	}
	// The issuing CA is checked with the root's CRL.
	if res, err := f.CRL(ctx, k.h.Issuing, k.h.Root); err != nil || res.Status != revocation.Good {
		t.Fatalf("issuing CA on the root's CRL: %v, %v", res, err)
	}

	k.revoke(t, leaf)
	res, err = f.CRL(ctx, leaf, k.h.Issuing)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != revocation.Revoked || res.Entry == nil || res.Entry.ReasonCode != store.ReasonKeyCompromise {
		t.Fatalf("revoked certificate: %v %+v", res.Status, res.Entry)
	}
	if _, err := revocation.ParseCRL(res.Raw, leaf, k.h.Root); !errors.Is(err, revocation.ErrInvalid) {
		t.Errorf("ParseCRL with the root as issuer: %v, want ErrInvalid", err)
	}
	if _, err := (&revocation.Fetcher{Client: k.client, MaxCRLBytes: 100}).CRL(ctx, leaf, k.h.Issuing); !errors.Is(err, revocation.ErrInvalid) || !strings.Contains(err.Error(), "more than 100") && !strings.Contains(err.Error(), "larger than 100") {
		t.Errorf("a CRL over MaxCRLBytes: %v", err)
	}
	later := func() time.Time { return time.Now().Add(30 * 24 * time.Hour) }
	if _, err := (&revocation.Fetcher{Client: k.client, Now: later}).CRL(ctx, leaf, k.h.Issuing); !errors.Is(err, revocation.ErrStale) {
		t.Errorf("CRL checked a month later: %v, want ErrStale", err)
	}
}

// TestURLs: only http and https URLs from a certificate are fetched, and
// redirects cannot lead elsewhere.
func TestURLs(t *testing.T) {
	k := newPKI(t)
	ctx := context.Background()
	leaf := k.issue(t, "048203000031")
	before := k.hits.Load()
	odd := *leaf
	odd.OCSPServer = []string{"ldap://ca.kyso.test/ocsp", "file:///etc/passwd", "ftp://ca.kyso.test/ocsp", "http:///no-host"}
	odd.CRLDistributionPoints = []string{"ldap://ca.kyso.test/cn=issuing?certificateRevocationList", "file:///etc/passwd"}
	f := &revocation.Fetcher{Client: k.client}
	if _, err := f.OCSP(ctx, &odd, k.h.Issuing); !errors.Is(err, revocation.ErrNoURL) {
		t.Errorf("OCSP with only non-HTTP URLs: %v, want ErrNoURL", err)
	}
	if _, err := f.CRL(ctx, &odd, k.h.Issuing); !errors.Is(err, revocation.ErrNoURL) {
		t.Errorf("CRL with only non-HTTP URLs: %v, want ErrNoURL", err)
	}
	if n := k.hits.Load() - before; n != 0 {
		t.Errorf("%d requests were sent", n)
	}

	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}))
	defer redirect.Close()
	f = &revocation.Fetcher{Client: clientFor(redirect)}
	if _, err := f.CRL(ctx, leaf, k.h.Issuing); err == nil || !strings.Contains(err.Error(), "not http or https") {
		t.Errorf("a redirect to file:: %v", err)
	}
	if f.Client.CheckRedirect != nil {
		t.Error("the caller's client was changed")
	}
}

// TestTLSFloor checks the fetcher's own client refuses a responder that
// speaks only TLS 1.1 (Circular 15/2025 Annex I: TLS 1.2 at least).
func TestTLSFloor(t *testing.T) {
	k := newPKI(t)
	ctx := context.Background()
	leaf := k.issue(t, "048203000032")
	srv := testenv.TLS11Server(t)
	old := *leaf
	old.OCSPServer = []string{srv.URL + "/ocsp"}
	old.CRLDistributionPoints = []string{srv.URL + "/issuing.crl"}
	f := &revocation.Fetcher{}
	if _, err := f.OCSP(ctx, &old, k.h.Issuing); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("OCSP from a TLS 1.1 responder: %v; want a protocol version error", err)
	}
	if _, err := f.CRL(ctx, &old, k.h.Issuing); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("CRL from a TLS 1.1 server: %v; want a protocol version error", err)
	}
}
