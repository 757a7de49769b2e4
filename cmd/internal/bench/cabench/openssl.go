package cabench

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// IndexEntry is one line of the index.txt that `openssl ocsp -index` reads
// (the database of `openssl ca`).
type IndexEntry struct {
	// Cert is the certificate; its serial number and expiry are written.
	Cert *x509.Certificate
	// Revoked marks it revoked at RevokedAt for Reason, a CRLReason name as
	// openssl spells it ("keyCompromise"); empty means unspecified.
	Revoked   bool
	RevokedAt time.Time
	Reason    string
}

// line renders e: status, expiry, revocation[,reason], serial, file name,
// subject, separated by tabs. openssl looks certificates up by the serial
// column, in the upper-case hex of whole bytes that BN_bn2hex writes.
func (e IndexEntry) line() string {
	status, revoked := "V", ""
	if e.Revoked {
		status, revoked = "R", e.RevokedAt.UTC().Format("060102150405Z")
		if e.Reason != "" {
			revoked += "," + e.Reason
		}
	}
	serial := strings.ToUpper(hex.EncodeToString(e.Cert.SerialNumber.Bytes()))
	if serial == "" {
		serial = "00"
	}
	// Subjects of valid entries must be unique in the index; the serial
	// makes them so, and openssl's responder reads nothing else from it.
	subject := "/CN=kyso bench " + serial
	return strings.Join([]string{status, e.Cert.NotAfter.UTC().Format("060102150405Z"), revoked, serial, "unknown", subject}, "\t") + "\n"
}

// OpenSSLOptions describe an `openssl ocsp` responder.
type OpenSSLOptions struct {
	// Binary is the openssl command; empty means "openssl" from $PATH.
	Binary string
	// Dir receives index.txt and the PEM files; it must exist.
	Dir string
	// Issuer is the CA the responder answers for (-CA).
	Issuer *x509.Certificate
	// SignerCert and SignerKeyDER are the responder's certificate
	// (-rsigner) and its PKCS#8 private key (-rkey).
	SignerCert   *x509.Certificate
	SignerKeyDER []byte
	// Entries are the certificates it knows (-index).
	Entries []IndexEntry
	// Workers > 1 adds -multi Workers: that many responder processes.
	Workers int
	// ProbeRequest is a DER OCSP request sent until it is answered, to know
	// the responder is up (openssl 3.0's responder spins on a connection
	// closed without a request, so a bare TCP connect will not do).
	ProbeRequest []byte
}

// OpenSSLResponder is a running `openssl ocsp` responder in its own process
// group.
type OpenSSLResponder struct {
	// URL is where it listens, on the loopback interface.
	URL string

	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    *tailBuffer
	exited chan struct{}
	once   sync.Once
}

// StartOpenSSL writes the index and PEM files into o.Dir and starts
// `openssl ocsp -index index.txt -port PORT -rsigner ocsp.pem -rkey
// ocsp.key -CA issuing.pem -ndays 1` on a free loopback port, and waits
// until it answers o.ProbeRequest. -ndays 1 gives its responses a
// nextUpdate a day ahead, as kyso's. Close it when done; ctx ending kills
// it too.
func StartOpenSSL(ctx context.Context, o OpenSSLOptions) (*OpenSSLResponder, error) {
	bin := o.Binary
	if bin == "" {
		bin = "openssl"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("cabench: openssl not found (apt-get install openssl): %w", err)
	}
	var index strings.Builder
	for _, e := range o.Entries {
		index.WriteString(e.line())
	}
	files := []struct {
		name string
		data []byte
	}{
		{"index.txt", []byte(index.String())},
		// Without an .attr file openssl demands unique subjects; say so
		// explicitly rather than rely on that default.
		{"index.txt.attr", []byte("unique_subject = no\n")},
		{"issuing.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.Issuer.Raw})},
		{"ocsp.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.SignerCert.Raw})},
		{"ocsp.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: o.SignerKeyDER})},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(o.Dir, f.name), f.data, 0o600); err != nil {
			return nil, fmt.Errorf("cabench: writing openssl's %s: %w", f.name, err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"ocsp", "-index", "index.txt", "-port", strconv.Itoa(port), "-rsigner", "ocsp.pem",
		"-rkey", "ocsp.key", "-CA", "issuing.pem", "-ndays", "1", "-ignore_err"}
	if o.Workers > 1 {
		args = append(args, "-multi", strconv.Itoa(o.Workers))
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, path, args...)
	cmd.Dir = o.Dir
	// -multi forks workers: the responder gets its own process group, and
	// the whole group is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("cabench: starting openssl ocsp: %w", err)
	}
	r := &OpenSSLResponder{URL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, cancel: cancel, out: out, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(r.exited) }()
	if err := r.waitReady(ctx, o.ProbeRequest); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// waitReady posts probe until the responder answers 200, for up to ten
// seconds.
func (r *OpenSSLResponder) waitReady(ctx context.Context, probe []byte) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Post(r.URL, "application/ocsp-request", bytes.NewReader(probe))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		select {
		case <-r.exited:
			return fmt.Errorf("cabench: openssl ocsp exited: %s", r.Output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cabench: openssl ocsp does not answer on %s: %v: %s", r.URL, err, r.Output())
		}
	}
}

// Output is the tail of what openssl printed.
func (r *OpenSSLResponder) Output() string { return strings.TrimSpace(r.out.String()) }

// Close kills the responder's process group and waits for it.
func (r *OpenSSLResponder) Close() error {
	r.once.Do(func() {
		r.cancel()
		<-r.exited
	})
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cabench: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent
// use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
