package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// CRLResult is a verified CRL and what it says of one certificate.
type CRLResult struct {
	// Raw is the DER CertificateList as received (RFC 5280 section 5.1):
	// what a PAdES DSS /CRLs stream holds.
	Raw []byte
	// List is Raw parsed by crypto/x509.
	List *x509.RevocationList
	// Status is Revoked when the certificate's serial number is listed
	// (reason certificateHold included), Good otherwise.
	Status Status
	// Entry is the certificate's entry, with its revocation time and
	// reason; nil unless Revoked.
	Entry *x509.RevocationListEntry
	// URL is where the CRL was fetched; empty from ParseCRL.
	URL string
}

var (
	// oidDeltaCRLIndicator marks a delta CRL (RFC 5280 section 5.2.4).
	oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}
	// oidIssuingDistributionPoint limits a CRL's scope (section 5.2.5).
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// CRL downloads the CRLs named in cert's CRL distribution points (RFC 5280
// section 4.2.1.13), in order, and returns the first that ParseCRL accepts
// and that is current: thisUpdate not in the future, nextUpdate (when
// present) not past (RFC 5280 section 6.3.3).
//
// It returns an error wrapping ErrNoURL when cert has no http(s)
// distribution point, and otherwise the errors of every URL tried.
func (f *Fetcher) CRL(ctx context.Context, cert, issuer *x509.Certificate) (*CRLResult, error) {
	if err := needCerts(cert, issuer); err != nil {
		return nil, err
	}
	urls := usableURLs(cert.CRLDistributionPoints)
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no CRL distribution point for %s", ErrNoURL, cert.Subject)
	}
	var errs []error
	for _, u := range urls {
		res, err := f.crlFrom(ctx, u, cert, issuer)
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("revocation: CRL from %s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (f *Fetcher) crlFrom(ctx context.Context, u *url.URL, cert, issuer *x509.Certificate) (*CRLResult, error) {
	req, err := newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pkix-crl")
	limit := f.MaxCRLBytes
	if limit <= 0 {
		limit = DefaultMaxCRLBytes
	}
	body, err := f.do(req, limit)
	if err != nil {
		return nil, err
	}
	res, err := ParseCRL(body, cert, issuer)
	if err != nil {
		return nil, err
	}
	now, skew := f.now(), f.skew()
	l := res.List
	switch {
	case l.ThisUpdate.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: thisUpdate %v is in the future", ErrStale, l.ThisUpdate)
	case !l.NextUpdate.IsZero() && l.NextUpdate.Before(now.Add(-skew)):
		return nil, fmt.Errorf("%w: nextUpdate %v has passed", ErrStale, l.NextUpdate)
	}
	res.URL = u.String()
	return res, nil
}

// ParseCRL parses the DER CRL der and verifies, without looking at any
// clock, that issuer issued and signed it (RFC 5280 section 6.3.3 (f) and
// (g): the issuer name matches and the signature verifies with issuer's
// key, which must be allowed to sign CRLs) and that it is a complete CRL
// for cert — not a delta CRL, and, when it has an issuing distribution
// point (a partitioned CRL, RFC 5280 section 5.2.5), one whose scope
// covers cert (IssuingDistributionPoint.Covers: a CRL of another partition
// proves nothing of cert; the error wraps ErrOutOfScope) — then looks
// cert's serial number up. Errors wrap ErrInvalid.
func ParseCRL(der []byte, cert, issuer *x509.Certificate) (*CRLResult, error) {
	if err := needCerts(cert, issuer); err != nil {
		return nil, err
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !bytes.Equal(l.RawIssuer, issuer.RawSubject) || !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("%w: the CRL's issuer %s is not the certificate's", ErrInvalid, l.Issuer)
	}
	if err := l.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: CRL signature: %v", ErrInvalid, err)
	}
	for _, e := range l.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			return nil, fmt.Errorf("%w: a delta CRL is not a complete list", ErrInvalid)
		case e.Id.Equal(oidIssuingDistributionPoint):
			idp, err := ParseIssuingDistributionPoint(e.Value)
			if err != nil {
				return nil, err
			}
			if err := idp.Covers(cert); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		case e.Critical:
			return nil, fmt.Errorf("%w: unknown critical CRL extension %v", ErrInvalid, e.Id)
		}
	}
	res := &CRLResult{Raw: bytes.Clone(der), List: l, Status: Good}
	for i := range l.RevokedCertificateEntries {
		e := &l.RevokedCertificateEntries[i]
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			res.Status, res.Entry = Revoked, e
			break
		}
	}
	return res, nil
}
