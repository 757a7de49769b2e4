package cms

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // ESSCertID hashes, RFC 2634
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kyso-pki/kyso/pkg/algid"
)

// Attribute is one CMS attribute (RFC 5652 section 5.3): a type and its
// values, each value kept as its DER element.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// ESSCertIDv2 identifies a certificate by hash and, optionally, by issuer
// and serial number (RFC 5035 section 4).
type ESSCertIDv2 struct {
	// Hash is the hash over the whole certificate DER; SHA-256 when the
	// hashAlgorithm field is absent, its DEFAULT.
	Hash crypto.Hash
	// CertHash is Hash over the certificate's DER.
	CertHash []byte
	// Issuer is the DER Name of the issuer in issuerSerial, nil when
	// issuerSerial is absent.
	Issuer []byte
	// Serial is the serial number in issuerSerial, nil when absent.
	Serial *big.Int
}

// Matches reports whether id names cert: the hash over cert's DER and,
// when issuerSerial is present, its issuer and serial number.
func (id *ESSCertIDv2) Matches(cert *x509.Certificate) bool {
	if id == nil || cert == nil || !id.Hash.Available() {
		return false
	}
	h := id.Hash.New()
	h.Write(cert.Raw)
	if !bytes.Equal(h.Sum(nil), id.CertHash) {
		return false
	}
	if id.Serial != nil {
		return bytes.Equal(id.Issuer, cert.RawIssuer) && id.Serial.Cmp(cert.SerialNumber) == 0
	}
	return true
}

// encodeAttribute returns the DER Attribute of type oid with the single
// value add writes.
func encodeAttribute(oid asn1.ObjectIdentifier, add func(*cryptobyte.Builder)) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, add)
	})
	return b.Bytes()
}

// encodeSetOf returns the contents of a DER SET OF the given elements:
// sorted by their encodings (X.690 clause 11.6).
func encodeSetOf(elems [][]byte) []byte {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	return bytes.Join(sorted, nil)
}

// signedAttributes returns the contents (without tag and length) of the
// SignedAttributes SET of RFC 5652 section 5.3 for a CAdES-B-B signature
// (ETSI EN 319 122-1 clause 5.2): content-type, message-digest,
// signing-certificate-v2 and, only when signingTime is not zero,
// signing-time.
func signedAttributes(contentType asn1.ObjectIdentifier, digest []byte, cert *x509.Certificate, signingTime time.Time, issuerSerial bool) ([]byte, error) {
	var attrs [][]byte
	a, err := encodeAttribute(OIDAttributeContentType, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(contentType)
	})
	if err != nil {
		return nil, fmt.Errorf("cms: encoding content-type: %w", err)
	}
	attrs = append(attrs, a)
	a, err = encodeAttribute(OIDAttributeMessageDigest, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(digest)
	})
	if err != nil {
		return nil, fmt.Errorf("cms: encoding message-digest: %w", err)
	}
	attrs = append(attrs, a)
	a, err = encodeAttribute(OIDAttributeSigningCertificateV2, func(b *cryptobyte.Builder) {
		addSigningCertificateV2(b, cert, issuerSerial)
	})
	if err != nil {
		return nil, fmt.Errorf("cms: encoding signing-certificate-v2: %w", err)
	}
	attrs = append(attrs, a)
	if !signingTime.IsZero() {
		t := signingTime.UTC()
		a, err = encodeAttribute(OIDAttributeSigningTime, func(b *cryptobyte.Builder) {
			// RFC 5652 section 11.3: UTCTime from 1950 to 2049.
			if t.Year() >= 1950 && t.Year() < 2050 {
				b.AddASN1UTCTime(t)
			} else {
				b.AddASN1GeneralizedTime(t)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("cms: encoding signing-time: %w", err)
		}
		attrs = append(attrs, a)
	}
	return encodeSetOf(attrs), nil
}

// addSigningCertificateV2 writes SigningCertificateV2 (RFC 5035 section 3)
// with one ESSCertIDv2: the SHA-256 hash of cert — hashAlgorithm omitted,
// as DER omits the DEFAULT id-sha256 — and, when issuerSerial is set, the
// issuer and serial number (which ETSI EN 319 122-1 clause 6.3 requirement
// g says baseline signatures should leave out).
func addSigningCertificateV2(b *cryptobyte.Builder, cert *x509.Certificate, issuerSerial bool) {
	h := crypto.SHA256.New()
	h.Write(cert.Raw)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(h.Sum(nil))
				if !issuerSerial {
					return
				}
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
}

// parseAttributes reads the contents of a SET OF Attribute, at most
// maxAttributes of them, each with at most maxAttributeValues values.
func parseAttributes(s cryptobyte.String) ([]Attribute, error) {
	var attrs []Attribute
	for !s.Empty() {
		if len(attrs) == maxAttributes {
			return nil, fmt.Errorf("%w: more than %d attributes", ErrMalformed, maxAttributes)
		}
		var attr, values cryptobyte.String
		var a Attribute
		if !s.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&a.Type) || !attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return nil, fmt.Errorf("%w: attribute", ErrMalformed)
		}
		for !values.Empty() {
			if len(a.Values) == maxAttributeValues {
				return nil, fmt.Errorf("%w: attribute %v has more than %d values", ErrMalformed, a.Type, maxAttributeValues)
			}
			var v cryptobyte.String
			if !values.ReadAnyASN1Element(&v, new(cbasn1.Tag)) {
				return nil, fmt.Errorf("%w: value of attribute %v", ErrMalformed, a.Type)
			}
			a.Values = append(a.Values, v)
		}
		if len(a.Values) == 0 {
			return nil, fmt.Errorf("%w: attribute %v has no value", ErrMalformed, a.Type)
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

// single returns the only value of the attribute of type oid, nil when the
// attribute is absent, and an error when it appears twice or has several
// values (RFC 5652 section 11: content-type, message-digest and
// signing-time are single-valued; RFC 5035 likewise for
// signing-certificate-v2).
func single(attrs []Attribute, oid asn1.ObjectIdentifier) ([]byte, error) {
	var v []byte
	for _, a := range attrs {
		if !a.Type.Equal(oid) {
			continue
		}
		if v != nil || len(a.Values) != 1 {
			return nil, fmt.Errorf("%w: attribute %v must appear once with one value", ErrMalformed, oid)
		}
		v = a.Values[0]
	}
	return v, nil
}

// parseSigningCertificateV2 returns the first ESSCertIDv2 of a
// SigningCertificateV2 value, the one that names the signer (RFC 5035
// section 3).
func parseSigningCertificateV2(v []byte) (*ESSCertIDv2, error) {
	return parseESSCertID(v, crypto.SHA256)
}

// parseSigningCertificate returns the first ESSCertID of an ESS
// SigningCertificate value (RFC 2634 section 5.4): an ESSCertIDv2 without
// hashAlgorithm, its certHash SHA-1. Whether SHA-1 still names a
// certificate well enough is the caller's policy.
func parseSigningCertificate(v []byte) (*ESSCertIDv2, error) {
	return parseESSCertID(v, crypto.SHA1)
}

// parseESSCertID reads the first ESSCertID(v2) of a SigningCertificate(V2)
// whose hash is def unless the ESSCertIDv2 names another.
func parseESSCertID(v []byte, def crypto.Hash) (*ESSCertIDv2, error) {
	s := cryptobyte.String(v)
	var sc, certs, id cryptobyte.String
	if !s.ReadASN1(&sc, cbasn1.SEQUENCE) || !s.Empty() || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: signing-certificate-v2", ErrMalformed)
	}
	out := &ESSCertIDv2{Hash: def}
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		h, oid, err := readDigestAlgorithm(&id)
		if err != nil {
			return nil, err
		}
		if h == 0 && oid.Equal(algid.SHA1) {
			h = crypto.SHA1 // the caller judges it by its dated policy
		}
		if h == 0 {
			return nil, fmt.Errorf("%w: signing-certificate-v2 hash %v", ErrUnsupported, oid)
		}
		out.Hash = h
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) || len(certHash) != out.Hash.Size() {
		return nil, fmt.Errorf("%w: signing-certificate-v2 certHash", ErrMalformed)
	}
	out.CertHash = bytes.Clone(certHash)
	if !id.Empty() {
		var is, names, name cryptobyte.String
		out.Serial = new(big.Int)
		if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !id.Empty() ||
			!is.ReadASN1(&names, cbasn1.SEQUENCE) || !is.ReadASN1Integer(out.Serial) || !is.Empty() ||
			!names.ReadASN1(&name, cbasn1.Tag(4).Constructed().ContextSpecific()) || !names.Empty() {
			return nil, fmt.Errorf("%w: signing-certificate-v2 issuerSerial (one directoryName expected)", ErrMalformed)
		}
		var rdn cryptobyte.String
		if !name.ReadASN1Element(&rdn, cbasn1.SEQUENCE) || !name.Empty() {
			return nil, fmt.Errorf("%w: signing-certificate-v2 issuer name", ErrMalformed)
		}
		out.Issuer = bytes.Clone(rdn)
	}
	return out, nil
}

// parseTime reads a UTCTime or GeneralizedTime (RFC 5652 section 11.3).
func parseTime(v []byte) (time.Time, error) {
	s := cryptobyte.String(v)
	var t time.Time
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) {
			return t, fmt.Errorf("%w: UTCTime", ErrMalformed)
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		var raw cryptobyte.String
		if !s.ReadASN1(&raw, cbasn1.GeneralizedTime) {
			return t, fmt.Errorf("%w: GeneralizedTime", ErrMalformed)
		}
		// RFC 3161 genTime may carry fractions of a second.
		var err error
		if t, err = time.Parse("20060102150405.999999999Z", string(raw)); err != nil {
			return t, fmt.Errorf("%w: GeneralizedTime %q", ErrMalformed, raw)
		}
	default:
		return t, fmt.Errorf("%w: time", ErrMalformed)
	}
	if !s.Empty() {
		return t, fmt.Errorf("%w: trailing data after time", ErrMalformed)
	}
	return t, nil
}
