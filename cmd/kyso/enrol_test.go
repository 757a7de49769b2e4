package main

import (
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
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing"
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
		Key    string `json:"webhook_key"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil || cl.ID == "" || len(cl.Secret) < 32 || len(cl.Key) != 64 {
		t.Fatalf("client create: %d %s", code, out)
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
		{[]string{"enroll", "--cccd", "079203009999", "--name", "A", "--province", "Đà Nẵng", "--pin", "123456"}, "already enrolled"},
		{[]string{"enroll", "--cccd", "12", "--name", "A", "--province", "Đà Nẵng", "--pin", "123456"}, "CCCD"},
		{[]string{"client", "create"}, "--name"},
		{[]string{"client", "create", "--name", "X", "--webhook", "http://example.com/hook"}, "https"},
	} {
		if _, errOut, code := kyso(t, c.args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}
