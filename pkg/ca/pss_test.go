package ca

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestRSAPSS checks an RSA hierarchy signs certificates and CRLs with
// RSASSA-PSS by default (Circular 15/2025 Annex I), with PKCS#1 v1.5 only
// when configured, and has openssl verify the chain and the CRL in each
// case; zlint passed each before it was signed.
func TestRSAPSS(t *testing.T) {
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		legacy  bool
		alg     x509.SignatureAlgorithm
		openssl string
		crlAlgo x509.SignatureAlgorithm
	}{
		{"pss", false, x509.SHA256WithRSAPSS, "rsassaPss", x509.SHA256WithRSAPSS},
		{"pkcs1v15", true, x509.SHA256WithRSA, "sha256WithRSAEncryption", x509.SHA256WithRSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newSQLite(t)
			a, err := New(st, newKeyStore(t), &Options{BaseURL: "http://ca.kyso.test", RSAPKCS1v15: tc.legacy})
			if err != nil {
				t.Fatal(err)
			}
			h, err := a.Init(ctx, &InitRequest{Name: "Kyso RSA", CAAlgorithm: hsm.RSA2048})
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*x509.Certificate{h.Root, h.Issuing, h.OCSP, h.TSA, leaf} {
				if c.SignatureAlgorithm != tc.alg {
					t.Errorf("%s signed with %v, want %v", c.Subject.CommonName, c.SignatureAlgorithm, tc.alg)
				}
			}
			if err := a.Revoke(ctx, leaf.SerialNumber.Bytes(), store.ReasonKeyCompromise, a.now().Add(-1e9)); err != nil {
				t.Fatal(err)
			}
			crl, err := st.LatestCRL(ctx, IssuingName, 0)
			if err != nil {
				t.Fatal(err)
			}
			rl, err := x509.ParseRevocationList(crl.DER)
			if err != nil || rl.SignatureAlgorithm != tc.crlAlgo {
				t.Fatalf("CRL signature algorithm %v (%v), want %v", rl.SignatureAlgorithm, err, tc.crlAlgo)
			}

			dir := t.TempDir()
			writePEM(t, dir, "root.pem", h.Root.Raw)
			writePEM(t, dir, "issuing.pem", h.Issuing.Raw)
			writePEM(t, dir, "leaf.pem", leaf.Raw)
			if out := runOpenSSL(t, bin, dir, "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "-purpose", "any", "leaf.pem"); strings.TrimSpace(out) != "leaf.pem: OK" {
				t.Errorf("openssl verify: %q", out)
			}
			if out := runOpenSSL(t, bin, dir, "x509", "-in", "issuing.pem", "-noout", "-text"); !strings.Contains(out, "Signature Algorithm: "+tc.openssl) {
				t.Errorf("openssl x509 does not show %s:\n%s", tc.openssl, out)
			}
			if err := os.WriteFile(filepath.Join(dir, "issuing.crl"), crl.DER, 0o600); err != nil {
				t.Fatal(err)
			}
			out, verified := runOpenSSLStreams(t, bin, dir, "crl", "-inform", "DER", "-in", "issuing.crl", "-CAfile", "issuing.pem", "-noout", "-text")
			if !strings.Contains(verified, "verify OK") || !strings.Contains(out, "Signature Algorithm: "+tc.openssl) || !strings.Contains(out, "Key Compromise") {
				t.Errorf("openssl crl:\n%s\nstderr: %s", out, verified)
			}
		})
	}
}
