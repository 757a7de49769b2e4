package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// testPKI is a throwaway hierarchy: a P-384 root, a P-256 delegated OCSP
// responder, and two P-256 leaves, with PEM files in a temporary directory.
type testPKI struct {
	dir                  string
	root, ocsp           *x509.Certificate
	rootKey, ocspKey     crypto.Signer
	good, revoked        *x509.Certificate
	rootPEM, ocspPEM     string
	ocspKeyPEM           string
	goodPEM, revokedPEM  string
	notBefore, ocspUntil time.Time
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	now := time.Now().Truncate(time.Second)
	p.notBefore = now.Add(-time.Hour)
	p.ocspUntil = now.Add(30 * 24 * time.Hour)

	rootKey := mustKey(t, elliptic.P384())
	p.rootKey = rootKey
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Country: []string{"VN"}, Organization: []string{"kyso test"}, CommonName: "kyso test root"},
		NotBefore:             p.notBefore,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	p.root = mustCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)

	ocspKey := mustKey(t, elliptic.P256())
	p.ocspKey = ocspKey
	nullDER, _ := asn1.Marshal(asn1.NullRawValue)
	p.ocsp = mustCert(t, &x509.Certificate{
		SerialNumber:    big.NewInt(2),
		Subject:         pkix.Name{Country: []string{"VN"}, Organization: []string{"kyso test"}, CommonName: "kyso test OCSP responder"},
		NotBefore:       p.notBefore,
		NotAfter:        p.ocspUntil,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: nullDER}},
	}, p.root, ocspKey.Public(), rootKey)

	leaf := func(serial int64, cn string) *x509.Certificate {
		k := mustKey(t, elliptic.P256())
		return mustCert(t, &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{Country: []string{"VN"}, CommonName: cn},
			NotBefore:    p.notBefore,
			NotAfter:     now.Add(365 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			OCSPServer:   []string{"http://ocsp.invalid/"},
		}, p.root, k.Public(), rootKey)
	}
	p.good = leaf(0x1001, "Nguyen Van A")
	p.revoked = leaf(0x1002, "Tran Thi B")

	p.rootPEM = p.writePEM(t, "root.pem", "CERTIFICATE", p.root.Raw)
	p.ocspPEM = p.writePEM(t, "ocsp.pem", "CERTIFICATE", p.ocsp.Raw)
	p.goodPEM = p.writePEM(t, "good.pem", "CERTIFICATE", p.good.Raw)
	p.revokedPEM = p.writePEM(t, "revoked.pem", "CERTIFICATE", p.revoked.Raw)
	keyDER, err := x509.MarshalPKCS8PrivateKey(ocspKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ocspKeyPEM = p.writePEM(t, "ocsp.key", "PRIVATE KEY", keyDER)
	return p
}

func (p *testPKI) writePEM(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mapSource is a Source backed by a map; serials not in it are unknown.
type mapSource struct {
	mu    sync.Mutex
	m     map[string]Status
	err   error
	calls atomic.Int64
	// gate, when set, blocks every lookup until it is closed.
	gate chan struct{}
}

func newMapSource(known ...*x509.Certificate) *mapSource {
	s := &mapSource{m: make(map[string]Status)}
	for _, c := range known {
		s.m[c.SerialNumber.String()] = Status{Known: true}
	}
	return s
}

func (s *mapSource) Status(ctx context.Context, serial *big.Int) (Status, error) {
	s.calls.Add(1)
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Status{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Status{}, s.err
	}
	return s.m[serial.String()], nil
}

func (s *mapSource) set(serial *big.Int, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[serial.String()] = st
}

func (s *mapSource) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

var errDatabaseDown = errors.New("database is down")

// countingSigner counts signatures made through it.
type countingSigner struct {
	crypto.Signer
	n atomic.Int64
	// err, when set, is every signature's failure.
	err atomic.Pointer[error]
}

func (c *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	if err := c.err.Load(); err != nil {
		return nil, *err
	}
	return c.Signer.Sign(r, digest, opts)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ellipticP256() elliptic.Curve { return elliptic.P256() }

// slogTo logs into buf, guarded by mu.
func slogTo(mu *sync.Mutex, buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, buf}, nil))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// lockedBuffer is a bytes.Buffer safe for a process's stdout and stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func b64url(der []byte) string { return url.PathEscape(base64.StdEncoding.EncodeToString(der)) }

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestPKIFrom copies p's certificates into a fresh directory, so a second
// openssl responder gets its own index.txt.
func newTestPKIFrom(t testing.TB, p *testPKI) *testPKI {
	t.Helper()
	q := *p
	q.dir = t.TempDir()
	q.rootPEM = q.writePEM(t, "root.pem", "CERTIFICATE", p.root.Raw)
	q.ocspPEM = q.writePEM(t, "ocsp.pem", "CERTIFICATE", p.ocsp.Raw)
	q.goodPEM = q.writePEM(t, "good.pem", "CERTIFICATE", p.good.Raw)
	q.revokedPEM = q.writePEM(t, "revoked.pem", "CERTIFICATE", p.revoked.Raw)
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.ocspKey)
	if err != nil {
		t.Fatal(err)
	}
	q.ocspKeyPEM = q.writePEM(t, "ocsp.key", "PRIVATE KEY", keyDER)
	return &q
}
