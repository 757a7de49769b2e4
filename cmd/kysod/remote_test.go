package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
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
		return runKyso(t, kyso, data, nil, args...)
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
		HTTPClient: trusting(roots, 30*time.Second)}
	ctx := context.Background()
	s, err := csc.NewSigner(ctx, client, en.CredentialID, func(context.Context) (string, string, error) {
		code, err := signing.TOTPCode(en.OTPAuth, time.Now())
		return "112233", code, err
	})
	if err != nil {
		t.Fatal(err)
	}
	in := testpdf.Minimal("")
	var out bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, s, s.Certificate, s.Chain, &pades.SignOptions{Options: pades.Options{Reason: "Tôi đồng ý", SkipSignerCheck: true}}); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.pdf")
	os.WriteFile(signed, out.Bytes(), 0o644)
	if o, e, _ := testenv.Run(exec.Command(pdfsig, "-no-ocsp", signed)); !strings.Contains(o, "Signature is Valid.") || !strings.Contains(o, "Lê Văn Tám") {
		t.Fatalf("pdfsig:\n%s\nstderr: %s", o, e)
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
	os.WriteFile(in2, testpdf.Minimal(""), 0o644)
	signed2 := filepath.Join(dir, "signed2.pdf")
	cmd := exec.Command(kyso, "sign", "pdf", in2, "-o", signed2, "--remote", "https://"+d.https+"/csc/v2", "--credential", en2.CredentialID,
		"--client-id", cl.ID, "--client-secret-source", "env:PORTAL_SECRET", "--pin-source", "env:OWNER_PIN", "--otpauth-source", "env:OWNER_OTPAUTH",
		"--ca-file", filepath.Join(dir, "root.der"), "--visible", "--reason", "Đồng ý",
		// The pre-signing check asks the OCSP URL in the citizen's
		// certificate: the development CA wrote this kysod's PKI port there.
		"--trust", filepath.Join(dir, "root.der"))
	cmd.Env = append(os.Environ(), "PORTAL_SECRET="+cl.Secret, "OWNER_PIN=445566", "OWNER_OTPAUTH="+en2.OTPAuth)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kyso sign pdf --remote: %v\n%s", err, o)
	}
	if o, e, _ := testenv.Run(exec.Command(pdfsig, "-no-ocsp", signed2)); !strings.Contains(o, "Signature is Valid.") || !strings.Contains(o, "Phạm Thị Hoa") {
		t.Fatalf("pdfsig on the CLI's remote signature:\n%s\nstderr: %s", o, e)
	}

	// signDoc: kysod itself signs a PDF whose digest the owner approved,
	// at B-LTA with its own TSA and validation data.
	doc := testpdf.Minimal("")
	dd := sha256.Sum256(doc)
	code2, _ := signing.TOTPCode(en2.OTPAuth, time.Now().Add(30*time.Second))
	sad2, err := client.Authorize(ctx, en2.CredentialID, [][]byte{dd[:]}, crypto.SHA256, "445566", code2)
	if err != nil {
		t.Fatal(err)
	}
	lta, err := client.SignDoc(ctx, en2.CredentialID, sad2, [][]byte{doc}, "AdES-B-LTA")
	if err != nil {
		t.Fatal(err)
	}
	ltaFile := filepath.Join(dir, "lta.pdf")
	os.WriteFile(ltaFile, lta[0], 0o644)
	if out := run("verify", ltaFile, "--offline", "--lang", "en", "--trust", filepath.Join(dir, "root.der")); !strings.Contains(out, "PAdES-BASELINE-LTA") || !strings.Contains(out, ": The document is valid") {
		t.Fatalf("kyso verify on kysod's signDoc B-LTA:\n%s", out)
	}

	// The public validation API, without credentials, says the same, in
	// Vietnamese by default.
	rootDER, err := os.ReadFile(filepath.Join(dir, "root.der"))
	if err != nil {
		t.Fatal(err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(rootCert)
	anon := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := anon.Post("https://"+d.https+"/verify/v1", "application/pdf", bytes.NewReader(lta[0]))
	if err != nil {
		t.Fatal(err)
	}
	var vrep struct {
		Valid      bool `json:"valid"`
		Signatures []struct {
			Level   string `json:"level"`
			Display struct {
				StatusText string `json:"status_text"`
				Signer     string `json:"signer"`
			} `json:"display"`
		} `json:"signatures"`
	}
	err = json.NewDecoder(resp.Body).Decode(&vrep)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !vrep.Valid || len(vrep.Signatures) == 0 || vrep.Signatures[0].Level != "PAdES-BASELINE-LTA" ||
		vrep.Signatures[0].Display.StatusText != "Chữ ký hợp lệ" || vrep.Signatures[0].Display.Signer != "Phạm Thị Hoa" {
		t.Fatalf("POST /verify/v1: %d %v %+v", resp.StatusCode, err, vrep)
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

// TestSmartCAEndToEnd: a portal written against SmartCA asks kysod to sign
// a hash; the owner approves with `kyso approve` (PIN and one-time code);
// the portal polls the status and gets a signature that verifies with the
// certificate get_certificate returned.
func TestSmartCAEndToEnd(t *testing.T) {
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)
	run := func(env []string, args ...string) string {
		t.Helper()
		return runKyso(t, kyso, data, env, args...)
	}
	var en struct {
		OTPAuth string `json:"otpauth_uri"`
	}
	json.Unmarshal([]byte(run(nil, "enroll", "--cccd", "079203005555", "--name", "Võ Thị Sáu", "--province", "Cà Mau", "--pin", "778899", "--output", "json")), &en)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal([]byte(run(nil, "client", "create", "--name", "Cổng Dịch vụ công", "--output", "json")), &cl)
	root := filepath.Join(dir, "root.der")
	rootDER := fetch(t, "http://"+d.pk+"/ca/root.crt", root)
	rc, _ := x509.ParseCertificate(rootDER)
	roots := x509.NewCertPool()
	roots.AddCert(rc)
	hc := trusting(roots, 30*time.Second)
	call := func(path string, body map[string]any, out any) int {
		t.Helper()
		body["sp_id"], body["sp_password"] = cl.ID, cl.Secret
		b, _ := json.Marshal(body)
		resp, err := hc.Post("https://"+d.https+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	var certs struct {
		Data struct {
			UserCertificates []struct {
				CertData string `json:"cert_data"`
			} `json:"user_certificates"`
		} `json:"data"`
	}
	if st := call("/smartca/v1/credentials/get_certificate", map[string]any{"user_id": "079203005555"}, &certs); st != 200 || len(certs.Data.UserCertificates) != 1 {
		t.Fatalf("get_certificate: %d %+v", st, certs)
	}
	der, _ := base64.StdEncoding.DecodeString(certs.Data.UserCertificates[0].CertData)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("Tờ khai đăng ký khai sinh"))
	var signed struct {
		StatusCode int `json:"status_code"`
		Data       struct {
			TranCode string `json:"tran_code"`
		} `json:"data"`
	}
	if st := call("/smartca/v1/signatures/sign", map[string]any{"user_id": "079203005555", "transaction_id": "portal-42", "transaction_desc": "Đăng ký khai sinh",
		"sign_files": []map[string]string{
			{"doc_id": "to-khai.pdf", "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(digest[:])},
			{"doc_id": "giay-uy-quyen.pdf", "file_type": "pdf", "sign_type": "pdf", "file_data": base64.StdEncoding.EncodeToString(testpdf.Minimal("")), "level": "B-LT"},
		}}, &signed); st != 200 || signed.Data.TranCode == "" {
		t.Fatalf("sign: %d %+v", st, signed)
	}
	out := run([]string{"OWNER_PIN=778899", "OWNER_OTPAUTH=" + en.OTPAuth}, "approve", "--url", "https://"+d.https, "--national-id", "CCCD:079203005555",
		"--pin-source", "env:OWNER_PIN", "--otpauth-source", "env:OWNER_OTPAUTH", "--ca-file", root, "--all")
	if !strings.Contains(out, signed.Data.TranCode+" signed") {
		t.Fatalf("kyso approve: %s", out)
	}
	var status struct {
		Data struct {
			Status     string `json:"status"`
			Signatures []struct {
				DocID string `json:"doc_id"`
				Value string `json:"signature_value"`
				File  string `json:"signed_file"`
			} `json:"signatures"`
		} `json:"data"`
	}
	if st := call("/smartca/v1/signatures/sign/portal-42/status", map[string]any{}, &status); st != 200 || status.Data.Status != "signed" || len(status.Data.Signatures) != 2 {
		t.Fatalf("status: %d %+v", st, status)
	}
	// The whole PDF comes back signed at B-LT, valid offline.
	pdf, _ := base64.StdEncoding.DecodeString(status.Data.Signatures[1].File)
	pdfFile := filepath.Join(dir, "uy-quyen.pdf")
	os.WriteFile(pdfFile, pdf, 0o644)
	if out := run(nil, "verify", pdfFile, "--offline", "--trust", root); !strings.Contains(out, "PAdES-BASELINE-LT") || !strings.Contains(out, ": Tài liệu hợp lệ") || !strings.Contains(out, "Võ Thị Sáu") {
		t.Fatalf("kyso verify on the SmartCA-signed PDF:\n%s", out)
	}
	sig, _ := base64.StdEncoding.DecodeString(status.Data.Signatures[0].Value)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the SmartCA signature does not verify with the certificate from get_certificate")
	}
}
