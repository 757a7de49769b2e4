package smartca_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

// TestCertificateStatusTruthful: get_certificate's cert_status tells the
// truth about a certificate kyso's CA suspended, resumed or revoked, and
// one past its validity (issue 13: a revoked certificate was "active").
func TestCertificateStatusTruthful(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	ctx := context.Background()
	serial := e.citizen.Certificate.SerialNumber.Bytes()
	status := func(step, userID, want string) {
		t.Helper()
		// The service's clock, a minute on: the CA dates a revocation by
		// the wall clock, to the second.
		e.clock.Advance(time.Minute)
		var d smartca.CertificateData
		e.call(t, e.portal, "/smartca/v1/credentials/get_certificate", map[string]any{"user_id": userID}, http.StatusOK, &d)
		var got []string
		for _, c := range d.UserCertificates {
			got = append(got, c.CertStatus)
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: cert_status %q, want one certificate %q", step, got, want)
		}
	}
	status("issued", "079203001234", "active")
	if err := e.p.CA.Suspend(ctx, serial, time.Time{}); err != nil {
		t.Fatal(err)
	}
	status("suspended", "079203001234", "suspended")
	if err := e.p.CA.Resume(ctx, serial); err != nil {
		t.Fatal(err)
	}
	status("resumed", "079203001234", "active")
	if err := e.p.CA.Revoke(ctx, serial, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	status("revoked", "079203001234", "revoked")
	status("the neighbour's", "001198004321", "active")
	e.clock.Set(e.neighbor.Certificate.NotAfter.Add(time.Hour))
	status("expired", "001198004321", "expired")
	status("revoked and expired", "079203001234", "revoked")
}
