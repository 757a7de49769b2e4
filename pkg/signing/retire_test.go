package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestEnrolRetiresOrphans: an enrolment that stopped after its
// certificate was issued and before its owner was recorded left a good
// campaign certificate on a credential key no credential owns; the next
// enrolment of that citizen retires it (superseded, audited) and
// succeeds, where the one-campaign-certificate rule refused it before. A
// certificate an operator issued on a key of their own is no orphan and
// stays good.
func TestEnrolRetiresOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		key  ca.KeySource
	}{
		{"a labelled key", ca.KeySource{KeyLabel: signing.CredentialKeyPrefix + "ghost1", KeyAlgorithm: hsm.ECDSAP256}},
		{"a wrapped key", ca.KeySource{CSR: newCSR(t), Ref: "wrapped:ghost2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cccd := "0792030" + pad5(cccdSeq.Add(1))
			orphan, err := e.p.CA.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Phạm Văn Đồng", CCCD: cccd, Province: "Huế", Key: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			en, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: cccd, Name: "Phạm Văn Đồng", Province: "Huế", PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "test"})
			if err != nil {
				t.Fatalf("the enrolment after the interrupted one: %v", err)
			}
			if rec, _ := e.p.Store.GetCertificate(ctx, ca.IssuingName, orphan.SerialNumber.Bytes()); rec.Status != store.StatusRevoked {
				t.Errorf("the orphan is %s, want revoked", rec.Status)
			}
			if rev, err := e.p.Store.GetRevocation(ctx, ca.IssuingName, orphan.SerialNumber.Bytes()); err != nil || rev.Reason != store.ReasonSuperseded {
				t.Errorf("the orphan's revocation: %+v, %v", rev, err)
			}
			if rec, _ := e.p.Store.GetCertificate(ctx, ca.IssuingName, en.Certificate.SerialNumber.Bytes()); rec.Status != store.StatusGood {
				t.Errorf("the new certificate is %s", rec.Status)
			}
			if !audited(t, e, "owner.enrol.retire", en.NationalID) {
				t.Error("no owner.enrol.retire event")
			}
		})
	}
	t.Run("an operator's certificate", func(t *testing.T) {
		cccd := "0792030" + pad5(cccdSeq.Add(1))
		mine, err := e.p.CA.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Phạm Văn Đồng", CCCD: cccd, Province: "Huế",
			Key: ca.KeySource{KeyLabel: "citizen-" + cccd, KeyAlgorithm: hsm.ECDSAP256}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: cccd, Name: "Phạm Văn Đồng", Province: "Huế", PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "test"})
		if !errors.Is(err, ca.ErrCampaignHolder) {
			t.Errorf("enrolling a holder of an operator's campaign certificate: %v, want the campaign rule's refusal", err)
		}
		if rec, _ := e.p.Store.GetCertificate(ctx, ca.IssuingName, mine.SerialNumber.Bytes()); rec.Status != store.StatusGood {
			t.Errorf("the operator's certificate is %s, want good", rec.Status)
		}
	})
}

// newCSR is a certificate request for a fresh P-256 key, as Enrol makes
// for a wrapped key.
func newCSR(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ghost2"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// audited reports whether the audit log holds an ok event of action on
// subject.
func audited(t *testing.T, e *env, action, subject string) bool {
	t.Helper()
	for after := int64(0); ; {
		evs, err := e.p.Store.ListAudit(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return false
		}
		for _, ev := range evs {
			if ev.Action == action && ev.Subject == subject && ev.Outcome == "ok" {
				return true
			}
			after = ev.ID
		}
	}
}
