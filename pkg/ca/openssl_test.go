package ca

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
)

func writePEM(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOpenSSL runs openssl in dir and returns its stdout.
func runOpenSSL(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	out, _ := runOpenSSLStreams(t, bin, dir, args...)
	return out
}

// runOpenSSLStreams runs openssl in dir and returns its stdout and stderr
// apart: some verdicts, such as openssl crl -CAfile's "verify OK", are
// printed on stderr alone.
func runOpenSSLStreams(t *testing.T, bin, dir string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, errOut, err := testenv.Run(cmd)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

// TestOpenSSL has openssl, which nobody here wrote, check every chain, the
// Vietnamese subject, and the CRL after a keyCompromise revocation.
func TestOpenSSL(t *testing.T) {
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	dir := t.TempDir()
	writePEM(t, dir, "root.pem", f.h.Root.Raw)
	writePEM(t, dir, "issuing.pem", f.h.Issuing.Raw)

	cit, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	org, err := f.a.IssueOrganisation(ctx, &OrganisationRequest{Name: "Công ty TNHH Ký Số Việt", TaxCode: "0101234567", Province: "Hà Nội", Key: KeySource{KeyLabel: "org-seal-1", KeyAlgorithm: "rsa-2048"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		der     []byte
		purpose string
	}{
		{"citizen", cit.Raw, "any"},
		{"citizen", cit.Raw, "smimesign"},
		{"organisation", org.Raw, "any"},
		{"organisation", org.Raw, "smimesign"},
		{"ocsp", f.h.OCSP.Raw, "any"},
		{"ocsp", f.h.OCSP.Raw, "ocsphelper"},
		{"tsa", f.h.TSA.Raw, "any"},
		{"tsa", f.h.TSA.Raw, "timestampsign"},
	} {
		t.Run(tc.name+"/"+tc.purpose, func(t *testing.T) {
			writePEM(t, dir, tc.name+".pem", tc.der)
			out := runOpenSSL(t, bin, dir, "verify", "-purpose", tc.purpose, "-CAfile", "root.pem", "-untrusted", "issuing.pem", tc.name+".pem")
			if strings.TrimSpace(out) != tc.name+".pem: OK" {
				t.Errorf("openssl verify: %q", out)
			}
		})
	}
	if out := runOpenSSL(t, bin, dir, "verify", "-CAfile", "root.pem", "issuing.pem"); strings.TrimSpace(out) != "issuing.pem: OK" {
		t.Errorf("openssl verify issuing: %q", out)
	}

	// The subject as openssl reads it: exact NFC name, UID with CCCD.
	subj := runOpenSSL(t, bin, dir, "x509", "-in", "citizen.pem", "-noout", "-subject", "-nameopt", "utf8")
	want := "subject=C=VN, ST=Hồ Chí Minh, L=Phường Bến Thành, CN=Nguyễn Văn Đức, UID=CCCD:079203001234"
	if strings.TrimSpace(subj) != want {
		t.Errorf("openssl subject:\n got %q\nwant %q", strings.TrimSpace(subj), want)
	}
	subj = runOpenSSL(t, bin, dir, "x509", "-in", "organisation.pem", "-noout", "-subject", "-nameopt", "utf8")
	if want := "subject=C=VN, ST=Hà Nội, O=Công ty TNHH Ký Số Việt, CN=Công ty TNHH Ký Số Việt, UID=MST:0101234567"; strings.TrimSpace(subj) != want {
		t.Errorf("openssl subject:\n got %q\nwant %q", strings.TrimSpace(subj), want)
	}
	text := runOpenSSL(t, bin, dir, "x509", "-in", "citizen.pem", "-noout", "-text")
	for _, s := range []string{
		"X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation",
		"E-mail Protection", "1.3.6.1.5.5.7.3.36", "email:duc@example.vn",
		"OCSP - URI:http://ca.kyso.test/ocsp", "CA Issuers - URI:http://ca.kyso.test/ca/issuing.crt",
		"URI:http://ca.kyso.test/crl/issuing.crl", "Policy: 2.999.704.1.1",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("openssl x509 -text lacks %q", s)
		}
	}
	tsaText := runOpenSSL(t, bin, dir, "x509", "-in", "tsa.pem", "-noout", "-text")
	if !strings.Contains(tsaText, "X509v3 Extended Key Usage: critical\n                Time Stamping") {
		t.Errorf("TSA certificate: EKU not critical Time Stamping:\n%s", tsaText)
	}
	if ocspText := runOpenSSL(t, bin, dir, "x509", "-in", "ocsp.pem", "-noout", "-text"); !strings.Contains(ocspText, "OCSP No Check") {
		t.Errorf("OCSP certificate lacks OCSP No Check")
	}

	// Revoke for keyCompromise; openssl lists it in the new CRL.
	if err := f.a.Revoke(ctx, cit.SerialNumber.Bytes(), store.ReasonKeyCompromise, f.a.now().Add(-3600e9)); err != nil {
		t.Fatal(err)
	}
	crl, err := f.st.LatestCRL(ctx, IssuingName, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "issuing.crl"), crl.DER, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runOpenSSL(t, bin, dir, "crl", "-inform", "DER", "-in", "issuing.crl", "-noout", "-text")
	serial := FormatSerial(cit.SerialNumber.Bytes())
	if !regexp.MustCompile(`Serial Number: ` + serial + `\s+Revocation Date: [^\n]+\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+Key Compromise`).MatchString(out) {
		t.Errorf("openssl crl does not list %s with Key Compromise:\n%s", serial, out)
	}
	if !regexp.MustCompile(fmt.Sprintf(`X509v3 CRL Number:\s+%d\b`, crl.Number)).MatchString(out) || !strings.Contains(out, "X509v3 Authority Key Identifier") {
		t.Errorf("openssl crl: no CRL number %d or AKI:\n%s", crl.Number, out)
	}
	// openssl checks the CRL's signature and the chain with it.
	pemCRL := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.DER})
	if err := os.WriteFile(filepath.Join(dir, "issuing.crl.pem"), pemCRL, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, verified := runOpenSSLStreams(t, bin, dir, "crl", "-in", "issuing.crl.pem", "-CAfile", "issuing.pem", "-noout"); !strings.Contains(verified, "verify OK") {
		t.Errorf("openssl crl -CAfile: %q", verified)
	}
	cmd := exec.Command(bin, "verify", "-crl_check", "-CRLfile", "issuing.crl.pem", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "citizen.pem")
	cmd.Dir = dir
	// openssl verify says why a chain fails on stderr alone, and fails.
	vout, verr, err := testenv.Run(cmd)
	if err == nil || !strings.Contains(verr, "certificate revoked") {
		t.Errorf("openssl verify -crl_check on the revoked certificate: %v\n%s\nstderr: %s", err, vout, verr)
	}
	writePEM(t, dir, "organisation.pem", org.Raw)
	if out := runOpenSSL(t, bin, dir, "verify", "-crl_check", "-CRLfile", "issuing.crl.pem", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "organisation.pem"); strings.TrimSpace(out) != "organisation.pem: OK" {
		t.Errorf("openssl verify -crl_check on a good certificate: %q", out)
	}
}
