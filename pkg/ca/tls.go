package ca

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// ProfileTLS is the profile of the daemon's own TLS server certificates.
const ProfileTLS = "tls"

// TLS server certificate validity (days): short, as the CA/Browser Forum's
// 398-day ceiling and common practice expect.
const (
	DefaultTLSValidity = 90 * 24 * time.Hour
	MaxTLSValidity     = 398 * 24 * time.Hour
)

// TLSServerRequest asks for a TLS server certificate for kyso's own HTTPS
// listener, its key in the Authority's key store.
type TLSServerRequest struct {
	// DNSNames and IPs are the subjectAltName entries (RFC 5280 section
	// 4.2.1.6); at least one of them. The first DNS name (else the first
	// IP) is also the CN.
	DNSNames []string
	IPs      []net.IP
	// KeyLabel names the key in the key store; with KeyAlgorithm set, the key
	// is created first.
	KeyLabel     string
	KeyAlgorithm hsm.Algorithm
	// Validity is the certificate's life; zero means DefaultTLSValidity.
	Validity time.Duration
	// Actor is recorded in the audit trail.
	Actor string
}

// IssueTLSServer issues a TLS server certificate (keyUsage digitalSignature,
// extendedKeyUsage id-kp-serverAuth, RFC 5280 section 4.2.1.12) from the
// issuing CA, through the same serial reservation, linting and audit as
// every other certificate. It is for kysod's HTTPS listener, so that a
// client trusting the provider's root trusts the daemon.
func (a *Authority) IssueTLSServer(ctx context.Context, req *TLSServerRequest) (*x509.Certificate, error) {
	if len(req.DNSNames) == 0 && len(req.IPs) == 0 {
		return nil, invalid("a TLS server certificate needs at least one DNS name or IP address")
	}
	for _, n := range req.DNSNames {
		if n == "" || len(n) > 253 || strings.ContainsAny(n, " /\\@*") {
			return nil, invalid("%q is not a DNS name", n)
		}
	}
	v := req.Validity
	if v == 0 {
		v = DefaultTLSValidity
	}
	if v < time.Hour || v > MaxTLSValidity {
		return nil, invalid("TLS certificate validity %v is outside [1h, %v]", v, MaxTLSValidity)
	}
	cn := ""
	if len(req.DNSNames) > 0 {
		cn = req.DNSNames[0]
	} else {
		cn = req.IPs[0].String()
	}
	is, err := a.loadIssuer(ctx, IssuingName)
	if err != nil {
		return nil, err
	}
	subject, err := marshalName([]nameAttr{{oidCountry, "VN"}, {oidOrganization, a.providerName(is)}, {oidCommonName, cn}})
	if err != nil {
		return nil, err
	}
	pub, keyURI, err := a.subscriberKey(ctx, &KeySource{KeyLabel: req.KeyLabel, KeyAlgorithm: req.KeyAlgorithm})
	if err != nil {
		return nil, err
	}
	nb, na := a.validity(v)
	u := a.urls(is.name)
	tmpl := &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPs,
		OCSPServer:            []string{u.OCSP},
		IssuingCertificateURL: []string{u.CAIssuers},
		CRLDistributionPoints: []string{u.CRL},
	}
	actor := req.Actor
	if actor == "" {
		actor = a.opts.Actor
	}
	c, err := a.issue(ctx, &issueParams{issuer: is, profile: ProfileTLS, tmpl: tmpl, pub: pub, keyURI: keyURI, actor: actor})
	if err != nil {
		return nil, fmt.Errorf("ca: issuing a TLS server certificate: %w", err)
	}
	return c, nil
}
