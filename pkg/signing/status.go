package signing

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// CertStatus is what a credential's certificate is worth at a time: the
// state a front end reports (CSC credentials/info cert.status, SmartCA
// cert_status), each dialect in its own words.
type CertStatus string

// Certificate states. Only CertValid may sign; kyso's own CA records say
// whether it revoked or suspended the certificate.
const (
	CertValid       CertStatus = "valid"
	CertNotYetValid CertStatus = "not_yet_valid"
	CertExpired     CertStatus = "expired"
	// CertRevoked: revoked for good (any CRLReason but certificateHold).
	CertRevoked CertStatus = "revoked"
	// CertSuspended: on hold (RFC 5280 certificateHold) until resumed;
	// Decree 23/2025/ND-CP counts it as not valid.
	CertSuspended CertStatus = "suspended"
)

// CertificateStatus reports cred's certificate cert at time at (zero: the
// service's clock): revoked or suspended by kyso's CA at or before then,
// else expired or not yet valid by its validity period, else valid. A
// revocation outranks the validity period: an expired certificate that
// was revoked is reported revoked.
func (s *Service) CertificateStatus(ctx context.Context, cred *store.Credential, cert *x509.Certificate, at time.Time) (CertStatus, error) {
	if at.IsZero() {
		at = s.now()
	}
	rev, err := s.st.GetRevocation(ctx, cred.CertIssuer, cred.CertSerial)
	switch {
	case err == nil && !rev.RevokedAt.After(at):
		if rev.Reason == store.ReasonCertificateHold {
			return CertSuspended, nil
		}
		return CertRevoked, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("signing: the status of credential %s's certificate: %w", cred.ID, err)
	}
	switch {
	case at.After(cert.NotAfter):
		return CertExpired, nil
	case at.Before(cert.NotBefore):
		return CertNotYetValid, nil
	}
	return CertValid, nil
}
