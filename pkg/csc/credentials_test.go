package csc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
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
