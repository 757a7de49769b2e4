package csc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
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
	if _, err := e.svc.Authenticate(context.Background(), tok); err == nil {
		t.Error("the token still works after auth/revoke with a lower-case scheme")
	}
}
