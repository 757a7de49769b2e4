package csc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestSignerCheckRefuses: a credential whose certificate was revoked or
// suspended after the owner authorised is refused at signHash and signDoc
// with the bilingual reason and no signature, and a new authorisation is
// refused too. An expired certificate (the service's clock moved past it)
// is refused at authorisation.
func TestSignerCheckRefuses(t *testing.T) {
	ctx := context.Background()
	doc := testpdf.Minimal("To khai")
	sum := sha256.Sum256(doc)
	for _, c := range []struct {
		name   string
		reason int
		vi, en string
	}{
		{"revoked", store.ReasonKeyCompromise, "chứng thư số đã bị thu hồi", "(certificate revoked"},
		{"suspended", store.ReasonCertificateHold, "chứng thư số đang bị tạm dừng", "(certificate suspended"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, hsm.ECDSAP256, false)
			pin, otp, err := e.factors(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sadHash, err := e.client.Authorize(ctx, e.cred.CredentialID, [][]byte{sum[:]}, crypto.SHA256, pin, otp)
			if err != nil {
				t.Fatal(err)
			}
			pin, otp, _ = e.factors(ctx)
			sadDoc, err := e.client.Authorize(ctx, e.cred.CredentialID, [][]byte{sum[:]}, crypto.SHA256, pin, otp)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.p.CA.Revoke(ctx, e.cred.Certificate.SerialNumber.Bytes(), c.reason, time.Time{}); err != nil {
				t.Fatal(err)
			}
			// kysod's maintenance loop drops the cached OCSP answer.
			if err := e.pki.PKI.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), c.vi) || !strings.Contains(err.Error(), c.en) {
					t.Errorf("%s: %v, want a refusal saying %q and %q", what, err, c.vi, c.en)
				}
			}
			sigs, err := e.client.SignHash(ctx, e.cred.CredentialID, sadHash, [][]byte{sum[:]}, crypto.SHA256, "")
			check("signHash", err)
			if len(sigs) != 0 {
				t.Errorf("signHash returned %d signatures", len(sigs))
			}
			signed, err := e.client.SignDoc(ctx, e.cred.CredentialID, sadDoc, [][]byte{doc}, "")
			check("signDoc", err)
			if len(signed) != 0 || bytes.Contains(bytes.Join(signed, nil), []byte("/ByteRange")) {
				t.Errorf("signDoc returned %d documents", len(signed))
			}
			pin, otp, _ = e.factors(ctx)
			_, err = e.client.Authorize(ctx, e.cred.CredentialID, [][]byte{sum[:]}, crypto.SHA256, pin, otp)
			check("authorize", err)
		})
	}
	t.Run("expired", func(t *testing.T) {
		e := newEnv(t, hsm.ECDSAP256, false)
		e.clock.Set(e.cred.Certificate.NotAfter.Add(time.Hour))
		pin, otp, err := e.factors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.Authorize(ctx, e.cred.CredentialID, [][]byte{sum[:]}, crypto.SHA256, pin, otp)
		if err == nil || !strings.Contains(err.Error(), "chứng thư số đã hết hạn") || !strings.Contains(err.Error(), "(certificate expired") {
			t.Errorf("authorize with an expired certificate: %v", err)
		}
	})
}
