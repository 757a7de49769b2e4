package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"strings"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
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
)

// SignatureAlgorithm is how the signature value of a SignerInfo is made:
// algid's Scheme, named here for what it is in CMS.
type SignatureAlgorithm = algid.Scheme

// The signature algorithms of Circular 15/2025/TT-BKHCN Annex I that kyso
// makes and verifies.
const (
	// SignatureDefault is the zero value: RSAPSS for an RSA key, ECDSA for an
	// ECDSA key. RSASSA-PSS is the default for RSA because Circular
	// 15/2025/TT-BKHCN Annex I names it (PKCS#1 v2.1 and later).
	SignatureDefault = algid.SchemeDefault
	// RSAPKCS1v15 is RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2), written as
	// rsaEncryption, which RFC 3370 section 3.2 says every CMS
	// implementation supports. Only by explicit request.
	RSAPKCS1v15 = algid.RSAPKCS1v15
	// RSAPSS is RSASSA-PSS (RFC 8017 section 8.1, RFC 4056) with MGF1 over
	// the same hash and a salt as long as the hash.
	RSAPSS = algid.RSAPSS
	// ECDSA is ecdsa-with-SHA256/384/512 (RFC 5753 section 2.1.1, RFC 5754
	// section 3.3), the signature value DER Ecdsa-Sig-Value.
	ECDSA = algid.ECDSA
)

// parseSignatureAlgorithm is the inverse of String for the concrete
// algorithms.
func parseSignatureAlgorithm(s string) (SignatureAlgorithm, error) {
	if a, ok := algid.ParseScheme(s); ok {
		return a, nil
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
	if algid.SHA2(h) {
		return nil
	}
	return fmt.Errorf("%w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrUnsupported, h)
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
			if k.E > maxGoRSAExponent {
				return verifyPKCS1v15Big(k, h, digest, sig)
			}
			if err := rsa.VerifyPKCS1v15(k, h, digest, sig); err != nil {
				return ErrSignature
			}
			return nil
		case RSAPSS:
			if k.E > maxGoRSAExponent {
				return fmt.Errorf("%w: RSASSA-PSS with the public exponent %d, above crypto/rsa's limit", ErrUnsupported, k.E)
			}
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

// addSignatureAlgorithm writes SignerInfo.signatureAlgorithm:
//   - RSAPKCS1v15: rsaEncryption with NULL parameters (RFC 3370 section 3.2);
//   - RSAPSS: id-RSASSA-PSS with RSASSA-PSS-params (algid.AddPSS);
//   - ECDSA: ecdsa-with-SHA256/384/512 without parameters (RFC 5754
//     section 3.3).
func addSignatureAlgorithm(b *cryptobyte.Builder, alg SignatureAlgorithm, h crypto.Hash) {
	switch alg {
	case RSAPKCS1v15:
		algid.Add(b, algid.RSAEncryption, true)
	case RSAPSS:
		algid.AddPSS(b, h)
	case ECDSA:
		algid.Add(b, algid.SignatureOID(algid.ECDSA, h), false)
	default:
		b.SetError(fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, alg))
	}
}

// parseSignatureAlgorithmID reads SignerInfo.signatureAlgorithm (the
// contents of the AlgorithmIdentifier SEQUENCE) and returns the algorithm,
// the hash it names (0 when it names none, as rsaEncryption) and the PSS
// salt length. kyso verifies RSASSA-PSS only with MGF1 over the message's
// hash and trailerField 1.
func parseSignatureAlgorithmID(oid asn1.ObjectIdentifier, params cryptobyte.String, hasParams bool) (SignatureAlgorithm, crypto.Hash, int, error) {
	scheme, h := algid.Signature(oid)
	switch {
	case scheme == SignatureDefault || oid.Equal(algid.ECPublicKey):
		return 0, 0, 0, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, oid)
	case eddsa(scheme) && hasParams:
		return 0, 0, 0, fmt.Errorf("%w: %v with parameters (RFC 8410 section 3 has none)", ErrMalformed, oid)
	case scheme != RSAPSS:
		return scheme, h, 0, nil
	case !hasParams:
		return 0, 0, 0, fmt.Errorf("%w: RSASSA-PSS without parameters", ErrUnsupported)
	}
	p, err := algid.ParsePSS(params)
	switch {
	case err != nil:
		return 0, 0, 0, algidErr(err)
	case checkHash(p.Hash) != nil:
		return 0, 0, 0, fmt.Errorf("%w: RSASSA-PSS with hash %v", ErrUnsupported, p.Hash)
	case p.MGFHash != p.Hash:
		return 0, 0, 0, fmt.Errorf("%w: RSASSA-PSS with MGF1 hash %v and message hash %v", ErrUnsupported, p.MGFHash, p.Hash)
	}
	return RSAPSS, p.Hash, p.SaltLength, nil
}

// readAlgorithmIdentifier is algid.Read with this package's errors.
func readAlgorithmIdentifier(s *cryptobyte.String) (asn1.ObjectIdentifier, cryptobyte.String, bool, error) {
	oid, params, has, err := algid.Read(s)
	return oid, params, has, algidErr(err)
}

// algidErr gives an error of algid this package's sentinel, keeping its
// message.
func algidErr(err error) error {
	for _, e := range []struct{ from, to error }{{algid.ErrMalformed, ErrMalformed}, {algid.ErrUnsupported, ErrUnsupported}} {
		if errors.Is(err, e.from) {
			return fmt.Errorf("%w%s", e.to, strings.TrimPrefix(err.Error(), e.from.Error()))
		}
	}
	return err
}

// readDigestAlgorithm reads a DigestAlgorithmIdentifier, accepting absent
// or NULL parameters (RFC 5754 section 2).
func readDigestAlgorithm(s *cryptobyte.String) (crypto.Hash, asn1.ObjectIdentifier, error) {
	oid, params, has, err := readAlgorithmIdentifier(s)
	if err != nil {
		return 0, nil, err
	}
	if algid.SHAKE256With512(oid, params, has) {
		return 0, oid, nil // Ed448's: see SignedData.NewDigest
	}
	if !algid.NullOrAbsent(params, has) {
		return 0, nil, fmt.Errorf("%w: digest algorithm parameters", ErrMalformed)
	}
	h := algid.Hash(oid)
	if !algid.SHA2(h) {
		h = 0 // not one kyso computes: the caller says so with the OID
	}
	return h, oid, nil
}

// maxGoRSAExponent is the largest public exponent crypto/rsa verifies with.
const maxGoRSAExponent = 1<<31 - 1

// digestInfoPrefix is the DER DigestInfo before the digest, for
// EMSA-PKCS1-v1_5 (RFC 8017 section 9.2, note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// verifyPKCS1v15Big is RSASSA-PKCS1-v1_5 verification (RFC 8017 section
// 8.2.2) with math/big, for a public exponent above crypto/rsa's limit:
// RFC 8017 allows any odd exponent below the modulus, python's
// cryptography and pyHanko verify with them, and some certificates carry
// one. Only public values are involved, so a variable-time computation
// leaks nothing.
func verifyPKCS1v15Big(k *rsa.PublicKey, h crypto.Hash, digest, sig []byte) error {
	prefix, ok := digestInfoPrefix[h]
	if !ok || len(digest) != h.Size() {
		return fmt.Errorf("%w: hash %v", ErrUnsupported, h)
	}
	size := (k.N.BitLen() + 7) / 8
	tLen := len(prefix) + len(digest)
	if len(sig) != size || size < tLen+11 || k.E%2 == 0 {
		return ErrSignature
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(k.N) >= 0 {
		return ErrSignature
	}
	em := s.Exp(s, big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, size))
	want := make([]byte, size)
	want[1] = 0x01
	for i := 2; i < size-tLen-1; i++ {
		want[i] = 0xff
	}
	copy(want[size-tLen:], prefix)
	copy(want[size-len(digest):], digest)
	if !bytes.Equal(em, want) {
		return ErrSignature
	}
	return nil
}
