package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Limits of Parse. A PAdES signature with its chain and a time-stamp token
// is a few tens of kilobytes; these leave room for long chains and
// revocation data while bounding the work hostile input can cause.
const (
	// MaxSize is the largest input Parse accepts, trailing padding
	// included.
	MaxSize = 4 << 20
	// maxCertificates bounds SignedData.certificates.
	maxCertificates = 64
	// maxAttributes bounds each of signedAttrs and unsignedAttrs.
	maxAttributes = 64
	// maxAttributeValues bounds the values of one attribute.
	maxAttributeValues = 16
	// maxDigestAlgorithms bounds SignedData.digestAlgorithms.
	maxDigestAlgorithms = 8
	// maxTimestamps bounds the signature-time-stamp tokens of a signature.
	maxTimestamps = 8
	// maxDepth is how deep SignedData nests in SignedData: a signature and
	// the time-stamp tokens in its unsigned attributes. Tokens inside
	// tokens are kept as bytes, not parsed.
	maxDepth = 1
)

// SignedData is a parsed CMS SignedData (RFC 5652 section 5) with one
// SignerInfo, as PAdES and RFC 3161 use it.
type SignedData struct {
	// Raw is the DER ContentInfo, without any trailing padding.
	Raw []byte
	// Version is SignedData.version.
	Version int
	// ContentType is encapContentInfo.eContentType.
	ContentType asn1.ObjectIdentifier
	// Content is encapContentInfo.eContent; nil for a detached signature.
	Content []byte
	// Certificates are the X.509 certificates of SignedData.certificates,
	// in order; other certificate formats are skipped.
	Certificates []*x509.Certificate
	// Signer is the certificate among Certificates that the SignerInfo's
	// sid names; nil when none does.
	Signer *x509.Certificate
	// Unreadable are the X.509 certificates crypto/x509 refuses (a
	// Brainpool key, an RSA exponent above its limit), which are not in
	// Certificates: the caller says what that means for the signature.
	Unreadable []UnreadableCertificate

	// Hash is SignerInfo.digestAlgorithm, 0 when it is not SHA-256, SHA-384
	// or SHA-512 (SHAKE256 for Ed448 is not a crypto.Hash: NewDigest
	// computes either); DigestAlgorithm is its OID.
	Hash            crypto.Hash
	DigestAlgorithm asn1.ObjectIdentifier
	// SignatureAlgorithm is how Signature was made, SignatureDefault when
	// kyso does not know the algorithm (Verify then says why).
	SignatureAlgorithm SignatureAlgorithm
	// SignatureAlgorithmOID is SignerInfo.signatureAlgorithm's OID.
	SignatureAlgorithmOID asn1.ObjectIdentifier
	// PSSSaltLength is the salt length in RSASSA-PSS-params.
	PSSSaltLength int
	// Signature is SignerInfo.signature, the signature value.
	Signature []byte

	// SignedAttrs is the DER SET OF Attribute that was signed (the IMPLICIT
	// [0] tag of SignerInfo replaced by the SET tag, RFC 5652 section 5.4);
	// nil when the SignerInfo has no signed attributes.
	SignedAttrs []byte
	// SignedAttributes are the attributes of SignedAttrs.
	SignedAttributes []Attribute
	// MessageDigest is the message-digest attribute's value.
	MessageDigest []byte
	// ContentTypeAttribute is the content-type attribute's value.
	ContentTypeAttribute asn1.ObjectIdentifier
	// SigningCertificateV2 is the first ESSCertIDv2 of the
	// signing-certificate-v2 attribute (RFC 5035), or of the older
	// signing-certificate (RFC 2634) when only that is there; nil when
	// both are absent.
	SigningCertificateV2 *ESSCertIDv2
	// SigningCertificateV1 is true when SigningCertificateV2 was read from
	// ESS signing-certificate (RFC 2634, SHA-1), there being no v2.
	SigningCertificateV1 bool
	// SigningTime is the signing-time attribute's value, zero when absent.
	SigningTime time.Time

	// UnsignedAttributes are SignerInfo.unsignedAttrs.
	UnsignedAttributes []Attribute
	// Timestamps are the signature-time-stamp tokens among
	// UnsignedAttributes (ETSI EN 319 122-1 clause 5.3). Not filled in for a
	// SignedData that is itself a time-stamp token.
	Timestamps []*Timestamp

	shake      bool        // the digest algorithm is SHAKE256/512 (Ed448)
	sigAlgErr  error       // why SignatureAlgorithm is unknown
	sigAlgHash crypto.Hash // the hash the signature algorithm names, if any
	parts      *parts
}

// UnreadableCertificate is a certificate of SignedData.certificates that
// crypto/x509 does not parse, and why.
type UnreadableCertificate struct {
	Raw []byte
	Err error
}

// certificateShaped reports whether el is a SEQUENCE of a TBSCertificate
// SEQUENCE, an AlgorithmIdentifier and a BIT STRING, as a Certificate is
// (RFC 5280 section 4.1): one crypto/x509 refuses for what it holds, not
// for its form.
func certificateShaped(el cryptobyte.String) bool {
	var c, tbs, alg cryptobyte.String
	var sig asn1.BitString
	return el.ReadASN1(&c, cbasn1.SEQUENCE) && c.ReadASN1(&tbs, cbasn1.SEQUENCE) && c.ReadASN1(&alg, cbasn1.SEQUENCE) &&
		c.ReadASN1BitString(&sig) && c.Empty()
}

// Timestamp is an RFC 3161 TimeStampToken and what its TSTInfo says.
// Parse does not check the token's signature; pkg/tsa's client does.
type Timestamp struct {
	// Token is the TimeStampToken, a DER ContentInfo.
	Token []byte
	// SignedData is the token parsed.
	SignedData *SignedData
	// Policy is TSTInfo.policy.
	Policy asn1.ObjectIdentifier
	// Hash is messageImprint.hashAlgorithm, 0 when not SHA-256/384/512.
	Hash crypto.Hash
	// HashedMessage is messageImprint.hashedMessage.
	HashedMessage []byte
	// SerialNumber is TSTInfo.serialNumber.
	SerialNumber *big.Int
	// GenTime is TSTInfo.genTime.
	GenTime time.Time
}

// Covers reports whether the token's message imprint is the hash of data.
func (t *Timestamp) Covers(data []byte) bool {
	return t != nil && checkHash(t.Hash) == nil && bytes.Equal(digest(t.Hash, data), t.HashedMessage)
}

// parts are the pieces of a SignedData with one SignerInfo, as DER, so a
// SignedData can be written again with unsigned attributes added.
type parts struct {
	version      int64
	digestAlgs   []byte   // DigestAlgorithmIdentifiers, whole element
	encap        []byte   // EncapsulatedContentInfo, whole element
	certsPresent bool     // whether [0] certificates is there
	certs        [][]byte // CertificateChoices, whole elements
	crls         []byte   // [1] crls, whole element, nil when absent
	si           signerInfoParts
}

type signerInfoParts struct {
	version     int64
	sid         []byte   // SignerIdentifier, whole element
	digestAlg   []byte   // whole element
	signedAttrs []byte   // contents of the SET; nil when absent
	sigAlg      []byte   // whole element
	signature   []byte   // octets
	unsigned    [][]byte // Attribute elements
}

var (
	tagCtx0 = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1 = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagSKI  = cbasn1.Tag(0).ContextSpecific()
)

// encode writes p as a DER ContentInfo.
func (p *parts) encode() ([]byte, error) {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(OIDSignedData)
			b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1Int64(p.version)
					b.AddBytes(p.digestAlgs)
					b.AddBytes(p.encap)
					if p.certsPresent || len(p.certs) > 0 {
						b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
							for _, c := range p.certs {
								b.AddBytes(c)
							}
						})
					}
					b.AddBytes(p.crls)
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						si := &p.si
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1Int64(si.version)
							b.AddBytes(si.sid)
							b.AddBytes(si.digestAlg)
							if si.signedAttrs != nil {
								b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(si.signedAttrs) })
							}
							b.AddBytes(si.sigAlg)
							b.AddASN1OctetString(si.signature)
							if len(si.unsigned) > 0 {
								b.AddASN1(tagCtx1, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetOf(si.unsigned)) })
							}
						})
					})
				})
			})
		})
	})
}

// Parse reads a ContentInfo holding a SignedData with exactly one
// SignerInfo (ETSI EN 319 142-1 clause 6.3 allows one signer per PDF
// signature). Zero bytes after the ContentInfo are ignored: a PDF's
// /Contents is padded with them (ISO 32000-1 section 12.8.1). A BER
// encoding is converted to DER first (see DER), and Raw is the DER. Parse
// bounds its work (MaxSize and the limits on counts and nesting above),
// and returns an error wrapping ErrMalformed or ErrUnsupported for what it
// cannot read; it does not verify anything.
func Parse(ber []byte) (*SignedData, error) {
	der, err := DER(ber)
	if err != nil {
		return nil, err
	}
	return parse(der, 0)
}

func parse(der []byte, depth int) (*SignedData, error) {
	if len(der) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(der), MaxSize)
	}
	in := cryptobyte.String(der)
	var raw, ci, content, sdSeq cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1Element(&raw, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: not a DER ContentInfo", ErrMalformed)
	}
	if !in.Empty() {
		return nil, fmt.Errorf("%w: data after the ContentInfo", ErrMalformed)
	}
	ciRaw := raw
	if !raw.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, fmt.Errorf("%w: ContentInfo", ErrMalformed)
	}
	if !ct.Equal(OIDSignedData) {
		return nil, fmt.Errorf("%w: content type %v, not signed data", ErrUnsupported, ct)
	}
	if !ci.ReadASN1(&content, tagCtx0) || !ci.Empty() || !content.ReadASN1(&sdSeq, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, fmt.Errorf("%w: ContentInfo content", ErrMalformed)
	}
	sd := &SignedData{Raw: bytes.Clone(ciRaw), parts: &parts{}}
	p := sd.parts

	// SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
	// certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL,
	// signerInfos } (RFC 5652 section 5.1).
	var digestAlgs, encap, certs, signerInfos cryptobyte.String
	var hasCerts bool
	if !sdSeq.ReadASN1Integer(&p.version) || p.version < 0 || p.version > 5 {
		return nil, fmt.Errorf("%w: SignedData version", ErrMalformed)
	}
	sd.Version = int(p.version)
	if !sdSeq.ReadASN1Element(&digestAlgs, cbasn1.SET) {
		return nil, fmt.Errorf("%w: digestAlgorithms", ErrMalformed)
	}
	p.digestAlgs = digestAlgs
	var algs cryptobyte.String
	digestAlgs.ReadASN1(&algs, cbasn1.SET)
	for n := 0; !algs.Empty(); n++ {
		if n == maxDigestAlgorithms {
			return nil, fmt.Errorf("%w: more than %d digest algorithms", ErrMalformed, maxDigestAlgorithms)
		}
		if _, _, _, err := readAlgorithmIdentifier(&algs); err != nil {
			return nil, err
		}
	}
	if !sdSeq.ReadASN1Element(&encap, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: encapContentInfo", ErrMalformed)
	}
	p.encap = encap
	if err := sd.parseEncap(encap); err != nil {
		return nil, err
	}
	if !sdSeq.ReadOptionalASN1(&certs, &hasCerts, tagCtx0) {
		return nil, fmt.Errorf("%w: certificates", ErrMalformed)
	}
	p.certsPresent = hasCerts
	for !certs.Empty() {
		if len(p.certs) == maxCertificates {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrMalformed, maxCertificates)
		}
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&el, &tag) {
			return nil, fmt.Errorf("%w: certificate", ErrMalformed)
		}
		p.certs = append(p.certs, el)
		if tag != cbasn1.SEQUENCE {
			continue // attribute or other certificate formats (RFC 5652 section 10.2.2)
		}
		c, err := x509.ParseCertificate(el)
		if err != nil {
			if bc, berr := parseBrainpool(el); berr == nil {
				c, err = bc, nil
			}
		} else {
			err = readEd448Key(c)
		}
		if err != nil && certificateShaped(el) {
			sd.Unreadable = append(sd.Unreadable, UnreadableCertificate{Raw: bytes.Clone(el), Err: err})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrMalformed, len(p.certs), err)
		}
		sd.Certificates = append(sd.Certificates, c)
	}
	var crlsEl cryptobyte.String
	if sdSeq.PeekASN1Tag(tagCtx1) {
		if !sdSeq.ReadASN1Element(&crlsEl, tagCtx1) {
			return nil, fmt.Errorf("%w: crls", ErrMalformed)
		}
		p.crls = crlsEl
	}
	if !sdSeq.ReadASN1(&signerInfos, cbasn1.SET) || !sdSeq.Empty() {
		return nil, fmt.Errorf("%w: signerInfos", ErrMalformed)
	}
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: no SignerInfo", ErrMalformed)
	}
	if !signerInfos.Empty() {
		return nil, fmt.Errorf("%w: more than one SignerInfo", ErrUnsupported)
	}
	if err := sd.parseSignerInfo(si, depth); err != nil {
		return nil, err
	}
	return sd, nil
}

// parseEncap reads EncapsulatedContentInfo (RFC 5652 section 5.2).
func (sd *SignedData) parseEncap(el cryptobyte.String) error {
	var seq, explicit, octets cryptobyte.String
	var has bool
	if !el.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&sd.ContentType) ||
		!seq.ReadOptionalASN1(&explicit, &has, tagCtx0) || !seq.Empty() {
		return fmt.Errorf("%w: encapContentInfo", ErrMalformed)
	}
	if has {
		if !explicit.ReadASN1(&octets, cbasn1.OCTET_STRING) || !explicit.Empty() {
			return fmt.Errorf("%w: eContent (DER, a primitive OCTET STRING)", ErrMalformed)
		}
		sd.Content = bytes.Clone(octets)
	}
	return nil
}

// parseSignerInfo reads SignerInfo (RFC 5652 section 5.3).
func (sd *SignedData) parseSignerInfo(s cryptobyte.String, depth int) error {
	si := &sd.parts.si
	if !s.ReadASN1Integer(&si.version) || (si.version != 1 && si.version != 3) {
		return fmt.Errorf("%w: SignerInfo version", ErrMalformed)
	}
	var sid, digestAlg, attrs, sigAlg, sig, unsigned cryptobyte.String
	var hasAttrs, hasUnsigned bool
	var issuer cryptobyte.String
	serial := new(big.Int)
	var ski cryptobyte.String
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias cryptobyte.String
		if !s.ReadASN1Element(&sid, cbasn1.SEQUENCE) {
			return fmt.Errorf("%w: sid", ErrMalformed)
		}
		c := sid
		if !c.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !ias.ReadASN1Integer(serial) || !ias.Empty() {
			return fmt.Errorf("%w: issuerAndSerialNumber", ErrMalformed)
		}
	case s.PeekASN1Tag(tagSKI):
		if !s.ReadASN1Element(&sid, tagSKI) {
			return fmt.Errorf("%w: sid", ErrMalformed)
		}
		c := sid
		c.ReadASN1(&ski, tagSKI)
	default:
		return fmt.Errorf("%w: sid", ErrMalformed)
	}
	si.sid = sid
	for _, c := range sd.Certificates {
		if (issuer != nil && bytes.Equal(c.RawIssuer, issuer) && c.SerialNumber.Cmp(serial) == 0) ||
			(ski != nil && len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, ski)) {
			sd.Signer = c
			break
		}
	}
	if !s.ReadASN1Element(&digestAlg, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: SignerInfo digestAlgorithm", ErrMalformed)
	}
	si.digestAlg = digestAlg
	d := digestAlg
	var err error
	if sd.Hash, sd.DigestAlgorithm, err = readDigestAlgorithm(&d); err != nil {
		return err
	}
	d = digestAlg
	if oid, params, has, err := readAlgorithmIdentifier(&d); err == nil && algid.SHAKE256With512(oid, params, has) {
		sd.shake = true
	}
	if !s.ReadOptionalASN1(&attrs, &hasAttrs, tagCtx0) {
		return fmt.Errorf("%w: signedAttrs", ErrMalformed)
	}
	if hasAttrs {
		si.signedAttrs = bytes.Clone(attrs)
		if sd.SignedAttrs, err = build(func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
		}); err != nil {
			return err
		}
		if sd.SignedAttributes, err = parseAttributes(attrs); err != nil {
			return err
		}
		if len(sd.SignedAttributes) == 0 {
			return fmt.Errorf("%w: empty signedAttrs", ErrMalformed)
		}
		sa, err := parseSignedAttrs(sd.SignedAttributes)
		if err != nil {
			return err
		}
		sd.MessageDigest, sd.ContentTypeAttribute = sa.messageDigest, sa.contentType
		sd.SigningCertificateV2, sd.SigningTime = sa.signingCert, sa.signingTime
		sd.SigningCertificateV1 = sa.signingCertV1
	}
	if !s.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: signatureAlgorithm", ErrMalformed)
	}
	si.sigAlg = sigAlg
	a := sigAlg
	oid, params, hasParams, err := readAlgorithmIdentifier(&a)
	if err != nil {
		return err
	}
	sd.SignatureAlgorithmOID = oid
	sd.SignatureAlgorithm, sd.sigAlgHash, sd.PSSSaltLength, sd.sigAlgErr = parseSignatureAlgorithmID(oid, params, hasParams)
	if sd.sigAlgErr != nil {
		sd.SignatureAlgorithm = SignatureDefault
	}
	if !s.ReadASN1(&sig, cbasn1.OCTET_STRING) || len(sig) == 0 {
		return fmt.Errorf("%w: signature", ErrMalformed)
	}
	si.signature = bytes.Clone(sig)
	sd.Signature = si.signature
	if !s.ReadOptionalASN1(&unsigned, &hasUnsigned, tagCtx1) || !s.Empty() {
		return fmt.Errorf("%w: unsignedAttrs", ErrMalformed)
	}
	if hasUnsigned {
		if sd.UnsignedAttributes, err = parseAttributes(unsigned); err != nil {
			return err
		}
		for !unsigned.Empty() {
			var el cryptobyte.String
			unsigned.ReadASN1Element(&el, cbasn1.SEQUENCE)
			si.unsigned = append(si.unsigned, el)
		}
	}
	if depth >= maxDepth {
		return nil
	}
	for _, a := range sd.UnsignedAttributes {
		if !a.Type.Equal(OIDAttributeTimeStampToken) {
			continue
		}
		for _, v := range a.Values {
			if len(sd.Timestamps) == maxTimestamps {
				return fmt.Errorf("%w: more than %d time-stamp tokens", ErrMalformed, maxTimestamps)
			}
			ts, err := parseTimestamp(v, depth+1)
			if err != nil {
				return err
			}
			sd.Timestamps = append(sd.Timestamps, ts)
		}
	}
	return nil
}

type signedAttrs struct {
	contentType   asn1.ObjectIdentifier
	messageDigest []byte
	signingCert   *ESSCertIDv2
	signingCertV1 bool
	signingTime   time.Time
}

// parseSignedAttrs reads the signed attributes kyso knows; each may appear
// at most once.
func parseSignedAttrs(attrs []Attribute) (*signedAttrs, error) {
	out := &signedAttrs{}
	v, err := single(attrs, OIDAttributeContentType)
	if err != nil {
		return nil, err
	}
	if v != nil {
		s := cryptobyte.String(v)
		if !s.ReadASN1ObjectIdentifier(&out.contentType) || !s.Empty() {
			return nil, fmt.Errorf("%w: content-type attribute", ErrMalformed)
		}
	}
	if v, err = single(attrs, OIDAttributeMessageDigest); err != nil {
		return nil, err
	}
	if v != nil {
		s := cryptobyte.String(v)
		var d cryptobyte.String
		if !s.ReadASN1(&d, cbasn1.OCTET_STRING) || !s.Empty() {
			return nil, fmt.Errorf("%w: message-digest attribute", ErrMalformed)
		}
		out.messageDigest = bytes.Clone(d)
	}
	if v, err = single(attrs, OIDAttributeSigningCertificateV2); err != nil {
		return nil, err
	}
	if v != nil {
		if out.signingCert, err = parseSigningCertificateV2(v); err != nil {
			return nil, err
		}
	} else if v, err = single(attrs, OIDAttributeSigningCertificate); err != nil {
		return nil, err
	} else if v != nil {
		if out.signingCert, err = parseSigningCertificate(v); err != nil {
			return nil, err
		}
		out.signingCertV1 = true
	}
	if v, err = single(attrs, OIDAttributeSigningTime); err != nil {
		return nil, err
	}
	if v != nil {
		if out.signingTime, err = parseTime(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseTimestamp reads a TimeStampToken and its TSTInfo (RFC 3161 section
// 2.4.2).
func parseTimestamp(token []byte, depth int) (*Timestamp, error) {
	sd, err := parse(token, depth)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	if !sd.ContentType.Equal(OIDTSTInfo) || sd.Content == nil {
		return nil, fmt.Errorf("%w: token content is %v, not TSTInfo", ErrTimestamp, sd.ContentType)
	}
	ts := &Timestamp{Token: sd.Raw, SignedData: sd, SerialNumber: new(big.Int)}
	s := cryptobyte.String(sd.Content)
	var info, imprint, hashed cryptobyte.String
	var version int64
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() || !info.ReadASN1Integer(&version) || version != 1 ||
		!info.ReadASN1ObjectIdentifier(&ts.Policy) || !info.ReadASN1(&imprint, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: TSTInfo", ErrTimestamp)
	}
	if ts.Hash, _, err = readDigestAlgorithm(&imprint); err != nil {
		return nil, fmt.Errorf("%w: messageImprint: %w", ErrTimestamp, err)
	}
	if !imprint.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !imprint.Empty() || !info.ReadASN1Integer(ts.SerialNumber) {
		return nil, fmt.Errorf("%w: TSTInfo", ErrTimestamp)
	}
	ts.HashedMessage = bytes.Clone(hashed)
	var gen cryptobyte.String
	if !info.ReadASN1Element(&gen, cbasn1.GeneralizedTime) {
		return nil, fmt.Errorf("%w: TSTInfo genTime", ErrTimestamp)
	}
	if ts.GenTime, err = parseTime(gen); err != nil {
		return nil, fmt.Errorf("%w: TSTInfo genTime: %w", ErrTimestamp, err)
	}
	return ts, nil
}
