package tsa

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
)

// pki is a throwaway hierarchy made by pkg/ca on SQLite and softkey: root,
// issuing CA and TSA certificate, with PEM files for openssl.
type pki struct {
	dir                         string
	root, issuing, tsa          *x509.Certificate
	chain                       []*x509.Certificate // issuing, root
	signer                      crypto.Signer
	roots, inter                *x509.CertPool
	rootPEM, issuingPEM, tsaPEM string
	chainPEM                    string
}

func newPKI(t testing.TB, alg hsm.Algorithm) *pki {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	tp, err := catest.NewInit(ctx, dir, &ca.InitRequest{Algorithm: alg})
	if err != nil {
		t.Fatalf("test PKI: %v", err)
	}
	t.Cleanup(func() { tp.Close() })
	a, h := tp.CA, tp.Hierarchy
	cert, signer, err := a.TSASigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := a.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: dir, root: h.Root, issuing: h.Issuing, tsa: cert, chain: chain, signer: signer,
		roots: x509.NewCertPool(), inter: x509.NewCertPool()}
	p.roots.AddCert(h.Root)
	p.inter.AddCert(h.Issuing)
	p.rootPEM = writePEM(t, dir, "root.pem", h.Root)
	p.issuingPEM = writePEM(t, dir, "issuing.pem", h.Issuing)
	p.tsaPEM = writePEM(t, dir, "tsa.pem", cert)
	p.chainPEM = writePEM(t, dir, "chain.pem", h.Issuing, h.Root)
	return p
}

func writePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// server returns a Server over p with cfg's other fields, and an httptest
// server in front of it.
func (p *pki) server(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.Certificate, cfg.Chain, cfg.Signer = p.tsa, p.chain, p.signer
	if cfg.Policy == nil {
		cfg.Policy = PlaceholderPolicy
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

func (p *pki) clientOptions() *ClientOptions {
	return &ClientOptions{Roots: p.roots, Intermediates: p.inter}
}
