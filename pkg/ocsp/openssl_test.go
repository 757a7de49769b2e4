package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"golang.org/x/crypto/ocsp"
)

// opensslSaid is what openssl said, stream by stream. openssl ocsp prints
// the status and, with -resp_text, the response on stdout (Out), and only
// on stderr (Err) whether the response verified ("Response verify OK",
// "Response Verify Failure") and its nonce warnings.
type opensslSaid struct{ Out, Err string }

// openssl runs the openssl command with args in dir, bounded in time, and
// returns what it said.
func openssl(t testing.TB, dir string, args ...string) opensslSaid {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, errOut, err := testenv.Run(cmd)
	if err != nil {
		t.Logf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return opensslSaid{out, errOut}
}

// verified asserts openssl found the OCSP response's signature good.
func (s opensslSaid) verified(t testing.TB) {
	t.Helper()
	if !strings.Contains(s.Err, "Response verify OK") {
		t.Errorf("openssl did not verify the response:\n%s\nstderr: %s", s.Out, s.Err)
	}
}

// ocspClient asks the responder at url about cert with `openssl ocsp`, the
// outside checker of CHECKS.md, verifying against the root.
func ocspClient(t testing.TB, p *testPKI, url string, extra ...string) opensslSaid {
	t.Helper()
	args := append([]string{"ocsp", "-issuer", p.rootPEM, "-url", url, "-CAfile", p.rootPEM, "-resp_text"}, extra...)
	return openssl(t, p.dir, args...)
}

func wantAll(t testing.TB, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("openssl output lacks %q:\n%s", w, out)
		}
	}
}

func wantNone(t testing.TB, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Errorf("openssl output contains %q:\n%s", b, out)
		}
	}
}

// nonceTrouble is what openssl prints when a nonce is missing or differs.
var nonceTrouble = []string{"WARNING: no nonce in response", "Nonce Verify error", "WARNING: nonce"}

func TestOpenSSLClient(t *testing.T) {
	testenv.LookPath(t, "openssl", "apt-get install openssl")
	f := newFixture(t, func(c *Config) { c.Now = nil })
	p := f.pki
	srv := httptest.NewServer(f.r)
	t.Cleanup(srv.Close)

	t.Run("good with nonce", func(t *testing.T) {
		out := ocspClient(t, p, srv.URL, "-cert", p.goodPEM)
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": good", "Response Type: Basic OCSP Response",
			"Responder Id: "+strings.ToUpper(fmt.Sprintf("%X", spkiHash(t, p.ocsp))), "OCSP Nonce:", "Next Update:")
		wantNone(t, out.Err, nonceTrouble...)
	})
	t.Run("good without nonce", func(t *testing.T) {
		out := ocspClient(t, p, srv.URL, "-cert", p.goodPEM, "-no_nonce")
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": good")
		wantNone(t, out.Out, "OCSP Nonce:")
	})
	t.Run("SHA-256 CertID", func(t *testing.T) {
		out := ocspClient(t, p, srv.URL, "-sha256", "-cert", p.goodPEM)
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": good", "Hash Algorithm: sha256")
		wantNone(t, out.Err, nonceTrouble...)
	})
	t.Run("path prefix", func(t *testing.T) {
		out := ocspClient(t, p, srv.URL+"/ocsp/root", "-cert", p.goodPEM)
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": good")
	})
	t.Run("never issued", func(t *testing.T) {
		out := ocspClient(t, p, srv.URL, "-serial", "0x7777")
		out.verified(t)
		wantAll(t, out.Out, "0x7777: unknown")
	})
	t.Run("other issuer", func(t *testing.T) {
		other := newTestPKI(t)
		out := ocspClient(t, other, srv.URL, "-cert", other.goodPEM)
		wantAll(t, out.Out, "unauthorized (6)")
	})
	t.Run("revoked", func(t *testing.T) {
		out := ocspClient(t, p, srv.URL, "-cert", p.revokedPEM, "-no_nonce")
		wantAll(t, out.Out, p.revokedPEM+": good") // cached before the revocation
		at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
		f.src.set(p.revoked.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: at, Reason: ocsp.KeyCompromise})
		f.r.Invalidate(p.revoked.SerialNumber)
		for _, nonce := range []string{"-nonce", "-no_nonce"} {
			out = ocspClient(t, p, srv.URL, "-cert", p.revokedPEM, nonce)
			out.verified(t)
			wantAll(t, out.Out, p.revokedPEM+": revoked", "Reason: keyCompromise",
				"Revocation Time: "+at.Format("Jan _2 15:04:05 2006 GMT"))
			wantNone(t, out.Err, nonceTrouble...)
		}
	})
	t.Run("on hold", func(t *testing.T) {
		f.src.set(p.good.SerialNumber, Status{Known: true, OnHold: true, RevokedAt: time.Now()})
		f.r.Invalidate(p.good.SerialNumber)
		out := ocspClient(t, p, srv.URL, "-cert", p.goodPEM)
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": revoked", "Reason: certificateHold")
		f.src.set(p.good.SerialNumber, Status{Known: true})
		f.r.Invalidate(p.good.SerialNumber)
		wantAll(t, ocspClient(t, p, srv.URL, "-cert", p.goodPEM).Out, p.goodPEM+": good")
	})
	t.Run("GET", func(t *testing.T) {
		// openssl's client only POSTs; GET with Go's request encoder, and
		// have openssl check the response it got.
		der := reqFor(t, p.good, p.root, crypto.SHA1)
		resp, err := http.Get(srv.URL + "/" + b64url(der))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		respFile := filepath.Join(p.dir, "get.der")
		if err := os.WriteFile(respFile, body, 0o600); err != nil {
			t.Fatal(err)
		}
		out := openssl(t, p.dir, "ocsp", "-respin", respFile, "-issuer", p.rootPEM, "-CAfile", p.rootPEM, "-cert", p.goodPEM, "-no_nonce", "-resp_text")
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": good")
	})
	t.Run("CA key signs", func(t *testing.T) {
		if err := f.r.SetSigner(p.rootKey, nil); err != nil {
			t.Fatal(err)
		}
		out := ocspClient(t, p, srv.URL, "-cert", p.goodPEM)
		out.verified(t)
		wantAll(t, out.Out, p.goodPEM+": good")
		wantNone(t, out.Err, nonceTrouble...)
	})
}

// indexLine is one line of an openssl CA index.txt: status, expiry,
// revocation time[,reason], serial in hex, file name, subject.
func indexLine(status string, notAfter time.Time, revoked string, serialHex, subject string) string {
	return strings.Join([]string{status, notAfter.UTC().Format("060102150405Z"), revoked, serialHex, "unknown", subject}, "\t") + "\n"
}

func opensslSubject(cn string) string { return "/C=VN/CN=" + cn }

// opensslResponder starts `openssl ocsp` as a responder over the same
// certificates — good.pem valid, revoked.pem revoked for keyCompromise — and
// returns its URL. nrequest 0 means unlimited; workers > 1 uses -multi. The
// process is killed in t.Cleanup.
func opensslResponder(t testing.TB, p *testPKI, nrequest, workers int) string {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	revokedAt := time.Now().Add(-time.Hour).UTC().Format("060102150405Z")
	index := indexLine("V", p.good.NotAfter, "", fmt.Sprintf("%X", p.good.SerialNumber), opensslSubject(p.good.Subject.CommonName)) +
		indexLine("R", p.revoked.NotAfter, revokedAt+",keyCompromise", fmt.Sprintf("%X", p.revoked.SerialNumber), opensslSubject(p.revoked.Subject.CommonName))
	indexFile := filepath.Join(p.dir, "index.txt")
	if err := os.WriteFile(indexFile, []byte(index), 0o600); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	args := []string{"ocsp", "-index", indexFile, "-port", strconv.Itoa(port), "-rsigner", p.ocspPEM,
		"-rkey", p.ocspKeyPEM, "-CA", p.rootPEM, "-ndays", "1", "-ignore_err"}
	if nrequest > 0 {
		args = append(args, "-nrequest", strconv.Itoa(nrequest))
	}
	if workers > 1 {
		args = append(args, "-multi", strconv.Itoa(workers))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = p.dir
	// -multi forks workers: put them in their own process group and kill
	// the group, so none outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("openssl responder output:\n%s", out.String())
		}
	})
	// Probe with a real request: openssl 3.0's responder spins on a
	// connection closed without one. The probe counts toward nrequest.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	probe := reqFor(t, p.good, p.root, crypto.SHA1)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Post("http://"+addr, "application/ocsp-request", bytes.NewReader(probe))
		if err == nil {
			readAll(t, resp)
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl responder does not answer on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}

func TestOpenSSLResponder(t *testing.T) {
	testenv.LookPath(t, "openssl", "apt-get install openssl")
	p := newTestPKI(t)
	// The readiness probe does not count as a request; allow a few spares.
	url := opensslResponder(t, p, 10, 0)
	out := ocspClient(t, p, url, "-cert", p.goodPEM)
	out.verified(t)
	wantAll(t, out.Out, p.goodPEM+": good")
	out = ocspClient(t, p, url, "-cert", p.revokedPEM)
	out.verified(t)
	wantAll(t, out.Out, p.revokedPEM+": revoked", "Reason: keyCompromise")

	// The same request, sent by Go, parses and verifies too: the benchmark
	// compares like with like.
	resp, err := http.Post(url, "application/ocsp-request", strings.NewReader(string(reqFor(t, p.good, p.root, crypto.SHA1))))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponseForCert(readAll(t, resp), p.good, p.root)
	if err != nil || r.Status != ocsp.Good {
		t.Fatalf("openssl responder via Go: %v, %+v", err, r)
	}
}
