package cms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// VerifyOptions say how far Verify goes beyond the signature itself. The
// zero value checks the signature, the attributes and the signer's key
// usage, but not the certificate chain.
type VerifyOptions struct {
	// Roots are the trust anchors. WARNING: nil means the chain is not
	// checked at all — Verify then shows only that whoever holds the
	// certificate's key signed, not that anyone vouches for the certificate.
	Roots *x509.CertPool
	// Intermediates are extra intermediate certificates; those in the
	// SignedData are used as well.
	Intermediates *x509.CertPool
	// CurrentTime is when the chain must be valid; zero means now. For a
	// B-T signature a caller would pass the time-stamp's GenTime.
	CurrentTime time.Time
	// KeyUsages are the extended key usages the signer certificate must
	// chain to; empty means any (x509.ExtKeyUsageAny), since crypto/x509
	// does not know id-kp-documentSigning (RFC 9336).
	KeyUsages []x509.ExtKeyUsage
	// SigningCertificateOptional accepts a SignerInfo without
	// signing-certificate-v2, as PDF's adbe.pkcs7.detached signatures
	// (ISO 32000-2 §12.8.3.3) may be; when the attribute is present it
	// must still match. CAdES (ETSI.CAdES.detached) requires it, so the
	// zero value does too.
	SigningCertificateOptional bool
	// SignedAttributesOptional accepts a SignerInfo without signed
	// attributes, whose signature is over contentDigest itself, as PDF's
	// adbe.pkcs7.detached signatures may be (ISO 32000-1 §12.8.3.3.1);
	// CAdES requires them, so the zero value does too.
	SignedAttributesOptional bool
}

// Verify checks the SignedData against contentDigest, the digest of the
// content it signs (for PAdES, of the ByteRange), computed with
// sd.NewDigest():
//   - the signed attributes are present, with a content-type equal to
//     eContentType and a message-digest equal to contentDigest (RFC 5652
//     section 5.6);
//   - signing-certificate-v2 names the signer certificate (RFC 5035, ETSI
//     EN 319 122-1 clause 5.2.2.3);
//   - the signature over the signed attributes verifies with the signer's
//     key (PKCS#1 v1.5, RSASSA-PSS or ECDSA, with the digest algorithm's
//     hash; Ed25519 or Ed448 over the attributes themselves, RFC 8419);
//   - the signer certificate allows digitalSignature or contentCommitment;
//   - every signature-time-stamp token's message imprint made with SHA-256,
//     SHA-384 or SHA-512 is the hash of the signature value (ETSI EN 319
//     122-1 clause 5.3); tokens with other imprint algorithms are left to
//     the caller;
//   - with opts.Roots, the certificate chains to a root at
//     opts.CurrentTime.
//
// Errors wrap ErrMessageDigest, ErrSignature, ErrSigningCertificate,
// ErrTimestamp, ErrUnsupported or ErrMalformed. The tokens' own signatures
// and TSA certificates are not checked here; pkg/tsa's client does that.
func (sd *SignedData) Verify(contentDigest []byte, opts VerifyOptions) error {
	if sd.Signer == nil {
		return fmt.Errorf("%w: the signer's certificate is not in the SignedData", ErrSigningCertificate)
	}
	if sd.SignedAttrs == nil && !opts.SignedAttributesOptional {
		return fmt.Errorf("%w: no signed attributes (CAdES requires them, ETSI EN 319 122-1 clause 5.2)", ErrUnsupported)
	}
	d := sd.NewDigest()
	if d == nil {
		return fmt.Errorf("%w (digest algorithm %v)", checkHash(sd.Hash), sd.DigestAlgorithm)
	}
	if len(contentDigest) != d.Size() {
		return fmt.Errorf("cms: content digest is %d bytes, %v needs %d", len(contentDigest), sd.DigestAlgorithm, d.Size())
	}
	if sd.SignedAttrs == nil {
		if eddsa(sd.SignatureAlgorithm) {
			// Its value would sign the content itself, the whole byte
			// range, not a digest of it (RFC 8419 section 3.2).
			return fmt.Errorf("%w: an EdDSA signature without signed attributes", ErrUnsupported)
		}
		return sd.verifyValue(contentDigest, opts)
	}
	switch {
	case sd.ContentTypeAttribute == nil:
		return fmt.Errorf("%w: no content-type attribute", ErrMalformed)
	case !sd.ContentTypeAttribute.Equal(sd.ContentType):
		return fmt.Errorf("%w: content-type attribute %v but eContentType %v", ErrMalformed, sd.ContentTypeAttribute, sd.ContentType)
	case sd.MessageDigest == nil:
		return fmt.Errorf("%w: no message-digest attribute", ErrMalformed)
	case !bytes.Equal(sd.MessageDigest, contentDigest):
		return ErrMessageDigest
	case sd.SigningCertificateV2 == nil && !opts.SigningCertificateOptional:
		return fmt.Errorf("%w: the attribute is missing", ErrSigningCertificate)
	case sd.SigningCertificateV2 != nil && !sd.SigningCertificateV2.Matches(sd.Signer):
		return ErrSigningCertificate
	}
	signed := sd.SignedAttrs // EdDSA signs them unhashed
	if !eddsa(sd.SignatureAlgorithm) {
		d.Write(sd.SignedAttrs)
		signed = d.Sum(nil)
	}
	if err := sd.checkValue(signed); err != nil {
		return err
	}
	return sd.checkTimestamps(opts)
}

// checkTimestamps checks the signature time-stamps' imprints, then the
// chain.
func (sd *SignedData) checkTimestamps(opts VerifyOptions) error {
	for i, ts := range sd.Timestamps {
		if ts.Hash == 0 {
			// An imprint algorithm kyso does not sign with (SHA-1, say):
			// whether it still proves anything is the caller's policy.
			continue
		}
		if !ts.Covers(sd.Signature) {
			return fmt.Errorf("%w: token %d is not over this signature value", ErrTimestamp, i+1)
		}
	}
	return sd.verifyChain(opts)
}

// checkValue checks the signature value over signed (the digest of the
// signed attributes, or of the content when there are none) with the
// signer's key, and the key's usage.
func (sd *SignedData) checkValue(signed []byte) error {
	if sd.sigAlgErr != nil {
		return sd.sigAlgErr
	}
	if sd.sigAlgHash != 0 && sd.sigAlgHash != sd.Hash {
		return fmt.Errorf("%w: signature algorithm hash %v differs from digest algorithm %v", ErrUnsupported, sd.sigAlgHash, sd.Hash)
	}
	if eddsa(sd.SignatureAlgorithm) {
		// Verified, never made: see eddsa.go.
		if err := sd.checkEdDSA(); err != nil {
			return err
		}
		if err := verifyEdDSA(sd.Signer.PublicKey, sd.SignatureAlgorithm, signed, sd.Signature); err != nil {
			return err
		}
		return checkKeyUsage(sd.Signer)
	}
	if k, ok := sd.Signer.PublicKey.(*ecdsa.PublicKey); ok && isBrainpool(k.Curve) && sd.SignatureAlgorithm == ECDSA {
		// Verified, never made: kyso signs on the curves Annex I lists.
	} else if alg, err := keyAlgorithm(sd.Signer.PublicKey, sd.SignatureAlgorithm); err != nil {
		return err
	} else if alg != sd.SignatureAlgorithm {
		return fmt.Errorf("%w: %v with the signer's key", ErrUnsupported, sd.SignatureAlgorithm)
	}
	if err := checkSignature(sd.Signer.PublicKey, sd.SignatureAlgorithm, sd.Hash, sd.PSSSaltLength, signed, sd.Signature); err != nil {
		return err
	}
	return checkKeyUsage(sd.Signer)
}

// verifyValue verifies a SignerInfo without signed attributes: its
// signature is over the content's digest itself (RFC 5652 section 5.4).
func (sd *SignedData) verifyValue(contentDigest []byte, opts VerifyOptions) error {
	if err := sd.checkValue(contentDigest); err != nil {
		return err
	}
	return sd.checkTimestamps(opts)
}

// verifyChain checks, with opts.Roots, that the signer's certificate
// chains to a root at opts.CurrentTime.
func (sd *SignedData) verifyChain(opts VerifyOptions) error {
	if opts.Roots == nil {
		return nil
	}
	inter := x509.NewCertPool()
	if opts.Intermediates != nil {
		inter = opts.Intermediates.Clone()
	}
	for _, c := range sd.Certificates {
		if c != sd.Signer {
			inter.AddCert(c)
		}
	}
	usages := opts.KeyUsages
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	if _, err := sd.Signer.Verify(x509.VerifyOptions{Roots: opts.Roots, Intermediates: inter, CurrentTime: opts.CurrentTime, KeyUsages: usages}); err != nil {
		return fmt.Errorf("cms: signer certificate chain: %w", err)
	}
	return nil
}

// errNoSigner is returned by helpers that need the signature value.
var errNoSigner = errors.New("cms: no signature value")
