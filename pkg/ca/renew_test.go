package ca

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestRenewedCitizen: a certificate renewing a citizen's campaign
// certificate is issued under the campaign rule (a second one without
// Renews is refused), has the same subject, keeps the free period's
// start, and is judged as every citizen certificate is: zlint with every
// source (the one S/MIME BR finding citizen certificates always have),
// and openssl verify to the root for any purpose and smimesign. Renewing
// another citizen's certificate, a revoked one, or the old one again
// after its renewal, is refused.
func TestRenewedCitizen(t *testing.T) {
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	ctx := context.Background()
	f := newFixture(t, newSQLite(t), nil)
	old, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.IssueCitizen(ctx, citizen("079203001234", newCSR(t, p256(t)))); !errors.Is(err, ErrCampaignHolder) {
		t.Fatalf("a second campaign certificate: %v", err)
	}
	other, err := f.a.IssueCitizen(ctx, citizen("079203004321", newCSR(t, p256(t))))
	if err != nil {
		t.Fatal(err)
	}
	stranger := citizen("079203001234", newCSR(t, p256(t)))
	stranger.Renews = other.SerialNumber.Bytes()
	if _, err := f.a.IssueCitizen(ctx, stranger); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("renewing another citizen's certificate: %v", err)
	}
	req := citizen("079203001234", newCSR(t, p256(t)))
	req.Renews = old.SerialNumber.Bytes()
	renewed, err := f.a.IssueCitizen(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(renewed.RawSubject, old.RawSubject) || renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("renewed subject %s serial %s; old %s %s", renewed.Subject, renewed.SerialNumber, old.Subject, old.SerialNumber)
	}
	rec, err := f.st.GetCertificate(ctx, IssuingName, renewed.SerialNumber.Bytes())
	if err != nil || !rec.Campaign || !bytes.Equal(rec.Renews, old.SerialNumber.Bytes()) || !rec.CampaignFrom.Equal(old.NotBefore) {
		t.Errorf("the renewed record: %+v %v", rec, err)
	}
	again := citizen("079203001234", newCSR(t, p256(t)))
	again.Renews = old.SerialNumber.Bytes()
	if _, err := f.a.IssueCitizen(ctx, again); !errors.Is(err, ErrCampaignHolder) {
		t.Errorf("renewing the old certificate again: %v", err)
	}
	if err := f.a.Revoke(ctx, other.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	revoked := citizen("079203004321", newCSR(t, p256(t)))
	revoked.Renews = other.SerialNumber.Bytes()
	if _, err := f.a.IssueCitizen(ctx, revoked); !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("renewing a revoked certificate: %v", err)
	}

	zc, err := zx509.ParseCertificate(renewed.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for n, r := range zlint.LintCertificateEx(zc, lint.GlobalRegistry()).Results {
		if r.Status >= lint.Warn {
			found = append(found, n+" ["+string(r.LintMetadata.Source)+"]")
		}
	}
	sort.Strings(found)
	if strings.Join(found, " ") != "e_exactly_one_smime_policy [CABF_SMIME_BR]" {
		t.Errorf("zlint (all sources) on the renewed certificate: %v", found)
	}
	if err := lintCertificateDER(f.a.reg, renewed.Raw); err != nil {
		t.Errorf("zlint (kyso's sources): %v", err)
	}
	dir := t.TempDir()
	writePEM(t, dir, "root.pem", f.h.Root.Raw)
	writePEM(t, dir, "issuing.pem", f.h.Issuing.Raw)
	writePEM(t, dir, "renewed.pem", renewed.Raw)
	for _, purpose := range []string{"any", "smimesign"} {
		out := runOpenSSL(t, bin, dir, "verify", "-purpose", purpose, "-CAfile", "root.pem", "-untrusted", "issuing.pem", "renewed.pem")
		if strings.TrimSpace(out) != "renewed.pem: OK" {
			t.Errorf("openssl verify -purpose %s: %q", purpose, out)
		}
	}
}
