package smartca_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

// TestRenewalSmartCA: 29 days before the citizen's certificate ends, the
// dispatcher delivers one credential.expiring webhook, HMAC-signed, to
// the portal that asked the citizen to sign (and no second one on the
// next rounds); after the owner renews, get_certificate names the new
// certificate under the same cert_id.
func TestRenewalSmartCA(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	ctx := context.Background()
	e.submit(t, e.portal, "ks-renew-1", file("to-khai.pdf", "to khai"))
	e.clock.Set(e.citizen.Certificate.NotAfter.Add(-29 * 24 * time.Hour))
	expiring := func() []delivery {
		var out []delivery
		for _, d := range e.rcv.deliveries() {
			if bytes.Contains(d.body, []byte(`"credential.expiring"`)) {
				out = append(out, d)
			}
		}
		return out
	}
	for range 3 {
		e.once(t)
	}
	got := expiring()
	if len(got) != 1 {
		t.Fatalf("%d credential.expiring webhooks after three rounds, want 1", len(got))
	}
	d := got[0]
	mac := hmac.New(sha256.New, e.portal.key)
	mac.Write(d.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); d.header.Get(signing.HeaderSignature) != want || d.path != "/hook" {
		t.Errorf("the webhook's signature %q path %s, want %q /hook", d.header.Get(signing.HeaderSignature), d.path, want)
	}
	var body signing.Expiring
	if err := json.Unmarshal(d.body, &body); err != nil || body.CredentialID != e.citizen.CredentialID || body.DaysLeft != 30 ||
		d.header.Get(signing.HeaderIdempotency) != "credential.expiring:"+e.citizen.CredentialID+":"+hex.EncodeToString(e.citizen.Certificate.SerialNumber.Bytes())+":30" {
		t.Errorf("the webhook: %s %v, key %q", d.body, err, d.header.Get(signing.HeaderIdempotency))
	}

	r, err := e.svc.Renew(ctx, &signing.RenewRequest{OwnerID: e.citizen.OwnerID, CredentialID: e.citizen.CredentialID,
		Factors: signing.PINAndCode("246810", e.otp(t, e.citizen))})
	if err != nil {
		t.Fatal(err)
	}
	var certs smartca.CertificateData
	e.call(t, e.portal, "/smartca/v1/credentials/get_certificate", map[string]any{"user_id": "079203001234"}, http.StatusOK, &certs)
	if len(certs.UserCertificates) != 1 || certs.UserCertificates[0].CertID != e.citizen.CredentialID ||
		certs.UserCertificates[0].SerialNumber != ca.FormatSerialInt(r.New.SerialNumber) || certs.UserCertificates[0].CertStatus != "active" {
		t.Errorf("get_certificate after renewal: %+v, want the new serial %s", certs.UserCertificates, ca.FormatSerialInt(r.New.SerialNumber))
	}
}
