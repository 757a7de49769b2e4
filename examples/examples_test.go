// Package examples runs every program under examples/ as a library user
// would: built with go build, against a real kysod started on a temporary
// data directory, with what an operator sets up beforehand made by the
// kyso CLI; what each prints and writes is asserted, and every signed PDF
// is also judged by checkers kyso did not write (qpdf, pdfsig, pyHanko,
// EU DSS).
package examples

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/testvectors"
)

// programs are the examples, each built into the test's bin directory
// under its directory's name.
var programs = []string{"csc-portal", "smartca-portal", "pkcs11-local", "validate", "officer-enrol", "selfsigned"}

// lab is one kysod with its data directory, the binaries, and a working
// directory holding what the operator made (root.pem, chain.pem).
type lab struct {
	bin, data, work string
	env             []string // every command's environment
	https, pki      string   // kysod's addresses, host:port
}

// newLab builds kysod, kyso and the examples, starts kysod with free ports
// on a fresh data directory, and fetches its root certificate.
func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.LookPath(t, "go", "install Go 1.26")
	root := t.TempDir()
	l := &lab{bin: filepath.Join(root, "bin"), data: filepath.Join(root, "data"), work: filepath.Join(root, "work")}
	for _, d := range []string{l.bin, l.work, filepath.Join(root, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// HOME apart: kyso keeps the TOTP steps it used under the user's cache.
	l.env = append(os.Environ(), "HOME="+filepath.Join(root, "home"), "XDG_CACHE_HOME="+filepath.Join(root, "home", ".cache"),
		"KYSO_DATA="+l.data, "KYSO_KEYSTORE=", "KYSO_DB=")
	args := []string{"build", "-o", l.bin + "/", "../cmd/kysod", "../cmd/kyso"}
	for _, p := range programs {
		args = append(args, "./"+p)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	// Port 0: kysod says in its "kysod serving" line which ports it got.
	cmd := exec.Command(filepath.Join(l.bin, "kysod"), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	cmd.Env = l.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	serving := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "kysod serving") {
				serving <- sc.Text()
			}
			if log.Len() < 1<<16 {
				log.WriteString(sc.Text() + "\n")
			}
		}
		close(serving)
	}()
	select {
	case line, ok := <-serving:
		var s struct{ Addr, PKI string }
		if !ok || json.Unmarshal([]byte(line), &s) != nil || s.Addr == "" || s.PKI == "" {
			t.Fatalf("kysod did not say where it serves: %q", line)
		}
		l.https, l.pki = strings.TrimPrefix(s.Addr, "https://"), strings.TrimPrefix(s.PKI, "http://")
	case <-time.After(60 * time.Second):
		t.Fatal("kysod did not serve within 60s")
	}

	resp, err := http.Get("http://" + l.pki + "/ca/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := x509.ParseCertificate(der); err != nil {
		t.Fatalf("/ca/root.crt: %v", err)
	}
	l.write(t, "root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	l.write(t, "chain.pem", []byte(l.kyso(t, "ca", "chain")))
	return l
}

// path is name in the working directory.
func (l *lab) path(name string) string { return filepath.Join(l.work, name) }

func (l *lab) write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(l.path(name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (l *lab) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(l.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// command is the binary name of the lab with args, in the working
// directory, with env added.
func (l *lab) command(name string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(l.bin, name), args...)
	cmd.Dir, cmd.Env = l.work, append(append([]string{}, l.env...), env...)
	return cmd
}

// run runs a binary and returns its stdout, stderr and exit status.
func (l *lab) run(t *testing.T, name string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, err := testenv.Run(l.command(name, env, args...))
	if ee, ok := err.(*exec.ExitError); ok {
		return stdout, stderr, ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return stdout, stderr, 0
}

// must runs a binary that must succeed and returns its stdout.
func (l *lab) must(t *testing.T, name string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := l.run(t, name, env, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s\n%s", name, strings.Join(args, " "), code, out, errOut)
	}
	if name != "kyso" {
		t.Logf("%s printed:\n%s", name, out)
	}
	return out
}

// kyso runs the CLI on the lab's data directory.
func (l *lab) kyso(t *testing.T, args ...string) string {
	t.Helper()
	return l.must(t, "kyso", nil, args...)
}

// client registers a client with kyso client create and returns its JSON.
func (l *lab) client(t *testing.T, args ...string) (id, secret, webhookKey string) {
	t.Helper()
	var c struct {
		ID         string `json:"client_id"`
		Secret     string `json:"client_secret"`
		WebhookKey string `json:"webhook_key_hex"`
	}
	if err := json.Unmarshal([]byte(l.kyso(t, append([]string{"client", "create", "--output", "json"}, args...)...)), &c); err != nil {
		t.Fatal(err)
	}
	return c.ID, c.Secret, c.WebhookKey
}

// checkSigned has the outside checkers judge a signed PDF: qpdf's
// structure, pdfsig's and pyHanko's verdicts (pyHanko without revocation
// checks: that is kyso's validate example's and DSS's part).
func (l *lab) checkSigned(t *testing.T, name, signer string) {
	t.Helper()
	p := l.path(name)
	testenv.CheckQpdf(t, p)
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	if o, e, _ := testenv.Run(exec.Command(pdfsig, "-nocert", "-no-ocsp", p)); !strings.Contains(o, "Signature Validation: Signature is Valid.") || !strings.Contains(o, signer) {
		t.Errorf("pdfsig %s:\n%s\nstderr: %s", name, o, e)
	}
	r := testenv.RunPyHanko(t, "sign", "validate", "--pretty-print", "--no-revocation-check", "--trust", l.path("root.pem"), p)
	if r.Err != nil || !strings.Contains(r.Report, "The signer's certificate is trusted.") || !strings.Contains(r.Report, "The signature is judged VALID.") {
		t.Errorf("pyHanko validate %s: %v\n%s\nlog: %s\nstderr: %s", name, r.Err, r.Report, r.Log, r.Stderr)
	}
}

// contains fails t unless out contains every one of want.
func contains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s printed no %q:\n%s", what, w, out)
		}
	}
}

// freePort is a loopback port nobody listened on a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestExamples runs the examples in the order an operator and the portals
// would meet them, on one kysod: an officer's system enrols a citizen,
// who then signs through a CSC portal; a SmartCA portal sends a PDF that a
// second citizen approves; an organisation seals with a key on a PKCS#11
// token; the validate example judges what they made, and a tampered copy.
func TestExamples(t *testing.T) {
	for _, tool := range []string{"qpdf", "pdfsig"} {
		testenv.LookPath(t, tool, "run the README's test command (make test), which installs it")
	}
	testenv.PyHanko(t)
	l := newLab(t)
	l.write(t, "form.pdf", testvectors.Read(testvectors.Form))

	// officer-enrol: the officer's system enrols the citizen who signs in
	// csc-portal below.
	const pin = "271828"
	var credential, otpauth string
	t.Run("officer-enrol", func(t *testing.T) {
		id, secret, _ := l.client(t, "--officer", "--name", "Công an phường Bến Nghé")
		out := l.must(t, "officer-enrol", []string{"KYSO_CLIENT_SECRET=" + secret, "CITIZEN_PIN=" + pin},
			"--url", "https://"+l.https, "--ca-file", "root.pem", "--client-id", id,
			"--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--otpauth", "otpauth.txt", "--qr", "totp.png")
		contains(t, "officer-enrol", out, "enrolled CCCD:079203001234 (Nguyễn Văn Đức): credential ", `for "Nguyễn Văn Đức"`)
		m := regexp.MustCompile(`credential (\S+),`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("officer-enrol named no credential:\n%s", out)
		}
		credential, otpauth = m[1], strings.TrimSpace(string(l.read(t, "otpauth.txt")))
		if !strings.HasPrefix(otpauth, "otpauth://totp/") {
			t.Errorf("otpauth.txt holds %q", otpauth)
		}
		if png := l.read(t, "totp.png"); !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Error("totp.png is not a PNG")
		}
		// The CA issued the citizen's certificate, as `kyso cert list` sees.
		if list := l.kyso(t, "cert", "list", "--cccd", "079203001234"); !strings.Contains(list, "Nguyễn Văn Đức") {
			t.Errorf("kyso cert list after the enrolment:\n%s", list)
		}
		// A portal's client is no officer: its token is refused the scope.
		pid, psecret, _ := l.client(t, "--name", "Cổng không phải cán bộ")
		if out, errOut, code := l.run(t, "officer-enrol", []string{"KYSO_CLIENT_SECRET=" + psecret, "CITIZEN_PIN=" + pin},
			"--url", "https://"+l.https, "--ca-file", "root.pem", "--client-id", pid,
			"--cccd", "079203009999", "--name", "Trần Văn Bảy", "--province", "Hà Nội", "--otpauth", "other.txt"); code != 1 || !strings.Contains(errOut, "enrol") {
			t.Errorf("officer-enrol with a portal's client: exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("csc-portal", func(t *testing.T) {
		if credential == "" {
			t.Fatal("no citizen: officer-enrol failed")
		}
		id, secret, _ := l.client(t, "--name", "Cổng Dịch vụ công")
		code, err := signing.TOTPCode(otpauth, time.Now()) // the owner's phone
		if err != nil {
			t.Fatal(err)
		}
		out := l.must(t, "csc-portal", []string{"KYSO_CLIENT_SECRET=" + secret},
			"--url", "https://"+l.https+"/csc/v2", "--ca-file", "root.pem", "--client-id", id, "--credential", credential,
			"--pin", pin, "--otp", code, "--in", "form.pdf", "--out", "csc-signed.pdf")
		contains(t, "csc-portal", out, "digest to approve (SHA-256 of the signed attributes): ", "signed by Nguyễn Văn Đức: csc-signed.pdf")
		l.checkSigned(t, "csc-signed.pdf", "Nguyễn Văn Đức")
		// The same code again is a replay: kysod refuses, nothing is written.
		if out, errOut, c := l.run(t, "csc-portal", []string{"KYSO_CLIENT_SECRET=" + secret},
			"--url", "https://"+l.https+"/csc/v2", "--ca-file", "root.pem", "--client-id", id, "--credential", credential,
			"--pin", pin, "--otp", code, "--in", "form.pdf", "--out", "replayed.pdf"); c != 1 || !strings.Contains(errOut, "access_denied") {
			t.Errorf("csc-portal with a spent code: exit %d\n%s\n%s", c, out, errOut)
		}
		if _, err := os.Stat(l.path("replayed.pdf")); err == nil {
			t.Error("a refused signature wrote replayed.pdf")
		}
	})

	t.Run("smartca-portal", func(t *testing.T) { smartcaPortal(t, l) })

	t.Run("pkcs11-local", func(t *testing.T) {
		tok := testenv.NewSoftHSM(t) // sets SOFTHSM2_CONF, which the example inherits
		env := []string{"KYSO_PIN=" + tok.PIN, "SOFTHSM2_CONF=" + tok.Conf}
		flags := []string{"--module", tok.Module, "--token", tok.TokenLabel, "--label", "seal"}
		out := l.must(t, "pkcs11-local", env, append(flags, "--csr", "req.pem")...)
		contains(t, "pkcs11-local --csr", out, "key seal made on the token (ecdsa-p256); request: req.pem")
		l.kyso(t, "cert", "issue", "--profile", "organisation", "--mst", "0101234567", "--name", "Công ty TNHH Ký Số",
			"--province", "Hà Nội", "--csr", "req.pem", "-o", "seal.pem")
		out = l.must(t, "pkcs11-local", env, append(flags, "--cert", "seal.pem", "--chain", "chain.pem", "--trust", "root.pem",
			"--tsa", "http://"+l.pki+"/tsa", "--in", "form.pdf", "--out", "sealed.pdf")...)
		contains(t, "pkcs11-local", out, "signed at PAdES B-T by Công ty TNHH Ký Số with the token's key seal: sealed.pdf")
		l.checkSigned(t, "sealed.pdf", "Công ty TNHH Ký Số")
	})

	t.Run("validate", func(t *testing.T) {
		for _, c := range []struct {
			file    string
			offline bool
			want    []string
		}{
			{"csc-signed.pdf", false, []string{"csc-signed.pdf: VALID (1 signatures, 2 revisions)", `#1 signature "Signature1": TOTAL-PASSED`,
				"signer: Nguyễn Văn Đức, CCCD 079203001234", "signing time (claimed): ", "level: PAdES-BASELINE-B"}},
			{"smartca-signed.pdf", true, []string{"smartca-signed.pdf: VALID", "TOTAL-PASSED", "signer: Võ Thị Sáu, CCCD 079203005555", "level: PAdES-BASELINE-LT"}},
			{"sealed.pdf", false, []string{"sealed.pdf: VALID", "signer: Công ty TNHH Ký Số, MST 0101234567", "time-stamp: ", "level: PAdES-BASELINE-T"}},
		} {
			if _, err := os.Stat(l.path(c.file)); err != nil {
				t.Errorf("%s: not made (its example failed above)", c.file)
				continue
			}
			args := []string{"--trust", "root.pem", c.file}
			if c.offline {
				args = append([]string{"--offline"}, args...)
			}
			contains(t, "validate "+c.file, l.must(t, "validate", nil, args...), c.want...)
		}
		// A tampered copy: one letter of the signed form changed, same length.
		signed := l.read(t, "csc-signed.pdf")
		tampered := bytes.Replace(signed, []byte("Nguyen Van Duc"), []byte("Nguyen Van Dux"), 1)
		if bytes.Equal(tampered, signed) {
			t.Fatal("the form's text is not in csc-signed.pdf")
		}
		l.write(t, "tampered.pdf", tampered)
		out, errOut, code := l.run(t, "validate", nil, "--trust", "root.pem", "tampered.pdf")
		if code != 1 {
			t.Errorf("validate tampered.pdf: exit %d, want 1\n%s", code, errOut)
		}
		contains(t, "validate tampered.pdf", out, "tampered.pdf: NOT VALID", "TOTAL-FAILED/HASH_FAILURE", "why: ")
	})

	t.Run("selfsigned", func(t *testing.T) {
		out := l.must(t, "selfsigned", []string{"KYSO_PASS=a long passphrase for the example"},
			"softkey:?dir="+l.path("demo-keys")+"&passphrase-source=env:KYSO_PASS")
		blk, _ := pem.Decode([]byte(out))
		if blk == nil {
			t.Fatalf("selfsigned printed no PEM:\n%s", out)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil || c.Subject.CommonName != "kyso example" {
			t.Errorf("selfsigned's certificate %q: %v", c.Subject, err)
		}
	})
}

// smartcaPortal runs the SmartCA example: while it waits, a forged
// webhook is refused, the owner approves with `kyso approve`, and the
// genuine webhook brings the signed PDF; DSS judges it.
func smartcaPortal(t *testing.T, l *lab) {
	hook := freePort(t)
	id, secret, key := l.client(t, "--name", "Cổng SmartCA", "--webhook", "http://"+hook+"/kyso")
	var en struct {
		OTPAuth string `json:"otpauth_uri"`
	}
	l.write(t, "pin-2", []byte("583920\n"))
	if err := json.Unmarshal([]byte(l.kyso(t, "enroll", "--cccd", "079203005555", "--name", "Võ Thị Sáu", "--province", "Cà Mau",
		"--pin-source", "file:pin-2", "--output", "json")), &en); err != nil {
		t.Fatal(err)
	}
	l.write(t, "otpauth-2", []byte(en.OTPAuth+"\n"))

	cmd := l.command("smartca-portal", []string{"KYSO_CLIENT_SECRET=" + secret, "KYSO_WEBHOOK_KEY_HEX=" + key},
		"--url", "https://"+l.https, "--ca-file", "root.pem", "--sp-id", id, "--user-id", "079203005555", "--listen", hook,
		"--in", "form.pdf", "--out", "smartca-signed.pdf", "--wait", "2m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	await := func(prefix string) string {
		t.Helper()
		timeout := time.After(90 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					cmd.Wait()
					t.Fatalf("smartca-portal ended before printing %q:\n%s\n%s", prefix, out.String(), errOut.String())
				}
				out.WriteString(line + "\n")
				if strings.HasPrefix(line, prefix) {
					return line
				}
			case <-timeout:
				t.Fatalf("smartca-portal did not print %q within 90s:\n%s\n%s", prefix, out.String(), errOut.String())
			}
		}
	}
	submitted := await("submitted: tran_code=")
	tranCode := strings.TrimSuffix(strings.TrimPrefix(submitted, "submitted: tran_code="), ", waiting for the owner's approval")

	// A forger who knows the transaction but not the key: refused.
	forged := fmt.Sprintf(`{"status_code":200,"message":"","data":{"transaction_id":"x","tran_code":%q,"status":"signed","signatures":[]}}`, tranCode)
	for _, sig := range []string{"", "sha256=" + strings.Repeat("0", 64)} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+hook+"/kyso", strings.NewReader(forged))
		if sig != "" {
			req.Header.Set(signing.HeaderSignature, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a forged webhook (signature %q) was answered %d, want 401", sig, resp.StatusCode)
		}
		await("refused a webhook: its X-Kyso-Signature is not the HMAC of its body")
	}

	// The owner approves.
	approved := l.kyso(t, "approve", "--url", "https://"+l.https, "--ca-file", "root.pem", "--national-id", "079203005555",
		"--pin-source", "file:pin-2", "--otpauth-source", "file:otpauth-2", "--all")
	t.Logf("kyso approve:\n%s", approved)
	await("webhook verified: transaction " + tranCode + " is signed")
	await("signed PDF: smartca-signed.pdf")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("smartca-portal: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	l.checkSigned(t, "smartca-signed.pdf", "Võ Thị Sáu")
	for _, r := range testenv.DSS(t).Validate(t, []string{l.path("root.pem")}, nil, nil, l.path("smartca-signed.pdf")) {
		testenv.AssertDSSPassed(t, r, "PAdES-BASELINE-LT")
	}
}

// TestPublicPackagesOnly: an example imports only what a library user can,
// kyso's pkg/ and hsm/ (internal/ would compile here, inside the module,
// and nowhere else).
func TestPublicPackagesOnly(t *testing.T) {
	testenv.LookPath(t, "go", "install Go 1.26")
	for _, p := range programs {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "./"+p).Output()
		if err != nil {
			t.Fatalf("go list ./%s: %v", p, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if rest, ok := strings.CutPrefix(imp, "github.com/kyso-pki/kyso/"); ok && !strings.HasPrefix(rest, "pkg/") && !strings.HasPrefix(rest, "hsm/") && rest != "hsm" {
				t.Errorf("examples/%s imports %s: examples use only pkg/ and hsm/", p, imp)
			}
		}
	}
}
