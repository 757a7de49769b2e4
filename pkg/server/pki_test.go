package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// setup makes a CA on SQLite and softkey, and returns it with its store and
// key store so that a second Authority (another process) can share them.
func setup(t testing.TB) (*ca.Authority, store.Store, hsm.KeyStore) {
	t.Helper()
	p, err := catest.New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.CA, p.Store, p.Keys
}

func issue(t *testing.T, a *ca.Authority, cccd string) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	c, err := a.IssueCitizen(context.Background(), &ca.CitizenRequest{Name: "Lê Thị Hoa", CCCD: cccd, Province: "Hà Nội", Key: ca.KeySource{CSR: csr}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ocspGET(t *testing.T, base string, req []byte) *http.Response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/ocsp/" + base64.StdEncoding.EncodeToString(req))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ocspStatus asks the responder at base about leaf by GET and returns the
// status x/crypto/ocsp reads from its signed answer.
func ocspStatus(t *testing.T, base string, req []byte, leaf, issuer *x509.Certificate) int {
	t.Helper()
	resp := ocspGET(t, base, req)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r, err := xocsp.ParseResponseForCert(body, leaf, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

func TestPKIRoutes(t *testing.T) {
	ctx := context.Background()
	a, st, ks := setup(t)
	p, err := NewPKI(ctx, a, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	h, _ := a.Hierarchy(ctx)
	leaf := issue(t, a, "001203000001")

	t.Run("ca-and-crl", func(t *testing.T) {
		for path, ctype := range map[string]string{"/ca/root.crt": "application/pkix-cert", "/ca/issuing.crt": "application/pkix-cert", "/crl/issuing.crl": "application/pkix-crl", "/crl/root.crl": "application/pkix-crl"} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
				t.Fatalf("GET %s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if strings.HasSuffix(path, ".crl") {
				rl, err := x509.ParseRevocationList(body)
				if err != nil {
					t.Fatal(err)
				}
				issuer := h.Issuing
				if strings.Contains(path, "root") {
					issuer = h.Root
				}
				if err := rl.CheckSignatureFrom(issuer); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
		}
		if !bytes.Equal(mustGet(t, srv.URL+"/ca/issuing.crt"), h.Issuing.Raw) {
			t.Error("/ca/issuing.crt is not the issuing CA")
		}
	})

	t.Run("ocsp-get-with-slashes", func(t *testing.T) {
		// Find a request whose base64 holds "//", which http.ServeMux
		// would clean and redirect.
		var req []byte
		for i := int64(1); i < 100000 && req == nil; i++ {
			r, _ := xocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(i)}, h.Issuing, &xocsp.RequestOptions{Hash: crypto.SHA1})
			if strings.Contains(base64.StdEncoding.EncodeToString(r), "//") {
				req = r
			}
		}
		if req == nil {
			t.Fatal("no request with // in its base64")
		}
		resp := ocspGET(t, srv.URL, req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET with // = %d", resp.StatusCode)
		}
		r, err := xocsp.ParseResponse(body, h.Issuing)
		if err != nil || r.Status != xocsp.Unknown {
			t.Fatalf("never-issued serial: %v, status %v", err, r)
		}
	})

	t.Run("revocation-by-another-process", func(t *testing.T) {
		req, _ := xocsp.CreateRequest(leaf, h.Issuing, &xocsp.RequestOptions{Hash: crypto.SHA1})
		status := func() int { return ocspStatus(t, srv.URL, req, leaf, h.Issuing) }
		if s := status(); s != xocsp.Good {
			t.Fatalf("status = %d, want good", s)
		}
		// Another replica (another Authority on the same database) revokes.
		other, err := ca.New(st, ks, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Revoke(ctx, leaf.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if s := status(); s != xocsp.Good {
			t.Fatalf("status before Tick = %d; the cached response should still be served", s)
		}
		if err := p.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if s := status(); s != xocsp.Revoked {
			t.Fatalf("status after Tick = %d, want revoked", s)
		}
	})

	t.Run("tsa", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(h.Root)
		var last *big.Int
		for i := 0; i < 3; i++ {
			d := sha256.Sum256([]byte{byte(i)})
			tok, err := tsa.Request(ctx, srv.URL+"/tsa", d[:], crypto.SHA256, &tsa.ClientOptions{Roots: roots})
			if err != nil {
				t.Fatalf("time-stamp %d: %v", i, err)
			}
			if last != nil && tok.Serial.Cmp(last) <= 0 {
				t.Fatalf("serial %v after %v", tok.Serial, last)
			}
			last = tok.Serial
		}
		// The serials come from the database, so a second responder on the
		// same database (another replica) continues the sequence.
		p2, err := NewPKI(ctx, a, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv2 := httptest.NewServer(p2)
		defer srv2.Close()
		d := sha256.Sum256([]byte("replica"))
		tok, err := tsa.Request(ctx, srv2.URL+"/tsa", d[:], crypto.SHA256, &tsa.ClientOptions{Roots: roots})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Serial.Cmp(last) <= 0 {
			t.Fatalf("second replica gave serial %v after %v", tok.Serial, last)
		}
		resp, err := http.Get(srv.URL + "/tsa")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET /tsa = %d, want 405", resp.StatusCode)
		}
	})

	t.Run("not-found", func(t *testing.T) {
		for _, path := range []string{"/ca/x.crt", "/crl/x.crl", "/ca/root.pem", "/nothing"} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("GET %s = %d", path, resp.StatusCode)
			}
		}
	})
}

func mustGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// TestTickListsRevocationsWithoutCRL: a revocation recorded by a process
// that stopped before it stored the new CRL (kill -9 during CRL
// generation: the revocation and its audit event written, no CRL) is in
// the CRL the next Tick makes, though the latest CRL has half its life
// left.
func TestTickListsRevocationsWithoutCRL(t *testing.T) {
	ctx := context.Background()
	a, st, _ := setup(t)
	p, err := NewPKI(ctx, a, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.GenerateCRL(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := st.LatestCRL(ctx, ca.IssuingName, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := issue(t, a, "079203001999")
	// What ca.Revoke writes before it makes the CRL, as it writes it.
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.Revoke(ctx, &store.Revocation{Issuer: ca.IssuingName, Serial: leaf.SerialNumber.Bytes(), Reason: store.ReasonKeyCompromise, RevokedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(ctx, &store.AuditEvent{Time: time.Now(), Actor: "test", Action: ca.ActionRevoke,
		Subject: ca.IssuingName + "/" + ca.FormatSerial(leaf.SerialNumber.Bytes()), Outcome: "ok", Details: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := st.LatestCRL(ctx, ca.IssuingName, 0)
	if err != nil {
		t.Fatal(err)
	}
	if after.Number <= before.Number {
		t.Fatalf("no new CRL: number %d, before %d", after.Number, before.Number)
	}
	crl, err := x509.ParseRevocationList(after.DER)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, e := range crl.RevokedCertificateEntries {
		listed = listed || e.SerialNumber.Cmp(leaf.SerialNumber) == 0
	}
	if !listed {
		t.Error("the revoked certificate is not in the new CRL")
	}
	// Nothing revoked since: the next Tick makes no CRL.
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.LatestCRL(ctx, ca.IssuingName, 0); again.Number != after.Number {
		t.Errorf("a Tick with nothing new made CRL %d after %d", again.Number, after.Number)
	}
}

// TestCRLBatch: with ca.Options.CRLBatch a suspension waits for the next
// scheduled CRL — the tick makes none before the batch has passed, one
// after — while a key compromise makes one at once; and every new CRL
// prunes the CA's history to CRLHistory.
func TestCRLBatch(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	_, a, p := clockedPKI(t, &now, &ca.Options{CRLBatch: time.Minute})
	st := p.st
	latest := func() *store.CRL {
		t.Helper()
		c, err := st.LatestCRL(ctx, ca.IssuingName, 0)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lists := func(c *store.CRL, serial *big.Int) bool {
		crl, err := x509.ParseRevocationList(c.DER)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(serial) == 0 {
				return true
			}
		}
		return false
	}
	if _, err := a.GenerateCRL(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	first := latest()
	held := issue(t, a, "079203002001")
	if err := a.Suspend(ctx, held.SerialNumber.Bytes(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c := latest(); c.Number != first.Number {
		t.Fatalf("a suspension made CRL %d at once; it should wait for the batch", c.Number)
	}
	now = now.Add(30 * time.Second)
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if c := latest(); c.Number != first.Number {
		t.Fatalf("the tick made CRL %d before the batch had passed", c.Number)
	}
	now = now.Add(31 * time.Second)
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	batched := latest()
	if batched.Number == first.Number || !lists(batched, held.SerialNumber) {
		t.Fatalf("after the batch: CRL %d, listing the suspension %v", batched.Number, lists(batched, held.SerialNumber))
	}
	compromised := issue(t, a, "079203002002")
	if err := a.Revoke(ctx, compromised.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c := latest(); c.Number == batched.Number || !lists(c, compromised.SerialNumber) {
		t.Fatalf("a key compromise waited for the batch: CRL %d", c.Number)
	}
	// History: many CRLs later, CRLHistory remain.
	for range CRLHistory + 4 {
		now = now.Add(61 * time.Second)
		c := issue(t, a, fmt.Sprintf("07920300%04d", 3000+int(now.Unix()%1000)))
		if err := a.Suspend(ctx, c.SerialNumber.Bytes(), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.PruneCRLs(ctx, ca.IssuingName, 0, CRLHistory); err != nil || n != 0 {
		t.Errorf("after the ticks, PruneCRLs found %d more to prune (%v): the ticks keep only %d", n, err, CRLHistory)
	}
}

// auditCounter is a Store that counts the audit events ListAudit returns
// from before a point (events the process started after).
type auditCounter struct {
	store.Store
	before int64
	old    atomic.Int64
}

func (c *auditCounter) ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error) {
	evs, err := c.Store.ListAudit(ctx, after, limit)
	for _, e := range evs {
		if e.ID <= c.before {
			c.old.Add(1)
		}
	}
	return evs, err
}

// TestStartReadsNoAuditTrail: a PKI starting over a long audit trail
// reads none of it (it finds the end by the chain's head, one indexed
// read), and its maintenance then reads only what was written after:
// start-up costs the same at 10⁷ events as at 10. A revocation written
// after the start is still seen and its cached OCSP answer dropped.
func TestStartReadsNoAuditTrail(t *testing.T) {
	ctx := context.Background()
	a, st, _ := setup(t)
	leaf := issue(t, a, "001203000077")
	var batch []*store.AuditEvent
	for i := range 5000 {
		batch = append(batch, &store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: fmt.Sprintf("cred-%d", i),
			Outcome: "intent", Details: []byte(fmt.Sprintf(`{"owner":"own-%d"}`, i))})
	}
	if err := st.AppendAudit(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	head, _, err := st.AuditHead(ctx)
	if err != nil || head < 5000 {
		t.Fatalf("AuditHead = %d, %v; want at least 5000 events", head, err)
	}
	c := &auditCounter{Store: st, before: head}
	p, err := NewPKI(ctx, a, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.old.Load(); n != 0 {
		t.Errorf("NewPKI read %d audit events from before its start, want 0", n)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	h, _ := a.Hierarchy(ctx)
	req, err := xocsp.CreateRequest(leaf, h.Issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	status := func() int { return ocspStatus(t, srv.URL, req, leaf, h.Issuing) }
	if got := status(); got != xocsp.Good {
		t.Fatalf("status before revocation = %d, want good", got)
	}
	if err := a.Revoke(ctx, leaf.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.old.Load(); n != 0 {
		t.Errorf("Tick read %d audit events from before the start, want 0", n)
	}
	if got := status(); got != xocsp.Revoked {
		t.Errorf("status after a revocation tailed from the log = %d, want revoked", got)
	}
}
