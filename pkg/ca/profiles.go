package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// Object identifiers of the profiles.
var (
	// OIDDocumentSigning is id-kp-documentSigning (RFC 9336).
	OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
	// OIDOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
	OIDOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamp = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// subjectKeyID is RFC 5280 section 4.2.1.2 method (1): SHA-1 over the
// subjectPublicKey BIT STRING's value.
func subjectKeyID(pub crypto.PublicKey) ([]byte, []byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: encoding public key: %w", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, nil, fmt.Errorf("ca: decoding public key: %w", err)
	}
	h := sha1.Sum(info.PublicKey.Bytes)
	return h[:], spki, nil
}

// checkCAKey is checkSubscriberKey for the keys of the hierarchy (root,
// issuing CA, OCSP responder, TSA): they sign too, so Circular 15/2025
// Annex I binds them alike.
func checkCAKey(pub crypto.PublicKey) error {
	if err := checkSubscriberKey(pub); err != nil {
		return fmt.Errorf("%w (CA, OCSP and TSA keys are held to Circular 15/2025 Annex I too)", err)
	}
	return nil
}

// checkAlgorithm refuses, before a key is made, a key algorithm Circular
// 15/2025 Annex I does not allow for signatures.
func checkAlgorithm(what string, alg hsm.Algorithm) error {
	if alg.IsRSA() && alg.Bits() >= 2048 || alg.IsECDSA() && alg.Bits() >= 256 {
		return nil
	}
	return invalid("%s key algorithm %q is not allowed: RSA of at least 2048 bits or ECDSA on P-256 or P-384 (Circular 15/2025 Annex I)", what, alg)
}

// checkSubscriberKey accepts the key types Circular 15/2025/TT-BKHCN Annex I
// allows for signatures: RSA of at least 2048 bits, ECDSA of at least 256
// bits (P-256, P-384, P-521).
func checkSubscriberKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return invalid("RSA key of %d bits; at least 2048 required (Circular 15/2025 Annex I)", k.N.BitLen())
		}
		if k.N.BitLen() > 8192 {
			return invalid("RSA key of %d bits; at most 8192 accepted", k.N.BitLen())
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return invalid("ECDSA key on curve %s; P-256, P-384 or P-521 required", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return invalid("Ed25519 keys are not among the algorithms of Circular 15/2025 Annex I")
	}
	return invalid("unsupported public key type %T", pub)
}

// maxYears are the longest validities Decree 23/2025/ND-CP allows, in
// calendar years, by profile. OCSP responder certificates have no legal
// maximum; kyso keeps them short (MaxOCSPValidity).
var maxYears = map[string]int{
	ProfileCitizen: 3, ProfileOrganisation: 3,
	ProfileIssuing: 10, ProfileTSA: 5, ProfileRoot: 25,
}

// MaxValidity returns the longest validity Decree 23/2025/ND-CP allows a
// certificate of profile whose validity starts at notBefore: 3 calendar
// years for citizens and organisations, 10 for an issuing (public) CA, 5
// for a TSA, 25 for a root; notAfter may be notBefore plus that many years,
// to the second, and no later. It returns 0 for a profile the decree sets
// no maximum for.
func MaxValidity(profile string, notBefore time.Time) time.Duration {
	y, ok := maxYears[profile]
	if !ok {
		return 0
	}
	nb := notBefore.UTC()
	return nb.AddDate(y, 0, 0).Sub(nb)
}

// checkValidity refuses a validity period longer than MaxValidity allows
// the profile, with an error naming the maximum.
func checkValidity(profile string, nb, na time.Time) error {
	y, ok := maxYears[profile]
	if !ok {
		return nil
	}
	if limit := nb.UTC().AddDate(y, 0, 0); na.After(limit) {
		return invalid("a %s certificate valid from %s to %s exceeds the maximum of %d years (until %s) that Decree 23/2025 allows",
			profile, nb.UTC().Format(time.RFC3339), na.UTC().Format(time.RFC3339), y, limit.Format(time.RFC3339))
	}
	return nil
}

// checkRequestedValidity refuses a requested validity d for a certificate of
// profile issued now: not positive, or longer than MaxValidity from the
// notBefore it would get. What names the request in the error.
func (a *Authority) checkRequestedValidity(what, profile string, d time.Duration) error {
	nb, _ := a.validity(0)
	if max := MaxValidity(profile, nb); d <= 0 || d > max {
		return invalid("%s validity %v is outside (0, %v]: Decree 23/2025 allows at most %d years (%v from %s)",
			what, d, max, maxYears[profile], max, nb.Format(time.DateOnly))
	}
	return nil
}

// signatureAlgorithm is what a CA whose key is pub signs with: for RSA,
// RSASSA-PSS with SHA-256 (Circular 15/2025 Annex I) unless the
// Authority is configured for PKCS#1 v1.5; for ECDSA the curve's hash, as
// Go's x509 would choose, but named, so that a lint copy signed by a
// throwaway key on another curve (newLintKey) names the same; for other
// keys 0, letting Go's x509 choose.
func (a *Authority) signatureAlgorithm(pub crypto.PublicKey) x509.SignatureAlgorithm {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256
		case elliptic.P384():
			return x509.ECDSAWithSHA384
		case elliptic.P521():
			return x509.ECDSAWithSHA512
		}
	}
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return x509.UnknownSignatureAlgorithm
	}
	if a.opts.RSAPKCS1v15 {
		return x509.SHA256WithRSA
	}
	return x509.SHA256WithRSAPSS
}

func policies(oid asn1.ObjectIdentifier) ([]x509.OID, error) {
	ints := make([]uint64, len(oid))
	for i, v := range oid {
		if v < 0 {
			return nil, fmt.Errorf("ca: policy OID %s has a negative arc", oid)
		}
		ints[i] = uint64(v)
	}
	o, err := x509.OIDFromInts(ints)
	if err != nil {
		return nil, fmt.Errorf("ca: policy OID %s: %w", oid, err)
	}
	return []x509.OID{o}, nil
}

// validity returns [now−backdate, +d], whole seconds, UTC.
func (a *Authority) validity(d time.Duration) (time.Time, time.Time) {
	nb := a.now().UTC().Add(-backdate).Truncate(time.Second)
	return nb, nb.Add(d)
}

// rootTemplate is the root CA profile: RFC 5280 sections 4.2.1.9 (cA,
// critical, no path length), 4.2.1.3 (keyCertSign, cRLSign, critical) and
// 4.2.1.2 (subject key identifier).
func rootTemplate(subject []byte, nb, na time.Time) *x509.Certificate {
	return &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            -1,
	}
}

// issuingTemplate is the issuing CA profile: a root template with path
// length 0 (RFC 5280 section 4.2.1.9), the provider's policy (4.2.1.4), the
// root's CRL (4.2.1.13) and certificate (4.2.2.1).
func (a *Authority) issuingTemplate(subject []byte, nb, na time.Time, parent string) (*x509.Certificate, error) {
	pol, err := policies(a.opts.PolicyOID)
	if err != nil {
		return nil, err
	}
	u := a.urls(parent)
	return &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		Policies:              pol,
		IssuingCertificateURL: []string{u.CAIssuers},
		CRLDistributionPoints: []string{u.CRL},
	}, nil
}

// ocspTemplate is the delegated OCSP responder profile of RFC 6960 section
// 4.2.2.2: id-kp-OCSPSigning, digitalSignature, and id-pkix-ocsp-nocheck so
// relying parties need not check the responder's own status — which is why
// it is short-lived and carries no OCSP or CRL pointer. It carries no
// certificate policies either: it certifies a responder, not a subscriber
// (the CA/Browser Forum's rule for responder certificates, which costs
// nothing to follow here).
func (a *Authority) ocspTemplate(subject []byte, nb, na time.Time, parent string) (*x509.Certificate, error) {
	return &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		IssuingCertificateURL: []string{a.urls(parent).CAIssuers},
		ExtraExtensions:       []pkix.Extension{{Id: OIDOCSPNoCheck, Value: []byte{0x05, 0x00}}},
	}, nil
}

// tsaTemplate is the time-stamping unit profile of RFC 3161 section 2.3: one
// extended key usage, id-kp-timeStamping, critical; digitalSignature.
func (a *Authority) tsaTemplate(subject []byte, nb, na time.Time, parent string) (*x509.Certificate, error) {
	pol, err := policies(a.opts.PolicyOID)
	if err != nil {
		return nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamp})
	if err != nil {
		return nil, fmt.Errorf("ca: encoding extended key usage: %w", err)
	}
	u := a.urls(parent)
	return &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		Policies:              pol,
		OCSPServer:            []string{u.OCSP},
		IssuingCertificateURL: []string{u.CAIssuers},
		CRLDistributionPoints: []string{u.CRL},
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}, nil
}

// receiptTemplate is the profile of the certificate that signs consent
// receipts: a document signer in the provider's own name, so the same key
// usages as a citizen's (digitalSignature and contentCommitment, critical;
// id-kp-documentSigning, RFC 9336, and id-kp-emailProtection, which
// S/MIME verifiers such as openssl cms require of a CMS signer), with the
// issuing CA's OCSP, CRL and caIssuers pointers and the provider's policy.
func (a *Authority) receiptTemplate(subject []byte, nb, na time.Time, parent string) (*x509.Certificate, error) {
	return a.signingTemplate(subject, nb, na, parent, "")
}

// signingTemplate is the profile of citizen and organisation certificates
// (PROTOCOLS.md, Decree 23/2025): keyUsage digitalSignature and
// contentCommitment, critical (RFC 5280 section 4.2.1.3); extended key usage
// id-kp-documentSigning (RFC 9336) and id-kp-emailProtection (4.2.1.12); an
// optional rfc822Name (4.2.1.6); AIA with OCSP and caIssuers (4.2.2.1); the
// CRL distribution point (4.2.1.13); the provider's policy (4.2.1.4).
func (a *Authority) signingTemplate(subject []byte, nb, na time.Time, parent, email string) (*x509.Certificate, error) {
	pol, err := policies(a.opts.PolicyOID)
	if err != nil {
		return nil, err
	}
	u := a.urls(parent)
	t := &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDDocumentSigning},
		Policies:              pol,
		OCSPServer:            []string{u.OCSP},
		IssuingCertificateURL: []string{u.CAIssuers},
		CRLDistributionPoints: []string{u.CRL},
	}
	if email != "" {
		t.EmailAddresses = []string{email}
	}
	return t, nil
}
