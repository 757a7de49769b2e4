package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

func TestDevelopmentBaseURL(t *testing.T) {
	for _, c := range []struct {
		name, addr, want string
	}{
		{"loopback", "127.0.0.1:9080", "http://127.0.0.1:9080"},
		{"all IPv4", "0.0.0.0:9080", "http://127.0.0.1:9080"},
		{"all IPv6", "[::]:9080", "http://127.0.0.1:9080"},
		{"empty host", ":9080", "http://127.0.0.1:9080"},
		{"IPv6 loopback", "[::1]:9080", "http://[::1]:9080"},
		{"named host", "ca.example.vn:80", "http://ca.example.vn:80"},
		{"no port", "127.0.0.1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := developmentBaseURL(c.addr); got != c.want {
				t.Errorf("developmentBaseURL(%q) = %q, want %q", c.addr, got, c.want)
			}
		})
	}
}

func TestServesBaseURL(t *testing.T) {
	for _, c := range []struct {
		name, base, addr string
		want             bool
	}{
		{"same address", "http://127.0.0.1:9080", "127.0.0.1:9080", true},
		{"localhost", "http://localhost:9080", "127.0.0.1:9080", true},
		{"all interfaces", "http://127.0.0.1:9080", "0.0.0.0:9080", true},
		{"other port", "http://127.0.0.1:8080", "127.0.0.1:9080", false},
		{"default port", "http://127.0.0.1", "127.0.0.1:9080", false},
		{"default port served", "http://127.0.0.1", "127.0.0.1:80", true},
		{"listener not on loopback", "http://127.0.0.1:9080", "192.0.2.7:9080", false},
		{"published name", "http://ca.example.vn", "127.0.0.1:9080", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := servesBaseURL(c.base, c.addr); got != c.want {
				t.Errorf("servesBaseURL(%q, %q) = %v, want %v", c.base, c.addr, got, c.want)
			}
		})
	}
}

// TestDevelopmentURLsFollowHTTP: kysod started on a fresh data directory
// with --http on some port writes that port into the development
// certificates' OCSP, CRL and CA-certificate URLs, records it in kyso.json
// for the CLI and later runs, and the URLs answer: openssl asks the OCSP
// URL of kysod's own TLS certificate and of a citizen certificate the CLI
// issues, and hears good. Started again with another --http, kysod keeps
// the recorded URLs and warns that nothing answers them.
func TestDevelopmentURLsFollowHTTP(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)
	base := "http://" + d.pk

	var kept struct {
		BaseURL string `json:"base_url"`
	}
	if b, err := os.ReadFile(filepath.Join(data, "kyso.json")); err != nil || json.Unmarshal(b, &kept) != nil || kept.BaseURL != base {
		t.Fatalf("kyso.json base_url %q (%v), want %q", kept.BaseURL, err, base)
	}
	if !strings.Contains(d.out.String(), "URLs in certs   "+base) {
		t.Errorf("startup output does not name %s as the URLs in certificates:\n%s", base, d.out.String())
	}
	root := fetchPEM(t, base+"/ca/root.crt", filepath.Join(dir, "root.pem"))
	issuing := fetchPEM(t, base+"/ca/issuing.crt", filepath.Join(dir, "issuing.pem"))
	tlsLeaf := filepath.Join(dir, "tls.pem")
	writePEM(t, tlsLeaf, servedCertificate(t, d, root).Raw)

	citizen := filepath.Join(dir, "citizen.pem")
	runKyso(t, kyso, data, nil, "cert", "issue", "--profile", "citizen", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh",
		"--keygen", "ecdsa-p256", "--label", "citizen-079203001234", "-o", citizen)
	for _, c := range []struct{ name, file string }{{"HTTPS certificate", tlsLeaf}, {"citizen certificate", citizen}} {
		t.Run(c.name, func(t *testing.T) {
			cert := readPEMCert(t, c.file)
			if len(cert.OCSPServer) != 1 || cert.OCSPServer[0] != base+"/ocsp" {
				t.Errorf("OCSP URLs %q, want %s/ocsp", cert.OCSPServer, base)
			}
			if len(cert.IssuingCertificateURL) != 1 || cert.IssuingCertificateURL[0] != base+"/ca/issuing.crt" {
				t.Errorf("caIssuers URLs %q, want %s/ca/issuing.crt", cert.IssuingCertificateURL, base)
			}
			if len(cert.CRLDistributionPoints) != 1 || cert.CRLDistributionPoints[0] != base+"/crl/issuing.crl" {
				t.Errorf("CRL URLs %q, want %s/crl/issuing.crl", cert.CRLDistributionPoints, base)
			}
			for _, u := range append(cert.IssuingCertificateURL, cert.CRLDistributionPoints...) {
				fetch(t, u, filepath.Join(t.TempDir(), "got"))
			}
			if len(cert.OCSPServer) == 0 {
				return
			}
			// openssl ocsp prints the status on stdout and "Response verify
			// OK" on stderr: each verdict from its own stream.
			out, errOut, err := testenv.Run(exec.Command(openssl, "ocsp", "-issuer", issuing, "-cert", c.file, "-url", cert.OCSPServer[0], "-CAfile", root, "-timeout", "10"))
			if err != nil || !strings.Contains(errOut, "Response verify OK") || !strings.Contains(out, c.file+": good") {
				t.Errorf("openssl ocsp at the certificate's own URL: %v\nstdout: %s\nstderr: %s", err, out, errOut)
			}
		})
	}
	d.stop(t)

	// The same data directory, the PKI routes on another port: the
	// certificates keep the recorded URLs, and kysod says so.
	d = startKysod(t, kysod, data)
	out := d.out.String()
	if !strings.Contains(out, "URLs in certs   "+base) || !strings.Contains(out, "name "+base+" for OCSP, CRLs and CA certificates, but kysod serves them on "+d.pk) ||
		!strings.Contains(out, "start kysod with --http "+strings.TrimPrefix(base, "http://")) {
		t.Errorf("restart on another --http: output lacks the recorded URLs or the warning:\n%s", out)
	}
	if cert := servedCertificate(t, d, root); cert.OCSPServer[0] != base+"/ocsp" {
		t.Errorf("after the restart the HTTPS certificate names %q, want %s/ocsp", cert.OCSPServer, base)
	}
	d.stop(t)
}

// TestConcurrentFirstStart starts four kysod at the same instant on one
// fresh data directory, each on its own ports, as a test setup or a
// process supervisor may: every one serves and is ready, none logs an
// error, and the directory holds one development hierarchy and one HTTPS
// certificate, made by whichever started first.
func TestConcurrentFirstStart(t *testing.T) {
	kysod, kyso := binaries(t)
	data := filepath.Join(t.TempDir(), "data")
	const n = 4
	// Started one after another within milliseconds: each then spends
	// far longer opening the key store and the database.
	ds := make([]*daemon, n)
	for i := range ds {
		ds[i] = launchKysod(t, kysod, data)
	}
	for _, d := range ds {
		d.waitServing(t)
	}
	root := fetchPEM(t, "http://"+ds[0].pk+"/ca/root.crt", filepath.Join(t.TempDir(), "root.pem"))
	var tlsSerial string
	for i, d := range ds {
		for _, ca := range []string{"root", "issuing"} {
			if got, want := fetch(t, "http://"+d.pk+"/ca/"+ca+".crt", filepath.Join(t.TempDir(), ca)), fetch(t, "http://"+ds[0].pk+"/ca/"+ca+".crt", filepath.Join(t.TempDir(), ca)); !bytes.Equal(got, want) {
				t.Errorf("kysod %d serves another %s CA than kysod 0", i, ca)
			}
		}
		if s := servedCertificate(t, d, root).SerialNumber.String(); i == 0 {
			tlsSerial = s
		} else if s != tlsSerial {
			t.Errorf("kysod %d serves HTTPS certificate %s, kysod 0 %s", i, s, tlsSerial)
		}
		for _, l := range strings.Split(d.out.String(), "\n") {
			if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "another process created") {
				t.Errorf("kysod %d logged %s", i, l)
			}
		}
		resp, err := httpsClient(root).Get("https://" + d.https + "/readyz")
		if err != nil {
			t.Fatalf("kysod %d: GET /readyz: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Errorf("kysod %d: GET /readyz = %d %q", i, resp.StatusCode, body)
		}
	}
	if out := runKyso(t, kyso, data, nil, "ca", "chain"); strings.Count(out, "BEGIN CERTIFICATE") != 2 {
		t.Errorf("kyso ca chain:\n%s", out)
	}
	for _, profile := range []string{"ocsp", "tsa", "tls"} {
		out := runKyso(t, kyso, data, nil, "cert", "list", "--profile", profile, "--output", "json")
		var list []json.RawMessage
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
			t.Errorf("kyso cert list --profile %s: %v, %d certificates, want 1:\n%s", profile, err, len(list), out)
		}
	}
}

// httpsClient trusts only the root in the PEM file root.
func httpsClient(root string) *http.Client {
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(root)
	pool.AppendCertsFromPEM(b)
	return trusting(pool, 10*time.Second)
}

// trusting is an HTTPS client that trusts only roots, with timeout.
func trusting(roots *x509.CertPool, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

// servedCertificate returns the certificate d's HTTPS listener presents,
// verified against the root in the PEM file root.
func servedCertificate(t *testing.T, d *daemon, root string) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	c := httpsClient(root)
	c.Transport.(*http.Transport).TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		leaf = cs.PeerCertificates[0]
		return nil
	}
	resp, err := c.Get("https://" + d.https + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return leaf
}

func writePEM(t *testing.T, file string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readPEMCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
