package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/display"
)

// fetchTimeout bounds one online revocation fetch.
const fetchTimeout = 10 * time.Second

// finish decides the verdict of a signature whose own checks passed: proof
// of existence from later document time-stamps, the certificate path,
// revocation, algorithm strength, changes after signing and the level.
func (v *validation) finish(s *sigState) {
	rep := s.report
	if rep.Kind == KindSignature && !s.done {
		for _, d := range v.sigs {
			if d.report.Kind == KindDocumentTimestamp && d.end > s.end && !d.done && !d.poe.IsZero() &&
				(s.poe.IsZero() || d.poe.Before(s.poe)) {
				s.poe = d.poe
			}
		}
		if !s.poe.IsZero() {
			t := s.poe
			rep.TimestampTime = &t
		}
	}
	if rep.Kind == KindSignature && s.cms != nil && s.cms.SigningCertificateV2 != nil {
		v.checkCertRef(s)
	}
	if !s.done {
		v.checkChain(s)
	}
	// checkChain checks strength once it has the path, before revocation;
	// when it found none, or was not reached, the signature's own
	// algorithms are still worth reporting, even under a verdict already
	// decided.
	if !s.strengthChecked && s.cms != nil {
		checkStrength(s)
	}
	if s.rev >= 0 && s.rev < len(v.ends)-1 && s.dict != nil {
		v.checkChanges(s)
	}
	if !s.done {
		rep.Indication = TotalPassed
	}
	rep.Level = v.level(s)
}

// chainOf returns the signer certificate and the extra certificates a
// signature brings.
func (v *validation) signerOf(s *sigState) (*x509.Certificate, []*x509.Certificate) {
	if s.cms != nil {
		return s.cms.Signer, s.cms.Certificates
	}
	if s.token != nil {
		return tokenSigner(s.token), s.token.Certificates
	}
	return nil, nil
}

// checkChain finds a path from the signer to a trust anchor at the best
// signature time and checks each certificate's revocation status then.
func (v *validation) checkChain(s *sigState) {
	cert, extra := v.signerOf(s)
	if cert == nil {
		s.failWith(Indeterminate, NoSigningCertificateFound, note(CodeNoSigningCertificate, nil, "the signer's certificate is not in the signature"))
		return
	}
	if v.opts.Roots == nil {
		s.failWith(Indeterminate, NoCertificateChainFound, note(CodeNoTrustAnchors, nil, "no trust anchors are configured"))
		return
	}
	t, poe := v.now, !s.poe.IsZero()
	if poe {
		t = s.poe
	}
	inter := append(append(slices.Clone(v.validationData().certs), extra...), s.archival.certs...)
	usage := x509.ExtKeyUsageAny
	if s.report.Kind == KindDocumentTimestamp {
		usage = x509.ExtKeyUsageTimeStamping
	}
	chains, err := v.memo.verifyChain(v.opts.Roots, cert, inter, t, usage)
	if err != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired && t.Before(inv.Cert.NotBefore):
			s.failWith(TotalFailed, NotYetValid, note(CodeNotYetValid, params("subject", inv.Cert.Subject.CommonName, "time", t, "from", inv.Cert.NotBefore),
				"certificate %q was not yet valid at %s (valid from %s)", inv.Cert.Subject.CommonName, stamp(t), stamp(inv.Cert.NotBefore)))
		case errors.As(err, &inv) && inv.Reason == x509.Expired && !poe:
			s.failWith(Indeterminate, OutOfBoundsNoPOE, note(CodeExpired, params("subject", inv.Cert.Subject.CommonName, "expiry", inv.Cert.NotAfter),
				"certificate %q expired on %s and no time-stamp proves the signature was made before", inv.Cert.Subject.CommonName, stamp(inv.Cert.NotAfter)))
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			s.failWith(Indeterminate, OutOfBoundsNoPOE, note(CodeExpiredAtTimestamp, params("subject", inv.Cert.Subject.CommonName, "expiry", inv.Cert.NotAfter, "time", t),
				"certificate %q had expired (on %s) when the signature was time-stamped at %s", inv.Cert.Subject.CommonName, stamp(inv.Cert.NotAfter), stamp(t)))
		case errors.As(err, &ua) && weakSigned(cert, extra) != nil:
			// crypto/x509 refuses SHA-1 and MD5 signatures, so the path
			// breaks there; say why rather than "not trusted".
			w := weakSigned(cert, extra)
			name := w.Subject.CommonName
			s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeWeakCertSignature, params("subject", name, "algorithm", w.SignatureAlgorithm.String()),
				"certificate %q is signed with %v, which Circular 15/2025 Annex I does not allow", name, w.SignatureAlgorithm))
		case errors.As(err, &ua):
			s.failWith(Indeterminate, NoCertificateChainFound, note(CodeUntrusted, params("subject", cert.Subject.CommonName, "issuer", cert.Issuer.CommonName),
				"no path from the signer's certificate to a trusted root: %q issued by %q, which is not trusted", cert.Subject.CommonName, cert.Issuer.CommonName))
		default:
			s.fail(Indeterminate, ChainConstraintsFailure, "the certificate path is not valid: %v", err)
		}
		return
	}
	chain := chains[0]
	s.path = chain
	for _, c := range chain {
		s.report.Chain = append(s.report.Chain, describe(c))
	}
	checkStrength(s)
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		if noCheck(c) {
			continue
		}
		st := v.status(s, c, issuer, t)
		name := c.Subject.CommonName
		who := fmt.Sprintf("%q", name)
		switch {
		case !st.known:
			if s.report.Kind == KindDocumentTimestamp {
				s.warnWith(note(CodeRevocationUnknown, params("subject", name), "the revocation status of %s could not be checked", who))
				continue
			}
			if v.now.After(c.NotAfter) {
				s.failWith(Indeterminate, TryLater, note(CodeRevocationUnknownExpired, params("subject", name, "expiry", c.NotAfter),
					"the revocation status of %s could not be checked: it expired on %s, and no OCSP response or CRL issued before then, or keeping expired certificates (archiveCutoff, expiredCertsOnCRL), was found", who, stamp(c.NotAfter)))
				continue
			}
			s.failWith(Indeterminate, TryLater, note(CodeRevocationUnknown, params("subject", name),
				"the revocation status of %s could not be checked: the document carries no OCSP response or CRL for it%s", who, v.fetchNote()))
		// A signature time-stamp after the revocation proves the signature
		// existed then, not that it was made after the revocation: ETSI EN
		// 319 102-1 gives TOTAL-FAILED/REVOKED only when a content
		// time-stamp (made before signing) is later than the revocation,
		// and INDETERMINATE/REVOKED_NO_POE otherwise (clauses 5.3.4 and
		// 5.5.4); a suspension may be lifted, so it is INDETERMINATE/
		// TRY_LATER (clause 5.2.6.4), as EU DSS says.
		case st.revoked && st.hold:
			p := params("subject", name, "time", st.revokedAt)
			if poe {
				s.failWith(Indeterminate, TryLater, note(CodeSuspended, p, "certificate %s was suspended (certificateHold) on %s, before the signature was time-stamped at %s; the suspension may yet be lifted or become a revocation (%s)", who, stamp(st.revokedAt), stamp(t), st.source))
			} else {
				s.failWith(Indeterminate, TryLater, note(CodeSuspended, p, "certificate %s is suspended (certificateHold) since %s, and no time-stamp proves the signature was made before; the suspension may yet be lifted or become a revocation (%s)", who, stamp(st.revokedAt), st.source))
			}
		case st.revoked:
			p := params("subject", name, "time", st.revokedAt, "reason", reasonName(st.reason))
			if poe {
				s.failWith(Indeterminate, RevokedNoPOE, note(CodeRevoked, p, "certificate %s was revoked (%s) on %s, before the signature was time-stamped at %s: nothing proves the signature was made before the revocation (%s)", who, reasonName(st.reason), stamp(st.revokedAt), stamp(t), st.source))
			} else {
				s.failWith(Indeterminate, RevokedNoPOE, note(CodeRevoked, p, "certificate %s was revoked (%s) on %s, and no time-stamp proves the signature was made before (%s)", who, reasonName(st.reason), stamp(st.revokedAt), st.source))
			}
		case !st.revokedAt.IsZero():
			s.warnWith(note(CodeRevokedAfter, params("subject", name, "time", st.revokedAt, "reason", reasonName(st.reason), "signing_time", t),
				"certificate %s was revoked (%s) on %s, after the signature was time-stamped at %s: the signature stays valid", who, reasonName(st.reason), stamp(st.revokedAt), stamp(t)))
		}
	}
}

func (v *validation) fetchNote() string {
	if v.opts.Fetcher == nil {
		return ", and fetching it was not allowed"
	}
	return ", and fetching it failed"
}

// status looks for revocation data on c at time t: in the DSS, in the
// signature's archival attribute, then online when allowed.
func (v *validation) status(s *sigState, c, issuer *x509.Certificate, t time.Time) status {
	if st := v.validationData().status(&v.memo, c, issuer, t, v.now, "in the document's DSS"); st.known {
		return st
	}
	if !s.poe.IsZero() {
		poe := s.poe // signed into the CMS, so it existed when the signature did
		s.archival.proven = func([]byte) time.Time { return poe }
	}
	if st := s.archival.status(&v.memo, c, issuer, t, v.now, "in the signature"); st.known {
		return st
	}
	if v.opts.Fetcher == nil {
		return status{}
	}
	ctx, cancel := context.WithTimeout(v.ctx, fetchTimeout)
	defer cancel()
	var fetched validationData
	if res, err := v.opts.Fetcher.OCSP(ctx, c, issuer); err == nil {
		fetched.ocsps = append(fetched.ocsps, res.Raw)
	}
	if st := fetched.status(&v.memo, c, issuer, t, v.now, "fetched"); st.known {
		return st
	}
	if res, err := v.opts.Fetcher.CRL(ctx, c, issuer); err == nil {
		fetched.crls = append(fetched.crls, res.Raw)
	}
	return fetched.status(&v.memo, c, issuer, t, v.now, "fetched")
}

// checkStrength flags what is below Circular 15/2025/TT-BKHCN Annex I:
// digests other than SHA-256, SHA-384, SHA-512 and SHA-3, RSA keys of
// fewer than 2048 bits and ECDSA keys on curves smaller than P-256 fail
// the signature (CRYPTO_CONSTRAINTS_FAILURE_NO_POE), for the signer's key
// and for every key and certificate signature of its path (the trust
// anchor's own signature excepted: an anchor is trusted as it is).
//
// RSA signatures made with PKCS#1 v1.5 rather than RSASSA-PSS, which Annex
// I asks for, only warn: the signatures Vietnamese providers have made for
// years, and many CA certificates still in force, are PKCS#1 v1.5, and
// failing them all would make the report useless. The warning says so.
func checkStrength(s *sigState) {
	s.strengthChecked = true
	if sd := s.cms; sd != nil && sd.Signer != nil {
		// A digest cms does not know (Hash 0) was refused by checkCMS.
		if sd.Hash != 0 && !annexIHash(sd.Hash) {
			s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeWeakDigest, params("algorithm", hashName(sd.Hash, sd.DigestAlgorithm.String())),
				"digest algorithm %v is too weak", sd.DigestAlgorithm))
			return
		}
		if !checkKey(s, sd.Signer) {
			return
		}
		if sd.SignatureAlgorithm == cms.RSAPKCS1v15 {
			name := sd.Signer.Subject.CommonName
			s.warnWith(note(CodeRSAPKCS1v15, params("subject", name, "what", "signature"),
				"the signature by %q is RSA PKCS#1 v1.5, not RSASSA-PSS as Circular 15/2025 Annex I requires", name))
		}
	}
	for i, c := range s.path {
		if i > 0 && !checkKey(s, c) { // the signer's key is checked above
			return
		}
		if i == len(s.path)-1 {
			break // the anchor: its self-signature is not relied on
		}
		name := c.Subject.CommonName
		switch c.SignatureAlgorithm {
		case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA:
			s.warnWith(note(CodeRSAPKCS1v15, params("subject", name, "what", "certificate"),
				"certificate %q is signed with RSA PKCS#1 v1.5, not RSASSA-PSS as Circular 15/2025 Annex I requires", name))
		case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
			x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512, x509.PureEd25519:
		default:
			s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeWeakCertSignature, params("subject", name, "algorithm", c.SignatureAlgorithm.String()),
				"certificate %q is signed with %v, which Circular 15/2025 Annex I does not allow", name, c.SignatureAlgorithm))
			return
		}
	}
}

// weakSigned walks up from cert through the certificates in extra, by
// issuer name, and returns the first signed with SHA-1 or MD5, nil when
// none is.
func weakSigned(cert *x509.Certificate, extra []*x509.Certificate) *x509.Certificate {
	c := cert
	for range 10 {
		switch c.SignatureAlgorithm {
		case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
			return c
		}
		var up *x509.Certificate
		for _, e := range extra {
			if e != c && bytes.Equal(e.RawSubject, c.RawIssuer) {
				up = e
				break
			}
		}
		if up == nil {
			return nil
		}
		c = up
	}
	return nil
}

// checkKey fails the signature when c's public key is below Annex I, and
// reports whether it is not.
func checkKey(s *sigState, c *x509.Certificate) bool {
	name := c.Subject.CommonName
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeWeakRSAKey, params("subject", name, "bits", k.N.BitLen()),
				"the RSA key of %q has %d bits, fewer than 2048", name, k.N.BitLen()))
			return false
		}
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeWeakECKey, params("subject", name, "bits", k.Curve.Params().BitSize),
				"the ECDSA key of %q is on a %d-bit curve, smaller than P-256", name, k.Curve.Params().BitSize))
			return false
		}
	case ed25519.PublicKey, ed448.PublicKey:
		// Verified, never made (Annex I does not list EdDSA), as with
		// Brainpool: RFC 8419 signatures from others' signers.
	default:
		s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeUnsupportedKey, params("subject", name, "type", fmt.Sprintf("%T", k)),
			"the key type %T of %q is not accepted", k, name))
		return false
	}
	return true
}

// annexIHash reports whether h is a digest Circular 15/2025 Annex I
// allows: SHA-256, SHA-384, SHA-512, SHA-512/224, SHA-512/256 or SHA-3.
func annexIHash(h crypto.Hash) bool {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA512_224, crypto.SHA512_256,
		crypto.SHA3_224, crypto.SHA3_256, crypto.SHA3_384, crypto.SHA3_512:
		return true
	}
	return false
}

// hashName names h, or the OID when h is unknown.
func hashName(h crypto.Hash, oid string) string {
	if h == 0 {
		return oid
	}
	return h.String()
}

// level is the PAdES baseline level a signature reaches (ETSI EN 319 142-1
// clause 6): B-B with signing-certificate-v2; B-T with a time-stamp over
// it; B-LT when the DSS holds revocation data for its whole path; B-LTA
// when a document time-stamp covers that DSS.
func (v *validation) level(s *sigState) string {
	if s.report.Kind != KindSignature || s.cms == nil || s.report.Indication == TotalFailed {
		return ""
	}
	if s.report.SubFilter == "adbe.pkcs7.detached" {
		return LevelPKCS7
	}
	if s.cms.SigningCertificateV2 == nil {
		return ""
	}
	// The level says what the signature carries: a time-stamp that
	// verified makes it B-T even where the time-stamp proves nothing
	// today.
	t := s.poe
	for _, st := range s.stamps {
		if t.IsZero() || st.at.Before(t) {
			t = st.at
		}
	}
	if t.IsZero() {
		return LevelBB
	}
	if len(s.report.Chain) == 0 || !v.dssCovers(v.validationData(), s, t) {
		return LevelBT
	}
	for _, d := range v.sigs {
		if d.report.Kind != KindDocumentTimestamp || d.done || d.end <= s.end {
			continue
		}
		rd, err := v.revision(d.end)
		if err == nil && v.dssCovers(readDSS(rd), s, t) {
			return LevelLTA
		}
	}
	return LevelBLT
}

// dssCovers reports whether d has revocation data, for time t, for every
// certificate of the signature's path but the anchor.
func (v *validation) dssCovers(d *validationData, s *sigState, t time.Time) bool {
	if d == nil || !d.found {
		return false
	}
	cert, extra := v.signerOf(s)
	inter := append(slices.Clone(d.certs), extra...)
	chains, err := v.memo.verifyChain(v.opts.Roots, cert, inter, t, x509.ExtKeyUsageAny)
	if err != nil {
		return false
	}
	chain := chains[0]
	for i := 0; i+1 < len(chain); i++ {
		if noCheck(chain[i]) {
			continue
		}
		if !d.status(&v.memo, chain[i], chain[i+1], t, v.now, "").known {
			return false
		}
	}
	return true
}

// stamp formats a time for a reason: UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// describe summarises a certificate for the report.
func describe(c *x509.Certificate) *Signer {
	s := &Signer{
		Name:      c.Subject.CommonName,
		Subject:   display.SubjectDN(c),
		Issuer:    display.IssuerDN(c),
		Serial:    display.FormatSerialInt(c.SerialNumber),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
	}
	if len(c.Subject.Organization) > 0 {
		s.Organization = c.Subject.Organization[0]
	}
	if len(c.Subject.OrganizationalUnit) > 0 {
		s.OrganizationalUnit = c.Subject.OrganizationalUnit[0]
	}
	s.IssuerName = c.Issuer.CommonName
	if len(c.Issuer.Organization) > 0 {
		s.IssuerOrganization = c.Issuer.Organization[0]
	}
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(c.RawSubject, &rdns); err == nil {
		for _, rdn := range rdns {
			for _, atv := range rdn {
				v, ok := atv.Value.(string)
				if !ok || !atv.Type.Equal(display.OIDUID) {
					continue
				}
				switch {
				case strings.HasPrefix(v, "CCCD:"):
					s.CCCD = strings.TrimPrefix(v, "CCCD:")
				case strings.HasPrefix(v, "MST:"):
					s.MST = strings.TrimPrefix(v, "MST:")
				}
			}
		}
	}
	return s
}
