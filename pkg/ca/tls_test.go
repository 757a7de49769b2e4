package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestIssueTLSServer: the daemon's HTTPS certificate comes from its own CA;
// a client trusting the root connects, and openssl agrees it is a server
// certificate.
func TestIssueTLSServer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	c, err := f.a.IssueTLSServer(ctx, &TLSServerRequest{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyLabel: "kysod-tls-1", KeyAlgorithm: hsm.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.a.Certificate(ctx, c.SerialNumber.Bytes())
	if err != nil || rec.Profile != ProfileTLS || rec.KeyURI == "" {
		t.Fatalf("stored as %+v, %v", rec, err)
	}
	signer, err := f.ks.Signer(ctx, &hsm.SignerRequest{Label: "kysod-tls-1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{c.Raw, f.h.Issuing.Raw}, PrivateKey: signer}}}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(f.h.Root)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		url := strings.Replace(srv.URL, "127.0.0.1", host, 1)
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s trusting only the provider's root: %v", url, err)
		}
		resp.Body.Close()
	}

	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	writePEM(t, dir, "root.pem", f.h.Root.Raw)
	writePEM(t, dir, "issuing.pem", f.h.Issuing.Raw)
	writePEM(t, dir, "tls.pem", c.Raw)
	if out := runOpenSSL(t, bin, dir, "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "-purpose", "sslserver", "-verify_hostname", "localhost", "tls.pem"); strings.TrimSpace(out) != "tls.pem: OK" {
		t.Fatalf("openssl verify -purpose sslserver: %s", out)
	}

	// The same key is certified once (Decree 23/2025), and names are checked.
	if _, err := f.a.IssueTLSServer(ctx, &TLSServerRequest{DNSNames: []string{"localhost"}, KeyLabel: "kysod-tls-1"}); !errors.Is(err, ErrKeyAlreadyCertified) {
		t.Errorf("same key again: %v", err)
	}
	for _, bad := range []*TLSServerRequest{
		{KeyLabel: "x", KeyAlgorithm: hsm.ECDSAP256},
		{DNSNames: []string{"a b"}, KeyLabel: "y", KeyAlgorithm: hsm.ECDSAP256},
		{DNSNames: []string{"ok.test"}, KeyLabel: "z", KeyAlgorithm: hsm.ECDSAP256, Validity: MaxTLSValidity * 2},
	} {
		if _, err := f.a.IssueTLSServer(ctx, bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: err = %v, want ErrInvalidRequest", bad, err)
		}
	}
}
