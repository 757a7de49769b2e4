package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestOCSPPresigned: kysod with ocsp.presign on signs a new citizen
// certificate's answer in its next pass and serves that stored answer
// (produced before the request: openssl's -resp_text shows when), which
// openssl accepts as good; once `kyso cert revoke` has revoked the
// certificate, openssl hears revoked within a PKI tick (the tick drops
// the cached answer; the stored one was made stale with the revocation).
func TestOCSPPresigned(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "kysod.yaml")
	if err := os.WriteFile(cfg, []byte("ocsp:\n  presign: true\n  presign_interval: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startKysod(t, kysod, data, "KYSO_CONFIG="+cfg, "KYSO_METRICS=127.0.0.1:0")
	presigned := func() float64 { return scrape(t, d.metrics).sum("kyso_ocsp_presigned_total", "kind", "new") }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("kysod did not %s within 60s:\n%s", what, d.logged())
			}
		}
	}
	waitFor("pre-sign its own certificates' answers", func() bool { return presigned() > 0 })

	base := "http://" + d.pk
	root := fetchPEM(t, base+"/ca/root.crt", filepath.Join(dir, "root.pem"))
	issuing := fetchPEM(t, base+"/ca/issuing.crt", filepath.Join(dir, "issuing.pem"))
	citizen := filepath.Join(dir, "citizen.pem")
	before := presigned()
	runKyso(t, kyso, data, nil, "cert", "issue", "--profile", "citizen", "--cccd", "079203005678", "--name", "Trần Thị Hoa", "--province", "Hồ Chí Minh",
		"--keygen", "ecdsa-p256", "--label", "citizen-079203005678", "-o", citizen)
	waitFor("pre-sign the new certificate's answer", func() bool { return presigned() > before })
	// Two seconds on, an answer signed for the request would be produced
	// at the request's second or later; the stored one was produced before.
	time.Sleep(2 * time.Second)
	asked := time.Now().UTC()
	ask := func() (string, string) {
		t.Helper()
		out, errOut, err := testenv.Run(exec.Command(openssl, "ocsp", "-issuer", issuing, "-cert", citizen, "-url", base+"/ocsp", "-CAfile", root,
			"-no_nonce", "-resp_text", "-timeout", "10"))
		if err != nil || !strings.Contains(errOut, "Response verify OK") {
			t.Fatalf("openssl ocsp: %v\nstdout: %s\nstderr: %s", err, out, errOut)
		}
		return out, errOut
	}
	out, _ := ask()
	if !strings.Contains(out, citizen+": good") {
		t.Fatalf("openssl ocsp before the revocation:\n%s", out)
	}
	m := regexp.MustCompile(`Produced At: (.+ GMT)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("openssl -resp_text names no Produced At:\n%s", out)
	}
	produced, err := time.Parse("Jan _2 15:04:05 2006 GMT", m[1])
	if err != nil {
		t.Fatal(err)
	}
	if !produced.Before(asked.Add(-time.Second)) {
		t.Errorf("the answer was produced at %v, asked at %v: signed for the request, not the stored one", produced, asked)
	}

	cert := readPEMCert(t, citizen)
	runKyso(t, kyso, data, nil, "cert", "revoke", strings.ToUpper(cert.SerialNumber.Text(16)), "--reason", "keyCompromise")
	waitFor("answer revoked", func() bool {
		out, _ := ask()
		if strings.Contains(out, citizen+": good") {
			return false
		}
		if !strings.Contains(out, citizen+": revoked") {
			t.Fatalf("openssl ocsp after the revocation:\n%s", out)
		}
		return true
	})
	d.stop(t)
}
