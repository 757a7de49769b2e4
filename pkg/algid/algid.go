// Package algid holds the algorithm identifiers (RFC 5280 section 4.1.1.2)
// of the hashes and signatures kyso makes and reads, once for every
// package that writes or parses them: CMS and PAdES signatures, time-stamp
// tokens, OCSP responses, and the dotted OIDs of the CSC API.
//
// It knows the SHA-2 family of RFC 5754 (and SHA-1, SHA-224 and SHA-3 so
// that a request naming them can be refused by name), RSASSA-PKCS1-v1_5
// and RSASSA-PSS (RFC 8017, RFC 4055) and ECDSA (RFC 5758), and, to read
// others' signatures, Ed25519 and Ed448 (RFC 8410, RFC 8419). It imports
// nothing of kyso's.
package algid

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Hash algorithm identifiers (RFC 5754 section 2, RFC 3279, FIPS 202 as
// NIST registers them).
var (
	MD5      = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	SHA1     = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	SHA224   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	SHA256   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	SHA384   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	SHA512   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	SHA3_256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 8}
	SHA3_384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 9}
	SHA3_512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 10}
	// SHAKE256 is id-shake256 and SHAKE256Len id-shake256-len, whose
	// parameters are the output length in bits (RFC 8702 section 2):
	// Ed448's digest in CMS, with 512 bits (RFC 8419 section 2.3). Neither
	// is a crypto.Hash; see SHAKE256With512.
	SHAKE256    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 12}
	SHAKE256Len = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 18}
)

// Signature and key algorithm identifiers (RFC 8017 appendix A, RFC 4055
// section 3, RFC 5758 section 3.2, RFC 5480 section 2.1.1, RFC 8410).
var (
	RSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	MGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	RSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	SHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	SHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	SHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	ECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	ECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	ECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	ECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	Ed25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
	Ed448           = asn1.ObjectIdentifier{1, 3, 101, 113}
)

var hashes = []struct {
	h   crypto.Hash
	oid asn1.ObjectIdentifier
}{
	{crypto.MD5, MD5}, {crypto.SHA1, SHA1}, {crypto.SHA224, SHA224},
	{crypto.SHA256, SHA256}, {crypto.SHA384, SHA384}, {crypto.SHA512, SHA512},
	{crypto.SHA3_256, SHA3_256}, {crypto.SHA3_384, SHA3_384}, {crypto.SHA3_512, SHA3_512},
}

// Hash returns the hash oid identifies, or 0 when it is none of this
// package's.
func Hash(oid asn1.ObjectIdentifier) crypto.Hash {
	for _, e := range hashes {
		if e.oid.Equal(oid) {
			return e.h
		}
	}
	return 0
}

// HashOID returns the identifier of h, or nil when this package does not
// know h.
func HashOID(h crypto.Hash) asn1.ObjectIdentifier {
	for _, e := range hashes {
		if e.h == h {
			return e.oid
		}
	}
	return nil
}

// Dotted parses an OID written with dots ("2.16.840.1.101.3.4.2.1"), as
// JSON APIs such as CSC carry them; nil when s is not one (at most 32
// arcs of at most 9 digits each, no signs, spaces or empty arcs).
func Dotted(s string) asn1.ObjectIdentifier {
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 || len(arcs) > 32 {
		return nil
	}
	oid := make(asn1.ObjectIdentifier, len(arcs))
	for i, a := range arcs {
		if a == "" || len(a) > 9 || strings.Trim(a, "0123456789") != "" || (len(a) > 1 && a[0] == '0') {
			return nil
		}
		oid[i], _ = strconv.Atoi(a)
	}
	return oid
}

// SHA2 reports whether h is SHA-256, SHA-384 or SHA-512: the hashes of
// Circular 15/2025/TT-BKHCN Annex I that kyso signs with.
func SHA2(h crypto.Hash) bool {
	return h == crypto.SHA256 || h == crypto.SHA384 || h == crypto.SHA512
}

// Scheme is how a signature value is made from a digest.
type Scheme int

// The schemes of Circular 15/2025/TT-BKHCN Annex I.
const (
	// SchemeDefault is the zero value: the key's default (RSAPSS for an
	// RSA key, ECDSA for an EC key), or, from Signature, an identifier
	// this package does not know.
	SchemeDefault Scheme = iota
	// RSAPKCS1v15 is RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2).
	RSAPKCS1v15
	// RSAPSS is RSASSA-PSS (RFC 8017 section 8.1, RFC 4055).
	RSAPSS
	// ECDSA is ECDSA with a SHA-2 hash (RFC 5758 section 3.2); the
	// signature value is DER Ecdsa-Sig-Value.
	ECDSA
	// PureEd25519 and PureEd448 are EdDSA without pre-hashing (RFC 8032,
	// RFC 8410, RFC 8419): read and verified, never made, as Annex I does
	// not list them.
	PureEd25519
	PureEd448
)

// String returns the scheme's name, as kyso writes it in serialised state.
func (s Scheme) String() string {
	switch s {
	case SchemeDefault:
		return "default"
	case RSAPKCS1v15:
		return "rsa-pkcs1v15"
	case RSAPSS:
		return "rsa-pss"
	case ECDSA:
		return "ecdsa"
	case PureEd25519:
		return "ed25519"
	case PureEd448:
		return "ed448"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// ParseScheme is the inverse of String for the concrete schemes kyso
// signs with (not PureEd25519 or PureEd448).
func ParseScheme(name string) (Scheme, bool) {
	for _, s := range []Scheme{RSAPKCS1v15, RSAPSS, ECDSA} {
		if s.String() == name {
			return s, true
		}
	}
	return SchemeDefault, false
}

var signatures = []struct {
	oid    asn1.ObjectIdentifier
	scheme Scheme
	h      crypto.Hash
}{
	{RSAEncryption, RSAPKCS1v15, 0},
	{SHA256WithRSA, RSAPKCS1v15, crypto.SHA256},
	{SHA384WithRSA, RSAPKCS1v15, crypto.SHA384},
	{SHA512WithRSA, RSAPKCS1v15, crypto.SHA512},
	{RSASSAPSS, RSAPSS, 0},
	{ECPublicKey, ECDSA, 0},
	{ECDSAWithSHA256, ECDSA, crypto.SHA256},
	{ECDSAWithSHA384, ECDSA, crypto.SHA384},
	{ECDSAWithSHA512, ECDSA, crypto.SHA512},
	{Ed25519, PureEd25519, 0},
	{Ed448, PureEd448, 0},
}

// Signature returns the scheme a signature algorithm identifier names and
// the hash it names, 0 when it names none (rsaEncryption, id-RSASSA-PSS,
// whose hash is in its parameters, id-ecPublicKey, which CMS and RFC
// 3161 signers write for ECDSA, and id-Ed25519 and id-Ed448, which hash
// nothing first). It returns SchemeDefault for an
// identifier it does not know.
func Signature(oid asn1.ObjectIdentifier) (Scheme, crypto.Hash) {
	for _, e := range signatures {
		if e.oid.Equal(oid) {
			return e.scheme, e.h
		}
	}
	return SchemeDefault, 0
}

// SignatureOID returns the identifier of scheme with hash h as kyso writes
// it: sha*WithRSAEncryption, id-RSASSA-PSS (its parameters by AddPSS) or
// ecdsa-with-SHA*; nil for other pairs.
func SignatureOID(s Scheme, h crypto.Hash) asn1.ObjectIdentifier {
	if s == RSAPSS {
		if SHA2(h) {
			return RSASSAPSS
		}
		return nil
	}
	for _, e := range signatures {
		if e.scheme == s && e.h == h && h != 0 {
			return e.oid
		}
	}
	return nil
}

// SHAKE256With512 reports whether a digest AlgorithmIdentifier, as Read
// returns it, is SHAKE256 with a 512-bit output, as RFC 8419 section 2.3
// has Ed448 signers write it: id-shake256-len with the parameter 512, or
// id-shake256 without parameters, which pyHanko also reads so.
func SHAKE256With512(oid asn1.ObjectIdentifier, params cryptobyte.String, hasParams bool) bool {
	if oid.Equal(SHAKE256) {
		return !hasParams
	}
	var bits int64
	return oid.Equal(SHAKE256Len) && hasParams && params.ReadASN1Int64WithTag(&bits, cbasn1.INTEGER) && params.Empty() && bits == 512
}

// Add writes an AlgorithmIdentifier for oid, with NULL parameters when
// null is set (RSA's identifiers, RFC 8017 appendix A.1) and with them
// absent otherwise (SHA-2 and ECDSA, RFC 5754 section 2, RFC 5758 section
// 3.2).
func Add(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

// AddPSS writes the AlgorithmIdentifier id-RSASSA-PSS with
// RSASSA-PSS-params (RFC 4055 section 3.1) for hash h: hashAlgorithm h,
// maskGenAlgorithm MGF1 with h, saltLength the length of h, and
// trailerField 1, which DER omits as the DEFAULT. The hash identifiers
// carry NULL parameters, as crypto/x509 and OpenSSL write them.
func AddPSS(b *cryptobyte.Builder, h crypto.Hash) {
	if !SHA2(h) {
		b.SetError(fmt.Errorf("algid: RSASSA-PSS with hash %v", h))
		return
	}
	hashID := func(b *cryptobyte.Builder) { Add(b, HashOID(h), true) }
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(RSASSAPSS)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), hashID)
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(MGF1)
					hashID(b)
				})
			})
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1Int64(int64(h.Size()))
			})
		})
	})
}

// Errors of Read and ParsePSS, for errors.Is.
var (
	// ErrMalformed: not the DER the RFC defines.
	ErrMalformed = errors.New("algid: malformed")
	// ErrUnsupported: well formed, but not what kyso signs or verifies.
	ErrUnsupported = errors.New("algid: unsupported")
)

// Read reads an AlgorithmIdentifier SEQUENCE from s and returns its OID
// and its parameters' whole TLV, if any.
func Read(s *cryptobyte.String) (oid asn1.ObjectIdentifier, params cryptobyte.String, hasParams bool, err error) {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false, fmt.Errorf("%w: AlgorithmIdentifier", ErrMalformed)
	}
	if seq.Empty() {
		return oid, nil, false, nil
	}
	if !seq.ReadAnyASN1Element(&params, new(cbasn1.Tag)) || !seq.Empty() {
		return nil, nil, false, fmt.Errorf("%w: AlgorithmIdentifier parameters", ErrMalformed)
	}
	return oid, params, true, nil
}

// NullOrAbsent reports whether AlgorithmIdentifier parameters, as Read
// returns them, are absent or NULL: what RFC 5754 section 2 and RFC 4055
// section 2.1 accept for a hash.
func NullOrAbsent(params cryptobyte.String, hasParams bool) bool {
	return !hasParams || string(params) == "\x05\x00"
}

// PSS is what RSASSA-PSS-params say, defaults filled in.
type PSS struct {
	// Hash is the message's hash; MGFHash MGF1's.
	Hash, MGFHash crypto.Hash
	// SaltLength is the salt's length in bytes.
	SaltLength int
}

// Exact reports whether p is how kyso signs with h and how crypto/x509
// verifies RSASSA-PSS: hash h, MGF1 with h, a salt as long as h.
func (p PSS) Exact(h crypto.Hash) bool {
	return p.Hash == h && p.MGFHash == h && p.SaltLength == h.Size()
}

// ParsePSS reads the parameters of id-RSASSA-PSS (RFC 4055 section 3.1),
// the whole TLV as Read returns them. Absent fields take their DEFAULTs
// (SHA-1, MGF1 with SHA-1, 20, 1). It refuses a mask generation function
// other than MGF1, a trailerField other than 1, a salt longer than 1024
// bytes, and hash identifiers it does not know or whose parameters are
// neither NULL nor absent.
func ParsePSS(params cryptobyte.String) (PSS, error) {
	var seq cryptobyte.String
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS-params", ErrMalformed)
	}
	p := PSS{Hash: crypto.SHA1, MGFHash: crypto.SHA1, SaltLength: 20}
	hashID := func(s cryptobyte.String, what string) (crypto.Hash, error) {
		oid, params, has, err := Read(&s)
		if err != nil || !s.Empty() || !NullOrAbsent(params, has) {
			return 0, fmt.Errorf("%w: RSASSA-PSS %s", ErrMalformed, what)
		}
		if h := Hash(oid); h != 0 {
			return h, nil
		}
		return 0, fmt.Errorf("%w: RSASSA-PSS %s %v", ErrUnsupported, what, oid)
	}
	var field cryptobyte.String
	var present bool
	var err error
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS hashAlgorithm", ErrMalformed)
	}
	if present {
		if p.Hash, err = hashID(field, "hashAlgorithm"); err != nil {
			return PSS{}, err
		}
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS maskGenAlgorithm", ErrMalformed)
	}
	if present {
		oid, mp, hasP, err := Read(&field)
		if err != nil || !field.Empty() || !oid.Equal(MGF1) || !hasP {
			return PSS{}, fmt.Errorf("%w: RSASSA-PSS mask generation other than MGF1", ErrUnsupported)
		}
		if p.MGFHash, err = hashID(mp, "MGF1 hash"); err != nil {
			return PSS{}, err
		}
	}
	var salt, trailer int64 = 20, 1
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) ||
		present && (!field.ReadASN1Int64WithTag(&salt, cbasn1.INTEGER) || !field.Empty()) {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS saltLength", ErrMalformed)
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) ||
		present && (!field.ReadASN1Int64WithTag(&trailer, cbasn1.INTEGER) || !field.Empty()) {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS trailerField", ErrMalformed)
	}
	if !seq.Empty() {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS-params has trailing data", ErrMalformed)
	}
	if trailer != 1 {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS trailerField %d", ErrUnsupported, trailer)
	}
	if salt < 0 || salt > 1024 {
		return PSS{}, fmt.Errorf("%w: RSASSA-PSS saltLength %d", ErrUnsupported, salt)
	}
	p.SaltLength = int(salt)
	return p, nil
}
