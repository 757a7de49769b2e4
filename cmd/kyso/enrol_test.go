package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestEnrolAndClient enrols a citizen and registers a portal from the CLI,
// as a registration officer and an operator would.
func TestEnrolAndClient(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KYSO_DATA", filepath.Join(dir, "data"))
	t.Setenv("KYSO_KEYSTORE", "")
	if out, errOut, code := kyso(t, "ca", "init"); code != 0 {
		t.Fatalf("ca init: %d\n%s%s", code, out, errOut)
	}
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("135790\n"), 0o600)
	qrFile := filepath.Join(dir, "totp.png")
	out, errOut, code := kyso(t, "enroll", "--cccd", "079203009999", "--name", "Trần Thị Bình", "--province", "Đà Nẵng",
		"--pin-source", "file:"+pinFile, "--qr", qrFile, "--output", "json")
	if code != 0 {
		t.Fatalf("enroll: %d\n%s%s", code, out, errOut)
	}
	var en struct {
		CredentialID string `json:"credential_id"`
		NationalID   string `json:"national_id"`
		Certificate  string `json:"certificate"`
		OTPAuth      string `json:"otpauth_uri"`
	}
	if err := json.Unmarshal([]byte(out), &en); err != nil {
		t.Fatal(err)
	}
	if en.CredentialID == "" || en.NationalID != "CCCD:079203009999" || !strings.HasPrefix(en.OTPAuth, "otpauth://totp/") {
		t.Fatalf("enrolment: %+v", en)
	}
	if b, _ := pem.Decode([]byte(en.Certificate)); b == nil {
		t.Fatal("no certificate PEM")
	}
	if _, err := signing.TOTPCode(en.OTPAuth, time.Now()); err != nil {
		t.Fatalf("otpauth URI: %v", err)
	}
	if png, err := os.ReadFile(qrFile); err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("QR code file: %v", err)
	}
	if strings.Contains(errOut, "135790") {
		t.Error("the PIN reached the output")
	}

	out, _, code = kyso(t, "client", "create", "--name", "Cổng Dịch vụ công", "--webhook", "https://portal.example.vn/kyso", "--output", "json")
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
		Key    string `json:"webhook_key_hex"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil || cl.ID == "" || len(cl.Secret) < 32 || len(cl.Key) != 64 {
		t.Fatalf("client create: %d %s", code, out)
	}

	// A portal that uses CSC oauth2code: its redirect URIs are kept, in
	// order.
	out, _, code = kyso(t, "client", "create", "--name", "Cổng Thuế", "--redirect-uri", "https://thue.example/cb",
		"--redirect-uri", "http://127.0.0.1:8080/cb", "--output", "json")
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil {
		t.Fatalf("client create --redirect-uri: %d %s", code, out)
	}
	if got := readClient(t, dir, cl.ID); strings.Join(got.RedirectURIs, " ") != "https://thue.example/cb http://127.0.0.1:8080/cb" {
		t.Fatalf("redirect URIs recorded: %q", got.RedirectURIs)
	}

	// A portal that authenticates by mutual TLS.
	clientPEM := filepath.Join(dir, "portal.pem")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "portal"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	os.WriteFile(clientPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	if out, errOut, code := kyso(t, "client", "create", "--name", "Cổng mTLS", "--cert", clientPEM); code != 0 {
		t.Fatalf("client create --cert: %d\n%s%s", code, out, errOut)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "create", "--name", "X", "--cert", pinFile}, "--cert"},
		{[]string{"enroll", "--cccd", "079203009998", "--name", "A", "--province", "Đà Nẵng"}, "--pin"},
		{[]string{"enroll", "--cccd", "079203009998", "--name", "A", "--province", "Đà Nẵng", "--pin", "12"}, "6 to 12 digits"},
		{[]string{"enroll", "--cccd", "079203009999", "--name", "A", "--province", "Đà Nẵng", "--pin", "135790"}, "already enrolled"},
		{[]string{"enroll", "--cccd", "12", "--name", "A", "--province", "Đà Nẵng", "--pin", "123456"}, "CCCD"},
		{[]string{"enroll", "--cccd", "079203009997", "--name", "A", "--province", "Đà Nẵng", "--pin", "000000"}, "too easy to guess"},
		{[]string{"enroll", "--cccd", "079203009997", "--name", "Nguyễn V\u0430n An", "--province", "Đà Nẵng", "--pin", "135790"}, "mixes scripts"},
		{[]string{"client", "create"}, "--name"},
		{[]string{"client", "create", "--name", "X", "--webhook", "http://example.com/hook"}, "https"},
		{[]string{"client", "create", "--name", "X", "--redirect-uri", "http://portal.example/cb"}, "must be https"},
		{[]string{"client", "create", "--name", "X", "--redirect-uri", "https://portal.example/cb#x"}, "fragment"},
		{[]string{"client", "create", "--name", "X", "--redirect-uri", "/cb"}, "absolute"},
		{[]string{"client", "create", "--name", "X", "--redirect-uri", "https://a;script-src/cb"}, "host name"},
	} {
		if _, errOut, code := kyso(t, c.args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// TestEnrolledKeySignsOnlyRemotely: kyso enroll names the key it made (its
// label and URI) and how the key signs: only through kysod, with the
// owner's approval. kyso sign pdf refuses the key for local signing, which
// would skip that approval, and labels of that form cannot be made outside
// enrolment.
func TestEnrolledKeySignsOnlyRemotely(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KYSO_DATA", filepath.Join(dir, "data"))
	t.Setenv("KYSO_KEYSTORE", "")
	if out, errOut, code := kyso(t, "ca", "init"); code != 0 {
		t.Fatalf("ca init: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := kyso(t, "enroll", "--cccd", "079203009999", "--name", "Trần Thị Bình", "--province", "Đà Nẵng", "--pin", "135790", "--output", "json")
	var en struct {
		CredentialID string `json:"credential_id"`
		Certificate  string `json:"certificate"`
		KeyLabel     string `json:"key_label"`
		KeyURI       string `json:"key_uri"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &en) != nil {
		t.Fatalf("enroll: %d\n%s%s", code, out, errOut)
	}
	if en.KeyLabel != "cred-"+en.CredentialID || !strings.HasPrefix(en.KeyURI, "softkey:") || !strings.Contains(en.KeyURI, en.KeyLabel) {
		t.Fatalf("enroll --output json: key_label %q, key_uri %q for credential %s", en.KeyLabel, en.KeyURI, en.CredentialID)
	}
	out, errOut, code = kyso(t, "enroll", "--cccd", "079203009998", "--name", "Lê Văn Tám", "--province", "Đà Nẵng", "--pin", "135790")
	if code != 0 || !regexp.MustCompile(`(?m)^key: cred-\S+ \(softkey:\S+\)$`).MatchString(out) || !strings.Contains(out, "kyso sign pdf --remote https://HOST:8443/csc/v2 --credential ") {
		t.Fatalf("enroll: %d, output does not name the key and how it signs:\n%s%s", code, out, errOut)
	}

	cert := filepath.Join(dir, "cert.pem")
	os.WriteFile(cert, []byte(en.Certificate), 0o644)
	chain := filepath.Join(dir, "chain.pem")
	chainPEM, _, _ := kyso(t, "ca", "chain")
	os.WriteFile(chain, []byte(chainPEM), 0o644)
	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, testpdf.Minimal(""), 0o644)
	signed := filepath.Join(dir, "signed.pdf")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"sign with the enrolled key", []string{"sign", "pdf", in, "-o", signed, "--key", en.KeyLabel, "--cert", cert, "--chain", chain, "--skip-signer-check"},
			"--remote https://HOST:8443/csc/v2 --credential " + en.CredentialID},
		{"sign with the key store named", []string{"sign", "pdf", in, "-o", signed, "--keystore", en.KeyURI, "--key", en.KeyLabel, "--cert", cert, "--skip-signer-check"},
			"owner's approval"},
		{"key create", []string{"key", "create", "--keystore", en.KeyURI, "--label", "cred-mine"}, "kept for enrolled citizens' keys"},
		{"cert issue for the enrolled key", []string{"cert", "issue", "--cccd", "079203009999", "--name", "Trần Thị Bình", "--province", "Đà Nẵng", "--label", en.KeyLabel},
			"kept for enrolled citizens' keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, errOut, code := kyso(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d %q, want 2 and %q", code, errOut, c.want)
			}
		})
	}
	if _, err := os.Stat(signed); !os.IsNotExist(err) {
		t.Errorf("a signed PDF was written: %v", err)
	}
}

// TestEnrolNeedsMasterKey: on a PKCS#11 key store citizens' keys are
// wrapped under the token's master key, which kyso ca init does not make.
// Enrolment before it exists says which command makes it; that command,
// given the data directory, makes it; enrolment then works.
func TestEnrolNeedsMasterKey(t *testing.T) {
	tok := testenv.NewSoftHSM(t)
	t.Setenv("KYSO_TEST_PIN", tok.PIN)
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("KYSO_DATA", "")
	t.Setenv("KYSO_KEYSTORE", "")
	ks := "pkcs11:token=" + tok.TokenLabel + "?module-path=" + tok.Module + "&pin-source=env:KYSO_TEST_PIN"
	if out, errOut, code := kyso(t, "ca", "init", "--data", data, "--keystore", ks); code != 0 {
		t.Fatalf("ca init: %d\n%s%s", code, out, errOut)
	}
	enrol := []string{"enroll", "--data", data, "--cccd", "079203009999", "--name", "Trần Thị Bình", "--province", "Đà Nẵng", "--pin", "135790", "--output", "json"}
	if _, errOut, code := kyso(t, enrol...); code != 1 || !strings.Contains(errOut, "run `kyso key create-master --data "+data+"` first") {
		t.Fatalf("enroll before the master key: exit %d %q", code, errOut)
	}
	if out, errOut, code := kyso(t, "key", "create-master", "--data", data); code != 0 {
		t.Fatalf("key create-master --data: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := kyso(t, enrol...)
	var en struct {
		CredentialID string `json:"credential_id"`
		KeyLabel     string `json:"key_label"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &en) != nil || en.CredentialID == "" || en.KeyLabel != "" {
		t.Fatalf("enroll after key create-master: %d\n%s%s", code, out, errOut)
	}
	// The development key store needs no master key, and the command
	// says so rather than making a key store where there was none.
	fresh := filepath.Join(t.TempDir(), "fresh")
	if _, errOut, code := kyso(t, "key", "create-master", "--data", fresh); code != 1 || !strings.Contains(errOut, "needs no master key") {
		t.Errorf("key create-master on a development directory: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("key create-master made %s: %v", fresh, err)
	}
}

// readClient reads a client's record from the data directory under dir.
func readClient(t *testing.T, dir, id string) *store.Client {
	t.Helper()
	d, err := datadir.Load(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.Open(context.Background(), &datadir.Options{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, err := o.Store.GetClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
