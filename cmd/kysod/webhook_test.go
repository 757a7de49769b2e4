package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// webhookCheckShell is how a receiver checks a webhook's signature with
// openssl, as the README shows it: body.json holds the raw request body,
// KYSO_WEBHOOK_KEY_HEX the webhook_key_hex `kyso client create` printed,
// X_KYSO_SIGNATURE the header's value.
const webhookCheckShell = `expected="sha256=$(openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KYSO_WEBHOOK_KEY_HEX" -r body.json | cut -d' ' -f1)"
[ "$expected" = "$X_KYSO_SIGNATURE" ] && echo "signature OK"`

// webhookCheckPython is the same check in a Python receiver.
const webhookCheckPython = `import hashlib, hmac

def kyso_webhook_ok(raw_body: bytes, signature: str, key_hex: str) -> bool:
    mac = hmac.new(bytes.fromhex(key_hex), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, "sha256=" + mac)
`

// TestWebhookSignatureSnippet: a portal registered with `kyso client
// create --webhook` asks, through the SmartCA dialect, for a signature;
// the owner approves; kysod delivers the webhook. The README's ways of
// checking X-Kyso-Signature — openssl with the hex key as printed, and
// Python — accept the delivery as received and refuse it altered.
func TestWebhookSignatureSnippet(t *testing.T) {
	testenv.LookPath(t, "openssl", "apt-get install openssl")
	python := testenv.LookPath(t, "python3", "apt-get install python3")
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)

	type delivery struct {
		body      []byte
		signature string
	}
	got := make(chan delivery, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{b, r.Header.Get("X-Kyso-Signature")}
	}))
	defer receiver.Close()

	var en struct {
		OTPAuth string `json:"otpauth_uri"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "enroll", "--cccd", "079203006666", "--name", "Đặng Thùy Trâm", "--province", "Quảng Ngãi", "--pin", "556677", "--output", "json")), &en)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
		Key    string `json:"webhook_key_hex"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "client", "create", "--name", "Cổng Dịch vụ công", "--webhook", receiver.URL+"/hook", "--output", "json")), &cl)
	if len(cl.Key) != 64 {
		t.Fatalf("kyso client create printed webhook_key_hex %q", cl.Key)
	}
	root := filepath.Join(dir, "root.pem")
	fetchPEM(t, "http://"+d.pk+"/ca/root.crt", root)
	digest := sha256.Sum256([]byte("Tờ khai đăng ký thường trú"))
	body, _ := json.Marshal(map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret, "user_id": "079203006666", "transaction_id": "portal-7",
		"sign_files": []map[string]string{{"doc_id": "to-khai.pdf", "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(digest[:])}}})
	resp, err := httpsClient(root).Post("https://"+d.https+"/smartca/v1/signatures/sign", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("signatures/sign: %d", resp.StatusCode)
	}
	runKyso(t, kyso, data, []string{"OWNER_PIN=556677", "OWNER_OTPAUTH=" + en.OTPAuth}, "approve", "--url", "https://"+d.https, "--national-id", "CCCD:079203006666",
		"--pin-source", "env:OWNER_PIN", "--otpauth-source", "env:OWNER_OTPAUTH", "--ca-file", root, "--all")
	var wh delivery
	select {
	case wh = <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("no webhook within 60s of the approval")
	}
	if !strings.Contains(string(wh.body), `"status":"signed"`) {
		t.Fatalf("webhook body: %s", wh.body)
	}

	for _, c := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"as delivered", wh.body, true},
		{"altered", bytes.Replace(wh.body, []byte("signed"), []byte("Signed"), 1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			if err := os.WriteFile(filepath.Join(work, "body.json"), c.body, 0o644); err != nil {
				t.Fatal(err)
			}
			sh := exec.Command("sh", "-c", webhookCheckShell)
			sh.Dir = work
			sh.Env = append(os.Environ(), "KYSO_WEBHOOK_KEY_HEX="+cl.Key, "X_KYSO_SIGNATURE="+wh.signature)
			out, err := sh.Output()
			if ok := err == nil && strings.TrimSpace(string(out)) == "signature OK"; ok != c.ok {
				t.Errorf("openssl check: %q (%v), want accepted %v", out, err, c.ok)
			}
			script := webhookCheckPython + `
import sys
body = open(sys.argv[1], "rb").read()
print(kyso_webhook_ok(body, sys.argv[2], sys.argv[3]))
`
			out, err = exec.Command(python, "-c", script, filepath.Join(work, "body.json"), wh.signature, cl.Key).Output()
			if err != nil || strings.TrimSpace(string(out)) != map[bool]string{true: "True", false: "False"}[c.ok] {
				t.Errorf("python check: %q (%v), want %v", out, err, c.ok)
			}
		})
	}
}
