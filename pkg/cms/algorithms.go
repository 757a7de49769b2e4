package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of RFC 5652, RFC 5035, RFC 5754, RFC 4055 and RFC 3161.
var (
	// OIDData is id-data (RFC 5652 section 4), the default content type.
	OIDData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	// OIDSignedData is id-signedData (RFC 5652 section 5).
	OIDSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	// OIDTSTInfo is id-ct-TSTInfo (RFC 3161 section 2.4.2), the content of a
	// time-stamp token.
	OIDTSTInfo = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

	// OIDAttributeContentType is id-contentType (RFC 5652 section 11.1).
	OIDAttributeContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	// OIDAttributeMessageDigest is id-messageDigest (RFC 5652 section 11.2).
	OIDAttributeMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	// OIDAttributeSigningTime is id-signingTime (RFC 5652 section 11.3).
	OIDAttributeSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	// OIDAttributeSigningCertificateV2 is id-aa-signingCertificateV2
	// (RFC 5035 section 3).
	OIDAttributeSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	// OIDAttributeSigningCertificate is id-aa-signingCertificate (RFC 2634
	// section 5.4), the SHA-1 predecessor; recognised, never written.
	OIDAttributeSigningCertificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	// OIDAttributeTimeStampToken is id-aa-signatureTimeStampToken (RFC 3161
	// appendix A, ETSI EN 319 122-1 clause 5.3).
	OIDAttributeTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSASSAPSS     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSAWithSHA2 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA3 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA5 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
)

// SignatureAlgorithm is how the signature value of a SignerInfo is made.
type SignatureAlgorithm int

// The signature algorithms of Circular 15/2025/TT-BKHCN Annex I that kyso
// makes and verifies.
const (
	// SignatureDefault is the zero value: RSAPSS for an RSA key, ECDSA for an
	// ECDSA key. RSASSA-PSS is the default for RSA because Circular
	// 15/2025/TT-BKHCN Annex I names it (PKCS#1 v2.1 and later).
	SignatureDefault SignatureAlgorithm = iota
	// RSAPKCS1v15 is RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2), written as
	// rsaEncryption, which RFC 3370 section 3.2 says every CMS
	// implementation supports. Only by explicit request.
	RSAPKCS1v15
	// RSAPSS is RSASSA-PSS (RFC 8017 section 8.1, RFC 4056) with MGF1 over
	// the same hash and a salt as long as the hash.
	RSAPSS
	// ECDSA is ecdsa-with-SHA256/384/512 (RFC 5753 section 2.1.1, RFC 5754
	// section 3.3), the signature value DER Ecdsa-Sig-Value.
	ECDSA
)

// String returns the algorithm's name.
func (a SignatureAlgorithm) String() string {
	switch a {
	case SignatureDefault:
		return "default"
	case RSAPKCS1v15:
		return "rsa-pkcs1v15"
	case RSAPSS:
		return "rsa-pss"
	case ECDSA:
		return "ecdsa"
	}
	return fmt.Sprintf("SignatureAlgorithm(%d)", int(a))
}

// parseSignatureAlgorithm is the inverse of String for the concrete
// algorithms.
func parseSignatureAlgorithm(s string) (SignatureAlgorithm, error) {
	for _, a := range []SignatureAlgorithm{RSAPKCS1v15, RSAPSS, ECDSA} {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("cms: unknown signature algorithm %q", s)
}

// Errors callers tell apart with errors.Is.
var (
	// ErrUnsupported: an algorithm, key or structure kyso does not make or
	// verify.
	ErrUnsupported = errors.New("cms: unsupported")
	// ErrMalformed: the input is not a well-formed DER SignedData within
	// Parse's limits.
	ErrMalformed = errors.New("cms: malformed")
	// ErrSignature: a signature value does not verify with the signer's key.
	ErrSignature = errors.New("cms: signature does not verify")
	// ErrMessageDigest: the message-digest attribute does not match the
	// content's digest — the content was changed or is the wrong one.
	ErrMessageDigest = errors.New("cms: message digest does not match the content")
	// ErrSigningCertificate: the signing-certificate-v2 attribute is missing or
	// names another certificate than the signer's.
	ErrSigningCertificate = errors.New("cms: signing-certificate-v2 does not match the signer certificate")
	// ErrTimestamp: a time-stamp token is malformed or is not over this
	// signature value.
	ErrTimestamp = errors.New("cms: time-stamp token does not fit")
)

// hashName returns the name kyso uses for h in serialised state.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	}
	return h.String()
}

func parseHashName(s string) (crypto.Hash, error) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if hashName(h) == s {
			return h, nil
		}
	}
	return 0, fmt.Errorf("%w: hash %q", ErrUnsupported, s)
}

// checkHash accepts the SHA-2 hashes of Circular 15/2025 Annex I that kyso's
// key stores sign with.
func checkHash(h crypto.Hash) error {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return nil
	}
	return fmt.Errorf("%w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrUnsupported, h)
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA256:
		return oidSHA256
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return nil
}

func hashFromOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// keyAlgorithm picks the signature algorithm for pub and checks the key is
// one Circular 15/2025 Annex I allows: RSA of 2048 to 8192 bits, ECDSA on
// P-256, P-384 or P-521.
func keyAlgorithm(pub crypto.PublicKey, want SignatureAlgorithm) (SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return 0, fmt.Errorf("%w: RSA key of %d bits (Circular 15/2025 Annex I wants at least 2048)", ErrUnsupported, n)
		}
		switch want {
		case SignatureDefault:
			return RSAPSS, nil
		case RSAPSS, RSAPKCS1v15:
			return want, nil
		}
		return 0, fmt.Errorf("%w: %v with an RSA key", ErrUnsupported, want)
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return 0, fmt.Errorf("%w: ECDSA on %s", ErrUnsupported, k.Curve.Params().Name)
		}
		if want != SignatureDefault && want != ECDSA {
			return 0, fmt.Errorf("%w: %v with an ECDSA key", ErrUnsupported, want)
		}
		return ECDSA, nil
	}
	return 0, fmt.Errorf("%w: public key type %T (Circular 15/2025 Annex I allows RSA and ECDSA)", ErrUnsupported, pub)
}

// signerOpts returns what crypto.Signer.Sign takes for alg and h.
func signerOpts(alg SignatureAlgorithm, h crypto.Hash) crypto.SignerOpts {
	if alg == RSAPSS {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return h
}

// checkSignature verifies sig over digest the way kyso writes the algorithm:
// a PSS salt exactly saltLen bytes long (RFC 4055 section 3.1).
func checkSignature(pub crypto.PublicKey, alg SignatureAlgorithm, h crypto.Hash, saltLen int, digest, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case RSAPKCS1v15:
			if err := rsa.VerifyPKCS1v15(k, h, digest, sig); err != nil {
				return ErrSignature
			}
			return nil
		case RSAPSS:
			if err := rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: saltLen, Hash: h}); err != nil {
				return ErrSignature
			}
			return nil
		}
	case *ecdsa.PublicKey:
		if alg == ECDSA {
			if !ecdsa.VerifyASN1(k, digest, sig) {
				return ErrSignature
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %v signature with a %T key", ErrUnsupported, alg, pub)
}

// addAlgorithmIdentifier writes an AlgorithmIdentifier with absent
// parameters, as RFC 5754 section 2 says SHA-2 identifiers are generated.
func addAlgorithmIdentifier(b *cryptobyte.Builder, oid asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
	})
}

// addNullAlgorithmIdentifier writes an AlgorithmIdentifier with NULL
// parameters.
func addNullAlgorithmIdentifier(b *cryptobyte.Builder, oid asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1NULL()
	})
}

// addSignatureAlgorithm writes SignerInfo.signatureAlgorithm:
//   - RSAPKCS1v15: rsaEncryption with NULL parameters (RFC 3370 section 3.2);
//   - RSAPSS: id-RSASSA-PSS with RSASSA-PSS-params (RFC 4055 section 3.1):
//     hashAlgorithm h, maskGenAlgorithm MGF1 with h, saltLength the hash
//     length, and trailerField 1, which DER omits as the DEFAULT; the hash
//     identifiers carry NULL parameters as in crypto/x509 and OpenSSL;
//   - ECDSA: ecdsa-with-SHA256/384/512 without parameters (RFC 5754
//     section 3.3).
func addSignatureAlgorithm(b *cryptobyte.Builder, alg SignatureAlgorithm, h crypto.Hash) {
	switch alg {
	case RSAPKCS1v15:
		addNullAlgorithmIdentifier(b, oidRSAEncryption)
	case RSAPSS:
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSASSAPSS)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					addNullAlgorithmIdentifier(b, hashOID(h))
				})
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						addNullAlgorithmIdentifier(b, hashOID(h))
					})
				})
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(h.Size()))
				})
			})
		})
	case ECDSA:
		switch h {
		case crypto.SHA256:
			addAlgorithmIdentifier(b, oidECDSAWithSHA2)
		case crypto.SHA384:
			addAlgorithmIdentifier(b, oidECDSAWithSHA3)
		default:
			addAlgorithmIdentifier(b, oidECDSAWithSHA5)
		}
	default:
		b.SetError(fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, alg))
	}
}

// parseSignatureAlgorithmID reads SignerInfo.signatureAlgorithm (the
// contents of the AlgorithmIdentifier SEQUENCE) and returns the algorithm,
// the hash it names (0 when it names none, as rsaEncryption) and the PSS
// salt length.
func parseSignatureAlgorithmID(oid asn1.ObjectIdentifier, params cryptobyte.String, hasParams bool) (SignatureAlgorithm, crypto.Hash, int, error) {
	switch {
	case oid.Equal(oidRSAEncryption):
		return RSAPKCS1v15, 0, 0, nil
	case oid.Equal(oidSHA256WithRSA):
		return RSAPKCS1v15, crypto.SHA256, 0, nil
	case oid.Equal(oidSHA384WithRSA):
		return RSAPKCS1v15, crypto.SHA384, 0, nil
	case oid.Equal(oidSHA512WithRSA):
		return RSAPKCS1v15, crypto.SHA512, 0, nil
	case oid.Equal(oidECDSAWithSHA2):
		return ECDSA, crypto.SHA256, 0, nil
	case oid.Equal(oidECDSAWithSHA3):
		return ECDSA, crypto.SHA384, 0, nil
	case oid.Equal(oidECDSAWithSHA5):
		return ECDSA, crypto.SHA512, 0, nil
	case oid.Equal(oidRSASSAPSS):
		if !hasParams {
			return 0, 0, 0, fmt.Errorf("%w: RSASSA-PSS without parameters", ErrUnsupported)
		}
		h, salt, err := parsePSSParams(params)
		return RSAPSS, h, salt, err
	}
	return 0, 0, 0, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, oid)
}

// parsePSSParams reads RSASSA-PSS-params (RFC 4055 section 3.1). kyso
// verifies only MGF1 with the same hash as the message and trailerField 1.
func parsePSSParams(params cryptobyte.String) (crypto.Hash, int, error) {
	var seq cryptobyte.String
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS-params", ErrMalformed)
	}
	h, mgfHash, salt, trailer := crypto.SHA1, crypto.SHA1, int64(20), int64(1)
	var field cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS hashAlgorithm", ErrMalformed)
	}
	if present {
		oid, _, _, err := readAlgorithmIdentifier(&field)
		if err != nil || !field.Empty() {
			return 0, 0, fmt.Errorf("%w: RSASSA-PSS hashAlgorithm", ErrMalformed)
		}
		h = hashFromOID(oid)
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS maskGenAlgorithm", ErrMalformed)
	}
	if present {
		oid, p, hasP, err := readAlgorithmIdentifier(&field)
		if err != nil || !field.Empty() || !oid.Equal(oidMGF1) || !hasP {
			return 0, 0, fmt.Errorf("%w: RSASSA-PSS mask generation other than MGF1", ErrUnsupported)
		}
		moid, _, _, err := readAlgorithmIdentifier(&p)
		if err != nil || !p.Empty() {
			return 0, 0, fmt.Errorf("%w: MGF1 parameters", ErrMalformed)
		}
		mgfHash = hashFromOID(moid)
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS saltLength", ErrMalformed)
	}
	if present && (!field.ReadASN1Int64WithTag(&salt, cbasn1.INTEGER) || !field.Empty()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS saltLength", ErrMalformed)
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS trailerField", ErrMalformed)
	}
	if present && (!field.ReadASN1Int64WithTag(&trailer, cbasn1.INTEGER) || !field.Empty()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS trailerField", ErrMalformed)
	}
	if !seq.Empty() {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS-params has trailing data", ErrMalformed)
	}
	switch {
	case checkHash(h) != nil:
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS with hash %v", ErrUnsupported, h)
	case mgfHash != h:
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS with MGF1 hash %v and message hash %v", ErrUnsupported, mgfHash, h)
	case trailer != 1:
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS trailerField %d", ErrUnsupported, trailer)
	case salt < 0 || salt > 1024:
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS saltLength %d", ErrUnsupported, salt)
	}
	return h, int(salt), nil
}

// readAlgorithmIdentifier reads an AlgorithmIdentifier SEQUENCE from s and
// returns its OID and the parameters' full TLV, if any.
func readAlgorithmIdentifier(s *cryptobyte.String) (asn1.ObjectIdentifier, cryptobyte.String, bool, error) {
	var seq cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false, fmt.Errorf("%w: AlgorithmIdentifier", ErrMalformed)
	}
	if seq.Empty() {
		return oid, nil, false, nil
	}
	var params cryptobyte.String
	if !seq.ReadAnyASN1Element(&params, new(cbasn1.Tag)) || !seq.Empty() {
		return nil, nil, false, fmt.Errorf("%w: AlgorithmIdentifier parameters", ErrMalformed)
	}
	return oid, params, true, nil
}

// readDigestAlgorithm reads a DigestAlgorithmIdentifier, accepting absent
// or NULL parameters (RFC 5754 section 2).
func readDigestAlgorithm(s *cryptobyte.String) (crypto.Hash, asn1.ObjectIdentifier, error) {
	oid, params, has, err := readAlgorithmIdentifier(s)
	if err != nil {
		return 0, nil, err
	}
	if has && string(params) != "\x05\x00" {
		return 0, nil, fmt.Errorf("%w: digest algorithm parameters", ErrMalformed)
	}
	return hashFromOID(oid), oid, nil
}
