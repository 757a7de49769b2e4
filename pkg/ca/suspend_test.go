package ca

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestSuspendResume runs a suspension (Decree 23/2025: a suspended
// certificate is not valid) and its end through what relying parties see:
// the OCSP status and the CRL, which openssl reads. While suspended the CRL
// lists the certificate with reason certificateHold; once resumed the full
// CRL simply leaves it out. Each step is audited.
func TestSuspendResume(t *testing.T) {
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	dir := t.TempDir()
	writePEM(t, dir, "issuing.pem", f.h.Issuing.Raw)
	cert, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	serial := cert.SerialNumber.Bytes()
	hex := FormatSerial(serial)
	crlText := func() string {
		t.Helper()
		crl, err := f.st.LatestCRL(ctx, IssuingName, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "issuing.crl"), crl.DER, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, verified := runOpenSSLStreams(t, bin, dir, "crl", "-inform", "DER", "-in", "issuing.crl", "-CAfile", "issuing.pem", "-noout"); !strings.Contains(verified, "verify OK") {
			t.Errorf("openssl crl -CAfile: %q", verified)
		}
		return runOpenSSL(t, bin, dir, "crl", "-inform", "DER", "-in", "issuing.crl", "-noout", "-text")
	}
	listed := regexp.MustCompile(`Serial Number: ` + hex + `\s+Revocation Date: [^\n]+\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+Certificate Hold`)

	if err := f.a.Resume(ctx, serial); !errors.Is(err, ErrNotSuspended) {
		t.Errorf("Resume of a good certificate: %v, want ErrNotSuspended", err)
	}
	at := f.a.now().Add(-time.Minute).UTC().Truncate(time.Second)
	if err := f.a.Suspend(ctx, serial, at); err != nil {
		t.Fatal(err)
	}
	st, err := f.a.OCSPStatus(ctx, "", cert.SerialNumber)
	if err != nil || !st.Known || !st.Revoked || !st.OnHold || st.Reason != store.ReasonCertificateHold || !st.RevokedAt.Equal(at) {
		t.Errorf("OCSP status while suspended: %+v, %v", st, err)
	}
	if out := crlText(); !listed.MatchString(out) {
		t.Errorf("openssl crl does not list %s with Certificate Hold while suspended:\n%s", hex, out)
	}
	err = f.a.Suspend(ctx, serial, time.Time{})
	if !errors.Is(err, ErrAlreadyRevoked) || !strings.Contains(err.Error(), "suspended") {
		t.Errorf("Suspend twice: %v", err)
	}
	if err := f.a.Suspend(ctx, []byte{0x7a, 0x11, 0xce}, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Suspend of an unknown serial: %v", err)
	}
	if err := f.a.Suspend(ctx, serial, f.a.now().Add(time.Hour)); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Suspend in the future: %v", err)
	}

	if err := f.a.Resume(ctx, serial); err != nil {
		t.Fatal(err)
	}
	st, err = f.a.OCSPStatus(ctx, "", cert.SerialNumber)
	if err != nil || !st.Known || st.Revoked || st.OnHold {
		t.Errorf("OCSP status after resume: %+v, %v", st, err)
	}
	if out := crlText(); strings.Contains(out, "Serial Number: "+hex) || !strings.Contains(out, "No Revoked Certificates") {
		t.Errorf("openssl crl still lists %s after resume:\n%s", hex, out)
	}
	if rec, err := f.a.Certificate(ctx, serial); err != nil || rec.Status != store.StatusGood {
		t.Errorf("record after resume: %+v, %v", rec, err)
	}

	// Suspended again, then revoked for good: resume is refused.
	if err := f.a.Suspend(ctx, serial, time.Time{}); err != nil {
		t.Fatalf("suspending again after resume: %v", err)
	}
	if err := f.a.Revoke(ctx, serial, store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Resume(ctx, serial); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("Resume of a revoked certificate: %v, want ErrAlreadyRevoked", err)
	}

	evs, err := f.st.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range evs {
		if e.Subject == IssuingName+"/"+hex && e.Action != "cert.issue" {
			trail = append(trail, e.Action+":"+e.Outcome)
		}
	}
	want := "cert.resume:error cert.suspend:ok cert.suspend:error cert.resume:ok cert.suspend:ok cert.revoke:ok cert.resume:error"
	if got := strings.Join(trail, " "); got != want {
		t.Errorf("audit trail:\n got %s\nwant %s", got, want)
	}
}
