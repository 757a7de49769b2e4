package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestRemoteSigningEndToEnd: a registration officer enrols a citizen and an
// operator registers a portal with the CLI, on the data directory of a
// running kysod; the portal then signs a PDF through kysod's CSC API over
// HTTPS with the citizen's PIN and one-time code, hash-only.
func TestRemoteSigningEndToEnd(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kyso, args...)
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kyso %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	var en struct {
		CredentialID string `json:"credential_id"`
		OTPAuth      string `json:"otpauth_uri"`
	}
	if err := json.Unmarshal([]byte(run("enroll", "--cccd", "079203004321", "--name", "Lê Văn Tám", "--province", "Hà Nội", "--pin", "112233", "--output", "json")), &en); err != nil {
		t.Fatal(err)
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(run("client", "create", "--name", "Cổng Dịch vụ công", "--output", "json")), &cl); err != nil {
		t.Fatal(err)
	}

	rootPEM := fetch(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(dir, "root.der"))
	root, err := x509.ParseCertificate(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	client := &csc.Client{BaseURL: "https://" + d.https + "/csc/v2", ClientID: cl.ID, ClientSecret: cl.Secret,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	ctx := context.Background()
	s, err := csc.NewSigner(ctx, client, en.CredentialID, func(context.Context) (string, string, error) {
		code, err := signing.TOTPCode(en.OTPAuth, time.Now())
		return "112233", code, err
	})
	if err != nil {
		t.Fatal(err)
	}
	in := onePage()
	var out bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, s, s.Certificate, s.Chain, &pades.SignOptions{Options: pades.Options{Reason: "Tôi đồng ý"}}); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.pdf")
	os.WriteFile(signed, out.Bytes(), 0o644)
	if o, _ := exec.Command(pdfsig, "-no-ocsp", signed).CombinedOutput(); !strings.Contains(string(o), "Signature is Valid.") || !strings.Contains(string(o), "Lê Văn Tám") {
		t.Fatalf("pdfsig:\n%s", o)
	}
	// The CLI, as a portal's script would run it, for a second citizen.
	var en2 struct {
		CredentialID string `json:"credential_id"`
		OTPAuth      string `json:"otpauth_uri"`
	}
	if err := json.Unmarshal([]byte(run("enroll", "--cccd", "079203004322", "--name", "Phạm Thị Hoa", "--province", "Hà Nội", "--pin", "445566", "--output", "json")), &en2); err != nil {
		t.Fatal(err)
	}
	in2 := filepath.Join(dir, "in2.pdf")
	os.WriteFile(in2, onePage(), 0o644)
	signed2 := filepath.Join(dir, "signed2.pdf")
	cmd := exec.Command(kyso, "sign", "pdf", in2, "-o", signed2, "--remote", "https://"+d.https+"/csc/v2", "--credential", en2.CredentialID,
		"--client-id", cl.ID, "--client-secret-source", "env:PORTAL_SECRET", "--pin-source", "env:OWNER_PIN", "--otpauth-source", "env:OWNER_OTPAUTH",
		"--ca-file", filepath.Join(dir, "root.der"), "--visible", "--reason", "Đồng ý")
	cmd.Env = append(os.Environ(), "PORTAL_SECRET="+cl.Secret, "OWNER_PIN=445566", "OWNER_OTPAUTH="+en2.OTPAuth)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kyso sign pdf --remote: %v\n%s", err, o)
	}
	if o, _ := exec.Command(pdfsig, "-no-ocsp", signed2).CombinedOutput(); !strings.Contains(string(o), "Signature is Valid.") || !strings.Contains(string(o), "Phạm Thị Hoa") {
		t.Fatalf("pdfsig on the CLI's remote signature:\n%s", o)
	}

	// The same SAD cannot be used twice, through the daemon too.
	h := bytes.Repeat([]byte{1}, 32)
	code, _ := signing.TOTPCode(en.OTPAuth, time.Now().Add(30*time.Second))
	sad, err := client.Authorize(ctx, en.CredentialID, [][]byte{h}, crypto.SHA256, "112233", code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SignHash(ctx, en.CredentialID, sad, [][]byte{h}, crypto.SHA256, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SignHash(ctx, en.CredentialID, sad, [][]byte{h}, crypto.SHA256, ""); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed SAD: %v", err)
	}
	d.stop(t)
	if strings.Contains(d.out.String(), "112233") || strings.Contains(d.out.String(), cl.Secret) || strings.Contains(d.out.String(), sad) {
		t.Error("a secret reached kysod's log")
	}
}

func onePage() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}
