package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// digestInfoPrefixes are the DER prefixes of PKCS#1 v1.5 DigestInfo
// (RFC 8017 section 9.2, note 1) for the hashes kyso signs with.
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// SupportedHash reports whether kyso's backends sign digests made with h:
// SHA-256, SHA-384 and SHA-512.
func SupportedHash(h crypto.Hash) bool {
	_, ok := digestInfoPrefixes[h]
	return ok
}

// DigestInfo returns the PKCS#1 v1.5 DigestInfo encoding of digest, which a
// raw RSA PKCS#1 v1.5 mechanism (CKM_RSA_PKCS) pads and signs.
func DigestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	prefix, ok := digestInfoPrefixes[h]
	if !ok {
		return nil, fmt.Errorf("hsm: %w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrUnsupportedSignature, h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("hsm: %w: digest is %d bytes, %v needs %d", ErrUnsupportedSignature, len(digest), h, h.Size())
	}
	out := make([]byte, 0, len(prefix)+len(digest))
	return append(append(out, prefix...), digest...), nil
}

// SignParams is what a backend needs to know about one Sign call, worked out
// from the crypto.SignerOpts by CheckSignRequest.
type SignParams struct {
	// Hash is the digest algorithm; 0 for Ed25519, which signs the message.
	Hash crypto.Hash
	// PSS is true for RSASSA-PSS.
	PSS bool
	// SaltLength is the PSS salt length in bytes: always the hash length,
	// which every verifier accepts (rsa.PSSSaltLengthAuto finds it) and which
	// PKCS#11 tokens and Vault support.
	SaltLength int
}

// CheckSignRequest validates a crypto.Signer.Sign call for a key of algorithm
// alg and returns what the backend must do. It refuses what kyso does not
// sign: hashes other than SHA-2, digests of the wrong length, PSS salt lengths
// other than the hash length (or Auto), and Ed25519 pre-hashed variants.
func CheckSignRequest(alg Algorithm, digest []byte, opts crypto.SignerOpts) (SignParams, error) {
	if opts == nil {
		return SignParams{}, fmt.Errorf("hsm: %w: nil SignerOpts", ErrUnsupportedSignature)
	}
	h := opts.HashFunc()
	switch {
	case alg == Ed25519:
		if h != 0 {
			return SignParams{}, fmt.Errorf("hsm: %w: Ed25519 signs the message itself, not a %v digest", ErrUnsupportedSignature, h)
		}
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return SignParams{}, fmt.Errorf("hsm: %w: Ed25519 contexts", ErrUnsupportedSignature)
		}
		return SignParams{}, nil
	case !SupportedHash(h):
		return SignParams{}, fmt.Errorf("hsm: %w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrUnsupportedSignature, h)
	case len(digest) != h.Size():
		return SignParams{}, fmt.Errorf("hsm: %w: digest is %d bytes, %v needs %d", ErrUnsupportedSignature, len(digest), h, h.Size())
	}
	p := SignParams{Hash: h}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		if !alg.IsRSA() {
			return SignParams{}, fmt.Errorf("hsm: %w: PSS with a %s key", ErrUnsupportedSignature, alg)
		}
		switch pss.SaltLength {
		case rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, h.Size():
		default:
			return SignParams{}, fmt.Errorf("hsm: %w: PSS salt length %d (only the hash length, %d, is supported)", ErrUnsupportedSignature, pss.SaltLength, h.Size())
		}
		p.PSS = true
		p.SaltLength = h.Size()
	}
	return p, nil
}

// ECDSARawToASN1 converts an ECDSA signature in the PKCS#11 form r||s (each
// half the same length) to the ASN.1 SEQUENCE { r, s } that crypto/ecdsa and
// X.509 expect. It encodes the INTEGERs directly, without reflection: it
// runs once per signature on the hot path.
func ECDSARawToASN1(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 || len(raw) > 2*66 {
		return nil, fmt.Errorf("hsm: ECDSA signature from device is %d bytes, not r||s", len(raw))
	}
	n := len(raw) / 2
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addUnsignedInteger(b, raw[:n])
		addUnsignedInteger(b, raw[n:])
	})
	return b.Bytes()
}

// addUnsignedInteger appends a DER INTEGER whose value is the big-endian
// unsigned v: leading zeros dropped, one 0x00 added when the top bit is set.
func addUnsignedInteger(b *cryptobyte.Builder, v []byte) {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) {
		if len(v) == 0 || v[0]&0x80 != 0 {
			b.AddUint8(0)
		}
		b.AddBytes(v)
	})
}

// VerifySignature checks sig over digest (or the message, for Ed25519) with
// pub, the way relying parties will. Backends that cannot prove which key
// signed (a remote service) use it to refuse a signature made with another
// key than the one they expect.
func VerifySignature(pub crypto.PublicKey, digest, sig []byte, p SignParams) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if p.PSS {
			return rsa.VerifyPSS(k, p.Hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}
		return rsa.VerifyPKCS1v15(k, p.Hash, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("hsm: %w: public key type %T", ErrUnsupportedAlgorithm, pub)
}

// AlgorithmOf returns the Algorithm of a public key, or an error for key types
// and sizes kyso does not use.
func AlgorithmOf(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048, nil
		case 3072:
			return RSA3072, nil
		case 4096:
			return RSA4096, nil
		}
		return "", fmt.Errorf("hsm: %w: RSA-%d", ErrUnsupportedAlgorithm, k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return ECDSAP256, nil
		case 384:
			return ECDSAP384, nil
		}
		return "", fmt.Errorf("hsm: %w: ECDSA on %s", ErrUnsupportedAlgorithm, k.Curve.Params().Name)
	case ed25519.PublicKey:
		return Ed25519, nil
	}
	return "", fmt.Errorf("hsm: %w: public key type %T", ErrUnsupportedAlgorithm, pub)
}

// SamePublicKey reports whether a and b are the same public key.
func SamePublicKey(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && string(da) == string(db)
}
