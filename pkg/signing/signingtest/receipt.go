package signingtest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// OpenReceipt checks a downloaded consent receipt with outside software,
// the command DESIGN.md gives — `openssl cms -verify -inform DER -in
// receipt.p7m -CAfile root.pem`, with root the hierarchy's root and
// nothing else — and fails t unless openssl says "Verification
// successful". It returns the receipt as openssl printed it, decoded
// strictly (no field signing.Receipt does not name), and the raw JSON,
// which must be what pkg/cms reads from the SignedData too.
func OpenReceipt(t testing.TB, root *x509.Certificate, der []byte) (*signing.Receipt, []byte) {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "receipt.p7m")
	if err := os.WriteFile(in, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out, said, err := testenv.Run(exec.Command(bin, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", rootPEM))
	if err != nil || !strings.Contains(said, "Verification successful") {
		t.Fatalf("openssl cms -verify refused the receipt: %v\n%s", err, said)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if string(sd.Content) != out {
		t.Fatalf("openssl printed %q, the SignedData carries %q", out, sd.Content)
	}
	var r signing.Receipt
	dec := json.NewDecoder(bytes.NewReader(sd.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("receipt JSON: %v\n%s", err, sd.Content)
	}
	return &r, sd.Content
}
