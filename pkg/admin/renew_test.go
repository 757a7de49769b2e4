package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// officerAndPortal registers an officer's client and a portal and
// returns a token of each, and the officer's client ID.
func officerAndPortal(t *testing.T, svc *signing.Service) (officer, portal, officerID string) {
	t.Helper()
	tok := func(opts ...signing.ClientOption) (string, string) {
		c, err := svc.CreateClient(t.Context(), "Bộ phận một cửa", "", "test", opts...)
		if err != nil {
			t.Fatal(err)
		}
		tk, _, err := svc.ClientToken(t.Context(), c.ID, c.Secret, "")
		if err != nil {
			t.Fatal(err)
		}
		return tk, c.ID
	}
	officer, officerID = tok(signing.AsOfficer())
	portal, _ = tok()
	return officer, portal, officerID
}

// TestRenewalAPI: an officer asks the owner to renew a credential, once;
// nothing is issued before the owner approves; a portal's token, no
// token, an unknown credential, a body, another method and a revoked
// certificate are refused.
func TestRenewalAPI(t *testing.T) {
	ctx := context.Background()
	se := signingtest.New(t, func(c *signing.Config) { c.RenewalPolicy = signing.RenewalMetered })
	svc := se.Service
	ts := httptest.NewServer(admin.NewHandler(svc, nil))
	t.Cleanup(ts.Close)
	otok, ptok, officerID := officerAndPortal(t, svc)
	en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203007777", Name: "Lê Văn Tám", Province: "Hà Nội", PIN: "246802",
		Algorithm: hsm.ECDSAP256, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(method, token, cred, body string) (int, []byte) {
		t.Helper()
		resp := httpedgetest.Send(t, http.DefaultClient, method, ts.URL+"/admin/v1/credentials/"+cred+"/renewal", token, body, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		httpedgetest.Edge(t, resp)
		return resp.StatusCode, b
	}
	for _, c := range []struct {
		name, method, token, cred, body string
		status                          int
	}{
		{"no token", http.MethodPost, "", en.CredentialID, "", http.StatusUnauthorized},
		{"a portal's token", http.MethodPost, ptok, en.CredentialID, "", http.StatusForbidden},
		{"unknown credential", http.MethodPost, otok, "no-such", "", http.StatusNotFound},
		{"a body", http.MethodPost, otok, en.CredentialID, `{"x":1}`, http.StatusBadRequest},
		{"GET", http.MethodGet, otok, en.CredentialID, "", http.StatusMethodNotAllowed},
	} {
		if st, raw := post(c.method, c.token, c.cred, c.body); st != c.status {
			t.Errorf("%s: HTTP %d, want %d: %s", c.name, st, c.status, raw)
		}
	}
	st, raw := post(http.MethodPost, otok, en.CredentialID, "")
	var r admin.Renewal
	if st != http.StatusCreated || json.Unmarshal(raw, &r) != nil || r.CredentialID != en.CredentialID || !r.Metered ||
		r.RequestedBy != "officer:"+officerID || r.Serial != ca.FormatSerialInt(en.Certificate.SerialNumber) {
		t.Fatalf("request: HTTP %d %s", st, raw)
	}
	if st, raw := post(http.MethodPost, otok, en.CredentialID, ""); st != http.StatusConflict {
		t.Errorf("a second request: HTTP %d %s", st, raw)
	}
	if cs, _ := svc.Credentials(ctx, en.NationalID); len(cs) != 1 || ca.FormatSerial(cs[0].CertSerial) != r.Serial {
		t.Error("the request changed the credential before the owner approved")
	}
	other, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203008888", Name: "Lê Văn Tám", Province: "Hà Nội", PIN: "246802",
		Algorithm: hsm.ECDSAP256, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := se.PKI.CA.Revoke(ctx, other.Certificate.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if st, raw := post(http.MethodPost, otok, other.CredentialID, ""); st != http.StatusConflict {
		t.Errorf("a revoked certificate: HTTP %d %s", st, raw)
	}
}
