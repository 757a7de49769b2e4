package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonStartsOnDefaults builds kysod, starts it as a user would with no
// configuration but a data directory and a port, and checks that it prints
// its defaults, serves /livez and /readyz over TLS 1.2+, restarts on the same
// data, and stops cleanly on SIGTERM.
func TestDaemonStartsOnDefaults(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kysod")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(t.TempDir(), "data")
	for round := 1; round <= 2; round++ {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "--listen", addr)
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var printed strings.Builder
		deadline := time.After(30 * time.Second)
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("kysod exited early:\n%s", printed.String())
				}
				printed.WriteString(l + "\n")
				if strings.Contains(l, "kysod serving") {
					break wait
				}
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("kysod did not start in 30s:\n%s", printed.String())
			}
		}
		out := printed.String()
		for _, want := range []string{"data directory  " + data, "key store       softkey:", "WARNING: embedded development defaults", "https://" + addr} {
			if !strings.Contains(out, want) {
				t.Errorf("round %d: startup output lacks %q:\n%s", round, want, out)
			}
		}
		if round == 1 && !strings.Contains(out, "generated a key store passphrase") {
			t.Errorf("first start does not warn about the generated passphrase:\n%s", out)
		}
		if round == 2 && strings.Contains(out, "generated a key store passphrase") {
			t.Errorf("second start generated a new passphrase:\n%s", out)
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}}}
		if _, err := client.Get("https://" + addr + "/livez"); err == nil {
			t.Error("kysod accepted TLS 1.1")
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		for _, path := range []string{"/livez", "/readyz"} {
			resp, err := client.Get("https://" + addr + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
				t.Errorf("GET %s = %d %q", path, resp.StatusCode, body)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() {
			for range lines {
			}
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kysod exit after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("kysod did not stop within 30s of SIGTERM")
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "passphrase")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("passphrase file: %v, mode %v", err, fi.Mode().Perm())
	}
}

func TestBadFlag(t *testing.T) {
	var sb strings.Builder
	if err := run(context.Background(), []string{"--no-such-flag"}, &sb); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
