package csc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestCredentialInfoCert: credentials/info's certInfo shows the serial as
// the CLI and openssl print it (kyso's serials start 01: the leading zero
// stays) and the DNs with the holder's UID as text, not as #-hex DER.
func TestCredentialInfoCert(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	info, err := e.client.CredentialInfo(ctx, e.cred.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	cert := e.cred.Certificate
	for _, c := range []struct{ name, got, want string }{
		{"serialNumber", info.Cert.SerialNumber, display.FormatSerialInt(cert.SerialNumber)},
		{"subjectDN", info.Cert.SubjectDN, "UID=CCCD:079203001234,CN=Nguyễn Văn Đức,ST=Hà Nội,C=VN"},
		{"issuerDN", info.Cert.IssuerDN, display.IssuerDN(cert)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		})
	}
	if !strings.HasPrefix(info.Cert.SerialNumber, "01") || strings.Contains(info.Cert.IssuerDN, "#") {
		t.Errorf("serialNumber %q, issuerDN %q", info.Cert.SerialNumber, info.Cert.IssuerDN)
	}
}

// TestBearerScheme: every method behind a token reads the Authorization
// header as httpedge.Bearer does: "bearer" and "BEARER" are "Bearer".
func TestBearerScheme(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	tok, err := e.client.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// An unknown credential: 400 once the token is accepted.
	httpedgetest.Bearer(t, tok, http.StatusBadRequest, func(t *testing.T, authorization string) int {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/csc/v2/credentials/info", strings.NewReader(`{"credentialID":"nope"}`))
		req.Header.Set("Content-Type", "application/json")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	})
	// auth/revoke without a body revokes the token of the header, in any
	// case of the scheme.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/csc/v2/auth/revoke", nil)
	req.Header.Set("Authorization", "bearer "+tok)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("auth/revoke: HTTP %d", resp.StatusCode)
	}
	if _, err := e.svc.Authenticate(context.Background(), tok, nil); err == nil {
		t.Error("the token still works after auth/revoke with a lower-case scheme")
	}
}

// TestCredentialsList: userID is optional (CSC API v2 section 11.4).
// With it, the owner's credentials, and with credInfo their info in the
// same form as credentials/info; without it, the credentials bound to the
// token, which for a relying party's token is none.
func TestCredentialsList(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		req     csc.ListRequest
		wantIDs []string
	}{
		{"no userID", csc.ListRequest{}, []string{}},
		{"no userID, credInfo", csc.ListRequest{CredInfo: true, CertInfo: true}, []string{}},
		{"CCCD digits", csc.ListRequest{UserID: "079203001234"}, []string{e.cred.CredentialID}},
		{"CCCD with its prefix, credInfo", csc.ListRequest{UserID: "CCCD:079203001234", CredInfo: true, CertInfo: true}, []string{e.cred.CredentialID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got csc.ListResponse
			if err := e.client.Call(ctx, "credentials/list", &c.req, &got); err != nil {
				t.Fatal(err)
			}
			if got.CredentialIDs == nil || strings.Join(got.CredentialIDs, ",") != strings.Join(c.wantIDs, ",") {
				t.Fatalf("credentialIDs %q, want %q", got.CredentialIDs, c.wantIDs)
			}
			if !c.req.CredInfo || len(c.wantIDs) == 0 {
				if len(got.CredentialInfos) != 0 {
					t.Errorf("%d credentialInfos, want none", len(got.CredentialInfos))
				}
				return
			}
			if len(got.CredentialInfos) != 1 {
				t.Fatalf("%d credentialInfos, want 1", len(got.CredentialInfos))
			}
			ci := got.CredentialInfos[0].Cert
			if ci.SerialNumber != display.FormatSerialInt(e.cred.Certificate.SerialNumber) || !strings.HasPrefix(ci.SubjectDN, "UID=CCCD:079203001234,") {
				t.Errorf("credentialInfos[0].cert: serialNumber %q, subjectDN %q", ci.SerialNumber, ci.SubjectDN)
			}
		})
	}
	var ae *csc.APIError
	if err := e.client.Call(ctx, "credentials/list", &csc.ListRequest{UserID: "001198009999"}, &csc.ListResponse{}); !errors.As(err, &ae) || ae.Body.Error != "invalid_request" {
		t.Errorf("an unknown userID: %v, want invalid_request", err)
	}
}

// TestCredentialInfoAfterRenewal: after the owner renews, the same
// credential ID's credentials/info gives the new certificate, first of
// its chain.
func TestCredentialInfoAfterRenewal(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	pin, code, err := e.factors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Renew(ctx, &signing.RenewRequest{OwnerID: e.cred.OwnerID, CredentialID: e.cred.CredentialID, Factors: signing.PINAndCode(pin, code)})
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.client.CredentialInfo(ctx, e.cred.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cert.SerialNumber != display.FormatSerialInt(r.New.SerialNumber) || len(info.Cert.Certificates) == 0 {
		t.Fatalf("credentials/info after renewal names %s, want %s", info.Cert.SerialNumber, display.FormatSerialInt(r.New.SerialNumber))
	}
	der, err := base64.StdEncoding.DecodeString(info.Cert.Certificates[0])
	if err != nil || !bytes.Equal(der, r.New.Raw) {
		t.Errorf("credentials/info's first certificate is not the renewed one: %v", err)
	}
}
