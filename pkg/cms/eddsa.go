package cms

import (
	"crypto/ed25519"
	"crypto/sha3"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"hash"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// EdDSA signatures (RFC 8419, ISO 32000-2 §12.8.3.4) are verified, never
// made: Circular 15/2025 Annex I does not list Ed25519 or Ed448, and
// keyAlgorithm, which signing goes through, still refuses their keys.
// PureEd25519 and PureEd448 sign the DER of the signed attributes itself,
// not a digest of it (RFC 8419 section 3.2); the message-digest attribute
// is made with SHA-512 for Ed25519 and SHAKE256 with a 512-bit output for
// Ed448 (section 3.1). crypto/x509 reads Ed25519 keys; Ed448 keys, which it
// leaves unparsed, and their arithmetic come from
// github.com/cloudflare/circl.
const (
	// PureEd25519 is Ed25519 (RFC 8032 section 5.1) as RFC 8419 uses it:
	// verified only.
	PureEd25519 = algid.PureEd25519
	// PureEd448 is Ed448 (RFC 8032 section 5.2) with an empty context, as
	// RFC 8419 uses it: verified only.
	PureEd448 = algid.PureEd448
)

// eddsa reports whether alg signs its input itself, unhashed.
func eddsa(alg SignatureAlgorithm) bool {
	return alg == PureEd25519 || alg == PureEd448
}

// readEd448Key gives c, which crypto/x509 parsed without its key, its
// Ed448 public key when its subjectPublicKeyInfo holds one (RFC 8410
// section 4: id-Ed448, no parameters, the 57-byte key as the BIT STRING).
func readEd448Key(c *x509.Certificate) error {
	if c.PublicKey != nil || c.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm {
		return nil
	}
	s := cryptobyte.String(c.RawSubjectPublicKeyInfo)
	var spki cryptobyte.String
	var bits asn1.BitString
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) {
		return nil
	}
	oid, _, hasParams, err := algid.Read(&spki)
	if err != nil || !oid.Equal(algid.Ed448) {
		return nil
	}
	if hasParams || !spki.ReadASN1BitString(&bits) || !spki.Empty() || bits.BitLength != 8*ed448.PublicKeySize {
		return fmt.Errorf("%w: an Ed448 public key that is not 57 bytes without parameters (RFC 8410 section 4)", ErrMalformed)
	}
	c.PublicKey = ed448.PublicKey(bits.Bytes)
	return nil
}

// shake512 is SHAKE256 with a 512-bit output as a hash.Hash, the digest
// of RFC 8419 section 3.1 for Ed448.
type shake512 struct{ *sha3.SHAKE }

// Size is 64 bytes.
func (shake512) Size() int { return 64 }

// Sum appends the 512-bit output to b, leaving the state as it was.
func (s shake512) Sum(b []byte) []byte {
	st, err := s.MarshalBinary()
	if err != nil {
		panic(err) // the state of a SHAKE always marshals
	}
	c := sha3.NewSHAKE256()
	if err := c.UnmarshalBinary(st); err != nil {
		panic(err)
	}
	out := make([]byte, 64)
	c.Read(out)
	return append(b, out...)
}

// NewDigest returns a hash of SignerInfo.digestAlgorithm, the algorithm
// the message-digest attribute is made with: sd.Hash, or SHAKE256 with a
// 512-bit output (Ed448, RFC 8419). It returns nil for an algorithm kyso
// does not compute.
func (sd *SignedData) NewDigest() hash.Hash {
	switch {
	case sd.shake:
		return shake512{sha3.NewSHAKE256()}
	case checkHash(sd.Hash) == nil:
		return sd.Hash.New()
	}
	return nil
}

// checkEdDSA checks the digest algorithm fits the EdDSA signature (RFC
// 8419 section 3.1): SHAKE256/512 for Ed448 and only for it; SHA-512 for
// Ed25519, where SHA-256 and SHA-384 are taken too, as pyHanko takes them
// (the digest only binds the content).
func (sd *SignedData) checkEdDSA() error {
	switch {
	case sd.SignatureAlgorithm == PureEd448 && !sd.shake:
		return fmt.Errorf("%w: Ed448 with digest algorithm %v (RFC 8419 wants SHAKE256 with 512 bits)", ErrUnsupported, sd.DigestAlgorithm)
	case sd.shake && sd.SignatureAlgorithm != PureEd448:
		return fmt.Errorf("%w: SHAKE256 with %v (RFC 8419 pairs it with Ed448)", ErrUnsupported, sd.SignatureAlgorithm)
	}
	return nil
}

// verifyEdDSA verifies an EdDSA signature over signed with pub.
func verifyEdDSA(pub any, alg SignatureAlgorithm, signed, sig []byte) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if alg == PureEd25519 {
			if !ed25519.Verify(k, signed, sig) {
				return ErrSignature
			}
			return nil
		}
	case ed448.PublicKey:
		if alg == PureEd448 {
			if len(k) != ed448.PublicKeySize || !ed448.Verify(k, signed, sig, "") {
				return ErrSignature
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %v signature with a %T key", ErrUnsupported, alg, pub)
}
