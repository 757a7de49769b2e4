package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/audit"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds kysod and kyso once per test binary.
func binaries(t *testing.T) (kysod, kyso string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "kysod-test-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{".", "../kyso"} {
			out, err := exec.Command("go", "build", "-o", binDir+"/", pkg).CombinedOutput()
			if err != nil {
				buildErr = &buildError{pkg, string(out), err}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "kysod"), filepath.Join(binDir, "kyso")
}

type buildError struct {
	pkg, out string
	err      error
}

func (b *buildError) Error() string { return "go build " + b.pkg + ": " + b.err.Error() + "\n" + b.out }

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	testenv.StopSoftHSM()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// daemon is a running kysod.
type daemon struct {
	cmd       *exec.Cmd
	lines     chan string
	out       strings.Builder
	https, pk string
	// metrics is the URL of /metrics, when kysod serves them.
	metrics string
	// later holds what kysod wrote after it began serving.
	laterMu sync.Mutex
	later   strings.Builder
}

// logged is what kysod has written after it began serving.
func (d *daemon) logged() string {
	d.laterMu.Lock()
	defer d.laterMu.Unlock()
	return d.later.String()
}

// startKysod starts kysod on data with free ports, env added to its
// environment, and waits until it serves, failing the test after 60
// seconds.
func startKysod(t *testing.T, bin, data string, env ...string) *daemon {
	t.Helper()
	d := launchKysod(t, bin, data, env...)
	d.waitServing(t)
	return d
}

// launchKysod starts kysod on data, HTTPS on https and the PKI routes on
// pk, env added to its environment, without waiting for it to serve; the
// test's end kills it.
func launchKysod(t *testing.T, bin, data string, env ...string) *daemon {
	t.Helper()
	d := &daemon{lines: make(chan string, 1000)}
	// Port 0: kysod binds its listeners before anything else and says
	// which addresses it got (waitServing reads them). A port picked here
	// and closed could be taken by another process before kysod binds it.
	d.cmd = exec.Command(bin, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	d.cmd.Env = append(append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB="), env...)
	stderr, _ := d.cmd.StderrPipe()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	return d
}

// waitServing reads kysod's output into d.out until it says it serves,
// failing the test if it exits first or takes more than 60 seconds.
func (d *daemon) waitServing(t *testing.T) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatalf("kysod exited early:\n%s", d.out.String())
			}
			d.out.WriteString(l + "\n")
			if strings.Contains(l, "kysod serving") {
				var serving struct{ Addr, PKI, Metrics string }
				if err := json.Unmarshal([]byte(l), &serving); err != nil || serving.Addr == "" || serving.PKI == "" {
					t.Fatalf("kysod's serving line names no addresses (%v): %s", err, l)
				}
				d.https, d.pk, d.metrics = strings.TrimPrefix(serving.Addr, "https://"), strings.TrimPrefix(serving.PKI, "http://"), serving.Metrics
				go func() {
					for l := range d.lines {
						d.laterMu.Lock()
						d.later.WriteString(l + "\n")
						d.laterMu.Unlock()
					}
				}()
				return
			}
		case <-deadline:
			d.cmd.Process.Kill()
			t.Fatalf("kysod did not start in 60s:\n%s", d.out.String())
		}
	}
}

// runKyso runs the kyso binary on the data directory data, with env added
// to the environment, and returns its standard output, failing the test
// when it fails.
func runKyso(t *testing.T, kyso, data string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kyso, args...)
	cmd.Env = append(append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB="), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kyso %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("kysod exit after SIGTERM: %v\n%s", err, d.out.String())
		}
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		t.Fatal("kysod did not stop within 30s of SIGTERM")
	}
}

// TestDaemonStartsOnDefaults starts kysod as a user would with no
// configuration but a data directory and ports, and checks that it prints
// its defaults, serves /livez and /readyz over TLS 1.2+ only, restarts on the
// same data, and stops cleanly on SIGTERM.
func TestDaemonStartsOnDefaults(t *testing.T) {
	bin, _ := binaries(t)
	data := filepath.Join(t.TempDir(), "data")
	var firstSerial string
	for round := 1; round <= 2; round++ {
		d := startKysod(t, bin, data)
		out := d.out.String()
		for _, want := range []string{"data directory  " + data, "key store       softkey:", "database        sqlite:", "WARNING: embedded development defaults", "https://" + d.https, "http://" + d.pk + "/ca/"} {
			if !strings.Contains(out, want) {
				t.Errorf("round %d: startup output lacks %q:\n%s", round, want, out)
			}
		}
		for _, want := range []string{"generated a key store passphrase", "creating a DEVELOPMENT CA hierarchy"} {
			if got := strings.Contains(out, want); got != (round == 1) {
				t.Errorf("round %d: %q printed: %v, want %v:\n%s", round, want, got, round == 1, out)
			}
		}
		// The HTTPS certificate comes from kysod's own CA: a client that
		// trusts the root it serves connects with full verification.
		rootDER := fetch(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(t.TempDir(), "root.der"))
		root, err := x509.ParseCertificate(rootDER)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(root)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}}}
		if _, err := client.Get("https://" + d.https + "/livez"); err == nil {
			t.Error("kysod accepted TLS 1.1")
		}
		var leafSerial string
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, VerifyConnection: func(cs tls.ConnectionState) error {
			leafSerial = cs.PeerCertificates[0].SerialNumber.String()
			return nil
		}}}
		_, port, _ := net.SplitHostPort(d.https)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			for _, path := range []string{"/livez", "/readyz"} {
				resp, err := client.Get("https://" + net.JoinHostPort(host, port) + path)
				if err != nil {
					t.Fatalf("GET https://%s%s trusting only kysod's root: %v", host, path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
					t.Errorf("GET %s = %d %q", path, resp.StatusCode, body)
				}
			}
		}
		// The citizen's app is served, under its Content-Security-Policy.
		resp, err := client.Get("https://" + d.https + "/app/login")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != app.CSP || !strings.Contains(string(body), `<html lang="vi">`) {
			t.Errorf("GET /app/login = %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		if !regexp.MustCompile(`citizen's app +https://\S+/app/`).MatchString(out) {
			t.Errorf("round %d: startup output does not name the app", round)
		}
		if round == 1 {
			firstSerial = leafSerial
		} else if leafSerial != firstSerial {
			t.Errorf("restart issued a new HTTPS certificate (%s, was %s) although the old one is valid", leafSerial, firstSerial)
		}
		d.stop(t)
	}
	if fi, err := os.Stat(filepath.Join(data, "passphrase")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("passphrase file: %v", err)
	}
	// Each start sealed the audit log, each SIGTERM sealed what came after
	// (the HTTPS certificate's issuance): nothing is left unsealed, and the
	// chain verifies with the audit key kysod made in the key store.
	dir, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	o, err := dir.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r, err := audit.Verify(context.Background(), o.Store, audit.KeyStoreKeys(o.Keys))
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Checkpoints < 2 || r.Unsealed() != 0 || r.Events == 0 {
		t.Errorf("the audit log after two runs: %+v, want it verified and sealed to its last event", r)
	}
}

// TestPKIEndToEnd is the revocation flow as an operator and a relying party
// see it, checked by openssl: kysod serves the CA certificates; `kyso cert
// issue` (another process, same data directory) issues a citizen
// certificate; openssl verifies the chain and asks kysod's OCSP responder,
// which says good; `kyso cert suspend` suspends it, and openssl hears
// "revoked" with reason certificateHold and finds it on the CRL; `kyso cert
// resume` makes it good again and takes it off the CRL; `kyso cert revoke`
// revokes it; openssl then hears "revoked" with the reason, and the CRL
// kysod serves lists it.
func TestPKIEndToEnd(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)
	base := "http://" + d.pk

	root := fetchPEM(t, base+"/ca/root.crt", filepath.Join(dir, "root.pem"))
	issuing := fetchPEM(t, base+"/ca/issuing.crt", filepath.Join(dir, "issuing.pem"))
	leaf := filepath.Join(dir, "leaf.pem")
	// runBoth returns stdout and stderr apart: openssl prints some of its
	// verdicts ("Response verify OK", "verify OK") on stderr alone.
	runBoth := func(name string, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
		out, errOut, err := testenv.Run(cmd)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, out, errOut)
		}
		return out, errOut
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, _ := runBoth(name, args...)
		return out
	}
	run(kyso, "cert", "issue", "--profile", "citizen", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-079203001234", "-o", leaf)
	if out := run(openssl, "verify", "-CAfile", root, "-untrusted", issuing, "-purpose", "any", leaf); strings.TrimSpace(out) != leaf+": OK" {
		t.Fatalf("openssl verify: %s", out)
	}
	// openssl ocsp prints the status on stdout and whether the response
	// verified on stderr.
	ocspCheck := func() (string, string) {
		return runBoth(openssl, "ocsp", "-issuer", issuing, "-cert", leaf, "-url", base+"/ocsp", "-CAfile", root, "-timeout", "10")
	}
	out, verified := ocspCheck()
	if !strings.Contains(verified, "Response verify OK") || !strings.Contains(out, leaf+": good") {
		t.Fatalf("openssl ocsp before revocation:\n%s\nstderr: %s", out, verified)
	}
	if out, verified := runBoth(openssl, "ocsp", "-issuer", issuing, "-serial", "0x7A11CE", "-url", base+"/ocsp", "-CAfile", root); !strings.Contains(out, "0x7A11CE: unknown") || !strings.Contains(verified, "Response verify OK") {
		t.Fatalf("openssl ocsp for a serial never issued:\n%s\nstderr: %s", out, verified)
	}

	serial := regexp.MustCompile(`serial=([0-9A-F]+)`).FindStringSubmatch(run(openssl, "x509", "-in", leaf, "-noout", "-serial"))[1]
	// waitOCSP asks until openssl hears want: kysod drops its cached
	// response when it next reads the audit trail.
	waitOCSP := func(want string) (string, string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, verified := ocspCheck()
			if strings.Contains(out, leaf+": "+want) || time.Now().After(deadline) {
				return out, verified
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	crlFile := filepath.Join(dir, "issuing.crl")
	crlText := func() string {
		t.Helper()
		fetch(t, base+"/crl/issuing.crl", crlFile)
		return run(openssl, "crl", "-inform", "DER", "-in", crlFile, "-noout", "-text")
	}

	// Suspension (Decree 23/2025): revoked with reason certificateHold in
	// OCSP and in the CRL while it lasts; good and off the CRL after.
	run(kyso, "cert", "suspend", serial)
	out, verified = waitOCSP("revoked")
	for _, want := range []string{leaf + ": revoked", "Reason: certificateHold", "Revocation Time:"} {
		if !strings.Contains(out, want) || !strings.Contains(verified, "Response verify OK") {
			t.Fatalf("openssl ocsp while suspended lacks %q or Response verify OK:\n%s\nstderr: %s", want, out, verified)
		}
	}
	if out := crlText(); !regexp.MustCompile(`Serial Number: ` + serial + `\s+Revocation Date: [^\n]+\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+Certificate Hold`).MatchString(out) {
		t.Fatalf("openssl crl does not list %s with Certificate Hold:\n%s", serial, out)
	}
	run(kyso, "cert", "resume", serial)
	out, verified = waitOCSP("good")
	if !strings.Contains(verified, "Response verify OK") || !strings.Contains(out, leaf+": good") {
		t.Fatalf("openssl ocsp after resume:\n%s\nstderr: %s", out, verified)
	}
	if out := crlText(); strings.Contains(out, serial) {
		t.Fatalf("openssl crl still lists %s after resume:\n%s", serial, out)
	}

	run(kyso, "cert", "revoke", serial, "--reason", "keyCompromise")
	out, verified = waitOCSP("revoked")
	for _, want := range []string{leaf + ": revoked", "Reason: keyCompromise", "Revocation Time:"} {
		if !strings.Contains(out, want) || !strings.Contains(verified, "Response verify OK") {
			t.Fatalf("openssl ocsp after revocation lacks %q or Response verify OK:\n%s\nstderr: %s", want, out, verified)
		}
	}

	out = crlText()
	for _, want := range []string{"Serial Number: " + serial, "Key Compromise", "X509v3 CRL Number"} {
		if !strings.Contains(out, want) {
			t.Fatalf("openssl crl lacks %q:\n%s", want, out)
		}
	}
	bundle := filepath.Join(dir, "bundle.pem")
	rb, _ := os.ReadFile(root)
	ib, _ := os.ReadFile(issuing)
	os.WriteFile(bundle, append(ib, rb...), 0o644)
	// openssl crl prints "verify OK" on stderr.
	if _, verified := runBoth(openssl, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", bundle, "-noout"); !strings.Contains(verified, "verify OK") {
		t.Errorf("openssl crl signature check: %s", verified)
	}
	// RFC 3161: openssl asks kysod's TSA and verifies the reply.
	dataFile := filepath.Join(dir, "form.pdf")
	os.WriteFile(dataFile, []byte("%PDF-1.7 a form to time-stamp"), 0o644)
	query := filepath.Join(dir, "req.tsq")
	run(openssl, "ts", "-query", "-data", dataFile, "-sha256", "-cert", "-out", query)
	qb, _ := os.ReadFile(query)
	resp, err := http.Post(base+"/tsa", "application/timestamp-query", bytes.NewReader(qb))
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
		t.Fatalf("POST /tsa = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	replyFile := filepath.Join(dir, "reply.tsr")
	os.WriteFile(replyFile, reply, 0o644)
	if out := run(openssl, "ts", "-verify", "-queryfile", query, "-in", replyFile, "-CAfile", root, "-untrusted", issuing); !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify: %s", out)
	}

	for _, path := range []string{"/ca/nope.crt", "/crl/nope.crl", "/ca/root.der"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	d.stop(t)
}

func fetch(t *testing.T, url, file string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// fetchPEM downloads a DER certificate and writes it as PEM.
func fetchPEM(t *testing.T, url, file string) string {
	t.Helper()
	der := fetch(t, url, file)
	if _, err := x509.ParseCertificate(der); err != nil {
		t.Fatalf("%s is not a DER certificate: %v", url, err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestBadFlag(t *testing.T) {
	var sb strings.Builder
	if err := run(context.Background(), []string{"--no-such-flag"}, &sb); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

// TestKeystoreSecretRefused: a key store URI that holds its secret —
// pin-value, a softkey passphrase — is refused from the flag, KYSO_KEYSTORE
// and the configuration file alike, before anything is opened or written:
// the answer says to name where the secret is kept instead.
func TestKeystoreSecretRefused(t *testing.T) {
	const pinURI = "pkcs11:token=kyso?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234"
	for _, c := range []struct {
		name string
		uri  string
		via  string // "flag", "env" or "file"
		want string
	}{
		{"pin-value, flag", pinURI, "flag", "pin-source=file:PATH or pin-source=env:NAME"},
		{"pin-value, KYSO_KEYSTORE", pinURI, "env", "pin-source=file:PATH or pin-source=env:NAME"},
		{"pin-value, config file", pinURI, "file", "pin-source=file:PATH or pin-source=env:NAME"},
		{"softkey passphrase, flag", "softkey:?dir=KEYS&passphrase=a-long-passphrase", "flag", "passphrase-source=file:PATH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			uri := strings.ReplaceAll(c.uri, "KEYS", filepath.Join(dir, "keys"))
			args := []string{"--data", data, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}
			switch c.via {
			case "flag":
				args = append(args, "--keystore", uri)
			case "env":
				t.Setenv("KYSO_KEYSTORE", uri)
			case "file":
				file := filepath.Join(dir, "kysod.yaml")
				if err := os.WriteFile(file, []byte("keystore: '"+uri+"'\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", file)
			}
			var sb strings.Builder
			err := run(context.Background(), args, &sb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run = %v, want an error saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "1234") || strings.Contains(err.Error(), "a-long-passphrase") || strings.Contains(sb.String(), "1234") {
				t.Errorf("the secret is shown: %v\n%s", err, sb.String())
			}
			for _, p := range []string{filepath.Join(data, "kyso.json"), filepath.Join(dir, "keys")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// TestUnknownOperatorClientRefused: signing.operator_client naming no
// client stops kysod at start, saying so: a dispute must reach someone.
func TestUnknownOperatorClientRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kysod.yaml")
	if err := os.WriteFile(file, []byte("signing: {operator_client: no-such-desk}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	err := run(context.Background(), []string{"--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--config", file}, &sb)
	if err == nil || !strings.Contains(err.Error(), `signing.operator_client: "no-such-desk" is not a client with a webhook URL`) {
		t.Fatalf("run = %v", err)
	}
}
