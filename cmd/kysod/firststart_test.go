package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
		ds[i] = launchKysod(t, kysod, data, freeAddr(t), freeAddr(t))
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
	cmd := exec.Command(kyso, "ca", "chain")
	cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
	if out, err := cmd.Output(); err != nil || strings.Count(string(out), "BEGIN CERTIFICATE") != 2 {
		t.Errorf("kyso ca chain: %v\n%s", err, out)
	}
	for _, profile := range []string{"ocsp", "tsa", "tls"} {
		cmd := exec.Command(kyso, "cert", "list", "--profile", profile, "--output", "json")
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
		out, err := cmd.Output()
		var list []json.RawMessage
		if err != nil || json.Unmarshal(out, &list) != nil || len(list) != 1 {
			t.Errorf("kyso cert list --profile %s: %v, %d certificates, want 1:\n%s", profile, err, len(list), out)
		}
	}
}

// httpsClient trusts only the root in the PEM file root.
func httpsClient(root string) *http.Client {
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(root)
	pool.AppendCertsFromPEM(b)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
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
