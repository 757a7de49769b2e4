package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/ocsp"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
)

// pssParams is RSASSA-PSS-params for SHA-256 as kyso and crypto/x509 write
// them; saltAt is the offset of the salt length's value in it.
var pssParams = []byte{
	0x30, 0x34,
	0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
	0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	0xa2, 0x03, 0x02, 0x01, 0x20,
}

const saltAt = 53

// TestOCSPRSAPSS has an RSA-2048 hierarchy (catest, every key RSA) serve
// OCSP through pkg/server: RSASSA-PSS by default, which ParseOCSP
// verifies and openssl too ("Response verify OK"), and PKCS#1 v1.5 under
// PKIOptions.OCSPRSAPKCS1v15. A PSS response with a flipped signature
// bit, other parameters than it says, or signed by the issuing CA itself
// is checked as strictly as one x/crypto/ocsp verifies.
func TestOCSPRSAPSS(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx := context.Background()
	dir := t.TempDir()
	p, err := catest.NewInit(ctx, dir, &ca.InitRequest{CAAlgorithm: hsm.RSA2048, Algorithm: hsm.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := p.Hierarchy
	for _, c := range []*x509.Certificate{h.Issuing, h.OCSP} {
		if c.SignatureAlgorithm != x509.SHA256WithRSAPSS || c.PublicKeyAlgorithm != x509.RSA {
			t.Fatalf("%s: %v key signed with %v, want RSA signed with RSASSA-PSS", c.Subject, c.PublicKeyAlgorithm, c.SignatureAlgorithm)
		}
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	leaf, err := p.CA.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Trần Thị Mai", CCCD: "048203000021", Province: "Đà Nẵng", Key: ca.KeySource{CSR: csr}})
	if err != nil {
		t.Fatal(err)
	}
	writePEM := func(name string, c *x509.Certificate) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rootPEM, issuingPEM, leafPEM := writePEM("root.pem", h.Root), writePEM("issuing.pem", h.Issuing), writePEM("leaf.pem", leaf)
	// opensslVerify has openssl check der as a relying party would: the
	// responder's certificate, carried in the response, chained through
	// the issuing CA to the root. It returns stdout (the status, the
	// response as text) and stderr, where alone openssl says whether the
	// response verified ("Response verify OK").
	opensslVerify := func(t *testing.T, der []byte) (string, string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "resp.der")
		if err := os.WriteFile(path, der, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, _ := testenv.Run(exec.Command(openssl, "ocsp", "-respin", path, "-issuer", issuingPEM, "-verify_other", issuingPEM,
			"-CAfile", rootPEM, "-cert", leafPEM, "-no_nonce", "-resp_text"))
		return out, errOut
	}

	for _, tc := range []struct {
		name    string
		legacy  bool
		want    x509.SignatureAlgorithm
		openssl string
	}{
		{"pss", false, x509.SHA256WithRSAPSS, "Signature Algorithm: rsassaPss"},
		{"pkcs1v15", true, x509.SHA256WithRSA, "Signature Algorithm: sha256WithRSAEncryption"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := servertest.ServeOptions(ctx, p, &server.PKIOptions{OCSPRSAPKCS1v15: tc.legacy})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			res, err := (&revocation.Fetcher{Client: srv.Client}).OCSP(ctx, leaf, h.Issuing)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != revocation.Good || res.Response.SignatureAlgorithm != tc.want || !res.Responder.Equal(h.OCSP) {
				t.Fatalf("status %v, signature %v by %v; want good, %v by %v", res.Status, res.Response.SignatureAlgorithm, res.Responder.Subject, tc.want, h.OCSP.Subject)
			}
			out, verified := opensslVerify(t, res.Raw)
			if !strings.Contains(verified, "Response verify OK") {
				t.Errorf("openssl ocsp does not verify the response:\n%s\nstderr: %s", out, verified)
			}
			for _, w := range []string{leafPEM + ": good", tc.openssl} {
				if !strings.Contains(out, w) {
					t.Errorf("openssl ocsp lacks %q:\n%s", w, out)
				}
			}
			if tc.legacy {
				return
			}

			i := bytes.Index(res.Raw, pssParams) // the response's, before the certificate's
			if i < 0 {
				t.Fatalf("no RSASSA-PSS-params for SHA-256 in the response")
			}
			bad := func(name string, edit func(der []byte), want string) {
				t.Run(name, func(t *testing.T) {
					der := bytes.Clone(res.Raw)
					edit(der)
					_, err := revocation.ParseOCSP(der, leaf, h.Issuing)
					if !errors.Is(err, revocation.ErrInvalid) || !strings.Contains(err.Error(), want) {
						t.Errorf("ParseOCSP: %v; want ErrInvalid saying %q", err, want)
					}
					if out, verified := opensslVerify(t, der); strings.Contains(verified, "Response verify OK") {
						t.Errorf("openssl accepts it:\n%s\nstderr: %s", out, verified)
					}
				})
			}
			bad("salt 20", func(der []byte) { der[i+saltAt] = 20 }, "RSASSA-PSS parameters")
			bad("flipped bit", func(der []byte) { der[i+len(pssParams)+40] ^= 1 }, "signature")
		})
	}

	t.Run("issuing CA signs", func(t *testing.T) {
		key, err := p.Keys.Signer(ctx, &hsm.SignerRequest{Label: ca.IssuingKeyLabel})
		if err != nil {
			t.Fatal(err)
		}
		r, err := ocsp.New(ocsp.Config{Issuer: h.Issuing, Signer: key, Source: goodSource{}})
		if err != nil {
			t.Fatal(err)
		}
		req, err := xocsp.CreateRequest(leaf, h.Issuing, &xocsp.RequestOptions{Hash: crypto.SHA1})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		hr := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(req))
		hr.Header.Set("Content-Type", "application/ocsp-request")
		r.ServeHTTP(w, hr)
		res, err := revocation.ParseOCSP(w.Body.Bytes(), leaf, h.Issuing)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != revocation.Good || res.Response.SignatureAlgorithm != x509.SHA256WithRSAPSS || !res.Responder.Equal(h.Issuing) {
			t.Errorf("status %v, signature %v by %v", res.Status, res.Response.SignatureAlgorithm, res.Responder.Subject)
		}
		der := bytes.Clone(w.Body.Bytes())
		der[len(der)-10] ^= 1 // the signature ends the response
		if _, err := revocation.ParseOCSP(der, leaf, h.Issuing); !errors.Is(err, revocation.ErrInvalid) || !strings.Contains(err.Error(), "signature") {
			t.Errorf("ParseOCSP of a flipped bit: %v", err)
		}
		if _, err := revocation.ParseOCSP(w.Body.Bytes(), leaf, h.Root); err == nil {
			t.Error("ParseOCSP accepts the response as the root's")
		}
	})
}

// goodSource says every serial is good.
type goodSource struct{}

func (goodSource) Status(context.Context, *big.Int) (ocsp.Status, error) {
	return ocsp.Status{Known: true}, nil
}
