package signercheck_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/store"
)

func newPKI(t *testing.T) (*catest.PKI, *servertest.Served) {
	t.Helper()
	ctx := context.Background()
	p, err := catest.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv, err := servertest.Serve(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return p, srv
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	p, srv := newPKI(t)
	other, _ := newPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.Hierarchy.Root)
	cfg := &signercheck.Config{Roots: roots, Revocation: &revocation.Fetcher{Client: srv.Client}}
	chain := []*x509.Certificate{p.Hierarchy.Issuing}

	good, _, err := p.Citizen(ctx, "good", hsm.ECDSAP256, "079203000001")
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := p.Expired(ctx, "expired", hsm.ECDSAP256, "079203000002")
	if err != nil {
		t.Fatal(err)
	}
	revoked, _, err := p.Revoked(ctx, "revoked", hsm.ECDSAP256, "079203000003", store.ReasonKeyCompromise)
	if err != nil {
		t.Fatal(err)
	}
	held, _, err := p.Revoked(ctx, "held", hsm.ECDSAP256, "079203000004", store.ReasonCertificateHold)
	if err != nil {
		t.Fatal(err)
	}
	weak, _, err := p.WeakKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := other.Citizen(ctx, "stranger", hsm.ECDSAP256, "079203000005")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		chain  []*x509.Certificate
		code   signercheck.Code
		vi, en string
	}{
		{"expired", expired, chain, signercheck.CodeExpired, "chứng thư số đã hết hạn", "certificate expired"},
		{"revoked", revoked, chain, signercheck.CodeRevoked, "chứng thư số đã bị thu hồi", "certificate revoked"},
		{"suspended", held, chain, signercheck.CodeSuspended, "chứng thư số đang bị tạm dừng", "certificate suspended"},
		{"untrusted", stranger, []*x509.Certificate{other.Hierarchy.Issuing}, signercheck.CodeUntrusted, "không có đường tin cậy", "no trust path"},
		{"weak key", weak, chain, signercheck.CodeWeakKey, "khóa của chứng thư số Khóa Yếu quá yếu: RSA 1024 bit", "key of Khóa Yếu too weak: RSA 1024 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := signercheck.Check(ctx, tc.cert, tc.chain, cfg)
			if err == nil {
				t.Fatalf("Check passed (%d statuses), want a refusal %s", len(res.Statuses), tc.code)
			}
			var e *signercheck.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("Check: %v, want code %s", err, tc.code)
			}
			if !errors.Is(err, &signercheck.Error{Code: tc.code}) {
				t.Errorf("errors.Is does not match code %s", tc.code)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.vi) || !strings.Contains(msg, "("+tc.en) {
				t.Errorf("Error() = %q, want it to start with %q and carry (%s…)", msg, tc.vi, tc.en)
			}
		})
	}

	t.Run("good", func(t *testing.T) {
		res, err := signercheck.Check(ctx, good, chain, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chain) != 3 || !res.Chain[2].Equal(p.Hierarchy.Root) {
			t.Fatalf("chain of %d, want leaf, issuing, root", len(res.Chain))
		}
		if len(res.Statuses) != 2 || res.Statuses[0].OCSP == nil {
			t.Fatalf("statuses %+v, want an OCSP answer for the signer and one for the issuing CA", res.Statuses)
		}
		// openssl, not kyso, reads the OCSP response the check used.
		dir := t.TempDir()
		write := func(name string, b []byte) string {
			f := filepath.Join(dir, name)
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return f
		}
		resp := write("resp.der", res.Statuses[0].OCSP.Raw)
		pemOf := func(c *x509.Certificate) []byte {
			return []byte("-----BEGIN CERTIFICATE-----\n" + b64(c.Raw) + "-----END CERTIFICATE-----\n")
		}
		openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
		// The status is on stdout; "Response verify OK" on stderr alone.
		out, verified, err := testenv.Run(exec.Command(openssl, "ocsp", "-respin", resp, "-issuer", write("iss.pem", pemOf(p.Hierarchy.Issuing)),
			"-cert", write("leaf.pem", pemOf(good)), "-CAfile", write("root.pem", pemOf(p.Hierarchy.Root)),
			"-verify_other", write("iss2.pem", pemOf(p.Hierarchy.Issuing))))
		if err != nil || !strings.Contains(out, ": good") || !strings.Contains(verified, "Response verify OK") {
			t.Fatalf("openssl ocsp: %v\n%s\nstderr: %s", err, out, verified)
		}
		// The evidence answers again without asking the network.
		src := res.Source(nil)
		o, err := src.OCSP(ctx, good, p.Hierarchy.Issuing)
		if err != nil || o != res.Statuses[0].OCSP {
			t.Errorf("Source().OCSP = %v, %v; want the check's own answer", o, err)
		}
	})

	t.Run("status unknown", func(t *testing.T) {
		c := *cfg
		c.Revocation = &revocation.Fetcher{Client: servertest.ClientFor(closedServer(t))}
		_, err := signercheck.Check(ctx, good, chain, &c)
		var e *signercheck.Error
		if !errors.As(err, &e) || e.Code != signercheck.CodeStatusUnknown || !strings.HasPrefix(err.Error(), "không kiểm tra được trạng thái chứng thư số") {
			t.Fatalf("Check with no responder: %v, want status-unknown", err)
		}
	})

	t.Run("no config", func(t *testing.T) {
		if _, err := signercheck.Check(ctx, good, chain, nil); !errors.Is(err, signercheck.ErrNoConfig) {
			t.Fatalf("Check(nil config) = %v, want ErrNoConfig", err)
		}
	})
}

func b64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 64 {
		out.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	out.WriteString(s + "\n")
	return out.String()
}

// closedServer is an HTTP server that is already shut: every fetch fails.
func closedServer(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close()
	return ts
}
