package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxTokenBytes bounds the tokens and replies the parsers accept.
const MaxTokenBytes = 1 << 20

// Token is a parsed TimeStampToken (RFC 3161 section 2.4.2): a CMS
// SignedData over a TSTInfo. ParseToken checks only its structure; Verify
// checks what it says and who signed it.
type Token struct {
	// DER is the token, a ContentInfo.
	DER []byte
	// GenTime is when the TSA time-stamped the imprint, in UTC.
	GenTime time.Time
	// Serial is the TSA's serial number for the token.
	Serial *big.Int
	// Policy is the TSA policy the token was issued under.
	Policy asn1.ObjectIdentifier
	// Accuracy is the TSTInfo accuracy; 0 when absent.
	Accuracy time.Duration
	// Ordering is the TSTInfo ordering flag.
	Ordering bool
	// Nonce is the nonce echoed, nil when absent.
	Nonce *big.Int
	// HashAlgorithm and HashedMessage are the message imprint; HashAlgorithm
	// is 0 for an algorithm kyso does not know.
	HashAlgorithm crypto.Hash
	HashedMessage []byte
	// Certificates are the certificates the token carries (certReq).
	Certificates []*x509.Certificate

	tstInfo     []byte // TSTInfo DER, the eContent
	tsaName     []byte // GeneralName in the tsa field, or nil
	digestHash  crypto.Hash
	signedAttrs []byte // the [0] IMPLICIT signed attributes, content only
	sigAlgOID   asn1.ObjectIdentifier
	sigParams   []byte
	signature   []byte
	sidIssuer   []byte // issuerAndSerialNumber, or nil for a subjectKeyIdentifier
	sidSerial   *big.Int
	sidSKID     []byte
}

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// ParseToken parses a DER TimeStampToken. It refuses anything but one
// SignedData with eContentType id-ct-TSTInfo, one SignerInfo and signed
// attributes, and a version 1 TSTInfo.
func ParseToken(der []byte) (*Token, error) {
	if len(der) > MaxTokenBytes {
		return nil, malformed("token larger than 1 MiB")
	}
	t := &Token{DER: der}
	in := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&ct) || !ct.Equal(oidSignedData) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("not a SignedData ContentInfo")
	}
	var version int64
	var digestAlgs, eci, eContent cryptobyte.String
	var eContentType asn1.ObjectIdentifier
	if !sd.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) ||
		!sd.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&eContentType) {
		return nil, malformed("SignedData header")
	}
	if !eContentType.Equal(oidTSTInfo) {
		return nil, malformed("eContentType is not id-ct-TSTInfo")
	}
	var wrapped cryptobyte.String
	if !eci.ReadASN1(&wrapped, cbasn1.Tag(0).Constructed().ContextSpecific()) || !eci.Empty() ||
		!wrapped.ReadASN1(&eContent, cbasn1.OCTET_STRING) || !wrapped.Empty() {
		return nil, malformed("eContent")
	}
	t.tstInfo = eContent
	if sd.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		sd.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific())
		for !certs.Empty() {
			var c cryptobyte.String
			if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
				// Other CertificateChoices (attribute certificates) are
				// skipped.
				if !certs.ReadAnyASN1Element(&c, nil) {
					return nil, malformed("certificates")
				}
				continue
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
			}
			t.Certificates = append(t.Certificates, cert)
		}
	}
	if sd.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		sd.SkipASN1(cbasn1.Tag(1).Constructed().ContextSpecific())
	}
	var signerInfos, si cryptobyte.String
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() ||
		!signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) || !signerInfos.Empty() {
		return nil, malformed("want exactly one SignerInfo")
	}
	if err := t.parseSignerInfo(si); err != nil {
		return nil, err
	}
	if err := t.parseTSTInfo(); err != nil {
		return nil, err
	}
	return t, nil
}

// parseSignerInfo reads a SignerInfo (RFC 5652 section 5.3).
func (t *Token) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	if !si.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) {
		return malformed("SignerInfo version")
	}
	switch {
	case version == 1 && si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) {
			return malformed("issuerAndSerialNumber")
		}
		var ok bool
		if t.sidSerial, ok = readBigInt(&ias); !ok || !ias.Empty() {
			return malformed("issuerAndSerialNumber")
		}
		t.sidIssuer = issuer
	case version == 3:
		var skid cryptobyte.String
		if !si.ReadASN1(&skid, cbasn1.Tag(0).ContextSpecific()) {
			return malformed("subjectKeyIdentifier")
		}
		t.sidSKID = skid
	default:
		return malformed("SignerInfo sid")
	}
	oid, params, hasParams, err := algid.Read(&si)
	if err != nil || !algid.NullOrAbsent(params, hasParams) {
		return malformed("digestAlgorithm")
	}
	t.digestHash = algid.Hash(oid)
	var attrs cryptobyte.String
	if !si.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return malformed("no signed attributes")
	}
	t.signedAttrs = attrs
	if t.sigAlgOID, t.sigParams, _, err = algid.Read(&si); err != nil {
		return malformed("signatureAlgorithm")
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return malformed("signature")
	}
	t.signature = sig
	if si.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		si.SkipASN1(cbasn1.Tag(1).Constructed().ContextSpecific())
	}
	if !si.Empty() {
		return malformed("SignerInfo trailing data")
	}
	return nil
}

// parseTSTInfo reads TSTInfo (RFC 3161 section 2.4.2).
func (t *Token) parseTSTInfo() error {
	in := cryptobyte.String(t.tstInfo)
	var s cryptobyte.String
	var version int64
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !in.Empty() || !s.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version != 1 {
		return malformed("TSTInfo version")
	}
	var mi, hashed cryptobyte.String
	if !s.ReadASN1ObjectIdentifier(&t.Policy) || !s.ReadASN1(&mi, cbasn1.SEQUENCE) {
		return malformed("TSTInfo policy or imprint")
	}
	oid, params, hasParams, err := algid.Read(&mi)
	if err != nil || !mi.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !mi.Empty() {
		return malformed("TSTInfo messageImprint")
	}
	var ok bool
	if algid.NullOrAbsent(params, hasParams) {
		t.HashAlgorithm = algid.Hash(oid)
	}
	t.HashedMessage = hashed
	if t.Serial, ok = readBigInt(&s); !ok {
		return malformed("TSTInfo serialNumber")
	}
	if t.GenTime, ok = readGeneralizedTime(&s); !ok {
		return malformed("TSTInfo genTime")
	}
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		s.ReadASN1(&acc, cbasn1.SEQUENCE)
		var sec, ms, us int64
		if acc.PeekASN1Tag(cbasn1.INTEGER) && (!acc.ReadASN1Int64WithTag(&sec, cbasn1.INTEGER) || sec < 0) {
			return malformed("accuracy seconds")
		}
		if acc.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()) && (!acc.ReadASN1Int64WithTag(&ms, cbasn1.Tag(0).ContextSpecific()) || ms < 1 || ms > 999) {
			return malformed("accuracy millis")
		}
		if acc.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific()) && (!acc.ReadASN1Int64WithTag(&us, cbasn1.Tag(1).ContextSpecific()) || us < 1 || us > 999) {
			return malformed("accuracy micros")
		}
		if !acc.Empty() || sec > int64(100*365*24*time.Hour/time.Second) {
			return malformed("accuracy")
		}
		t.Accuracy = time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond
	}
	if s.PeekASN1Tag(cbasn1.BOOLEAN) && !s.ReadASN1Boolean(&t.Ordering) {
		return malformed("TSTInfo ordering")
	}
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		if t.Nonce, ok = readBigInt(&s); !ok {
			return malformed("TSTInfo nonce")
		}
	}
	if s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var name, gn cryptobyte.String
		if !s.ReadASN1(&name, cbasn1.Tag(0).Constructed().ContextSpecific()) || !name.ReadAnyASN1Element(&gn, nil) || !name.Empty() {
			return malformed("TSTInfo tsa")
		}
		t.tsaName = gn
	}
	if s.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		s.SkipASN1(cbasn1.Tag(1).Constructed().ContextSpecific())
	}
	if !s.Empty() {
		return malformed("TSTInfo trailing data")
	}
	return nil
}

// VerifyOptions says whom to trust when verifying a token.
type VerifyOptions struct {
	// Roots are the trust anchors for the TSA certificate. Required: the
	// system pool is for TLS, not for time-stamping.
	Roots *x509.CertPool
	// Intermediates helps build the chain, with the token's certificates.
	Intermediates *x509.CertPool
	// Certificates are candidate TSA certificates, for tokens issued without
	// certReq, which carry none.
	Certificates []*x509.Certificate
}

// Verify checks that the token time-stamps digest, made with hash, and was
// signed by a time-stamping certificate that chains to opts.Roots at the
// token's genTime:
//
//   - the message imprint is hash and digest (RFC 3161 section 2.4.2);
//   - the signed attributes hold content-type id-ct-TSTInfo and the
//     message-digest of the TSTInfo (RFC 5652 section 5.4), and a
//     signing-certificate-v2 (RFC 5816) or signing-certificate (RFC 2634)
//     naming the signer's certificate (RFC 3161 section 2.4.1);
//   - the signature over the signed attributes verifies (ECDSA, RSA PKCS#1
//     v1.5 or RSASSA-PSS; SHA-2 only);
//   - the signer's certificate has exactly the id-kp-timeStamping extended
//     key usage, critical (RFC 3161 section 2.3), and the tsa name, when
//     present, is its subject.
//
// It does not check nonce or policy; Request does.
func (t *Token) Verify(digest []byte, hash crypto.Hash, opts *VerifyOptions) error {
	_, err := t.VerifyChains(digest, hash, opts)
	return err
}

// VerifyChains is Verify, returning the TSA certificate's chains to
// opts.Roots at genTime that crypto/x509 found, so that a validator can
// see when the path expires without building it again.
func (t *Token) VerifyChains(digest []byte, hash crypto.Hash, opts *VerifyOptions) ([][]*x509.Certificate, error) {
	if opts == nil || opts.Roots == nil {
		return nil, fmt.Errorf("tsa: verifying a token: VerifyOptions.Roots is required")
	}
	if t.HashAlgorithm != hash || !bytes.Equal(t.HashedMessage, digest) {
		return nil, fmt.Errorf("%w: token is over %v %x, want %v %x", ErrImprintMismatch, t.HashAlgorithm, t.HashedMessage, hash, digest)
	}
	cert, err := t.signerCertificate(opts.Certificates)
	if err != nil {
		return nil, err
	}
	if err := t.checkSignedAttributes(cert); err != nil {
		return nil, err
	}
	if err := t.checkSignature(cert); err != nil {
		return nil, err
	}
	if err := checkTSACertificate(cert); err != nil {
		return nil, err
	}
	if t.tsaName != nil {
		gn := cryptobyte.String(t.tsaName)
		var name cryptobyte.String
		if gn.ReadASN1(&name, cbasn1.Tag(4).Constructed().ContextSpecific()) && !sameName(name, cert.RawSubject) {
			return nil, fmt.Errorf("%w: TSTInfo tsa name is not the signer's subject (RFC 3161 section 2.4.2)", ErrSignature)
		}
	}
	inter := x509.NewCertPool()
	if opts.Intermediates != nil {
		inter = opts.Intermediates.Clone()
	}
	for _, c := range t.Certificates {
		inter.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   t.GenTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	return chains, nil
}

// sameName compares two DER Names, by bytes and then by their parsed form.
func sameName(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ra, rb pkix.RDNSequence
	if _, err := asn1.Unmarshal(a, &ra); err != nil {
		return false
	}
	if _, err := asn1.Unmarshal(b, &rb); err != nil {
		return false
	}
	return ra.String() == rb.String()
}

// signerCertificate finds the certificate the SignerInfo's sid names.
func (t *Token) signerCertificate(extra []*x509.Certificate) (*x509.Certificate, error) {
	for _, list := range [][]*x509.Certificate{t.Certificates, extra} {
		for _, c := range list {
			if t.sidIssuer != nil && c.SerialNumber.Cmp(t.sidSerial) == 0 && sameName(c.RawIssuer, t.sidIssuer) {
				return c, nil
			}
			if t.sidSKID != nil && bytes.Equal(c.SubjectKeyId, t.sidSKID) {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: the signer's certificate is neither in the token nor in VerifyOptions.Certificates", ErrUntrusted)
}

// checkSignedAttributes applies RFC 5652 section 5.3 and RFC 3161 section
// 2.4.1 (as updated by RFC 5816) to the signed attributes.
func (t *Token) checkSignedAttributes(cert *x509.Certificate) error {
	h := t.digestHash
	if h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512 {
		return fmt.Errorf("%w: digest algorithm %v not accepted", ErrSignature, h)
	}
	var contentType, msgDigest, essV2, essV1 []byte
	attrs := cryptobyte.String(t.signedAttrs)
	for !attrs.Empty() {
		var attr, values, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() ||
			!values.ReadAnyASN1Element(&value, nil) {
			return fmt.Errorf("%w: signed attribute", ErrMalformed)
		}
		var dst *[]byte
		switch {
		case oid.Equal(oidContentType):
			dst = &contentType
		case oid.Equal(oidMsgDigest):
			dst = &msgDigest
		case oid.Equal(oidSigningCertV2):
			dst = &essV2
		case oid.Equal(oidSigningCert):
			dst = &essV1
		default:
			continue
		}
		// RFC 5652 section 5.3: these attributes have one value and occur
		// once.
		if *dst != nil || !values.Empty() {
			return fmt.Errorf("%w: attribute %v repeated", ErrSignature, oid)
		}
		*dst = value
	}
	ctv := cryptobyte.String(contentType)
	var ct asn1.ObjectIdentifier
	if contentType == nil || !ctv.ReadASN1ObjectIdentifier(&ct) || !ct.Equal(oidTSTInfo) {
		return fmt.Errorf("%w: content-type attribute is not id-ct-TSTInfo", ErrSignature)
	}
	mdv := cryptobyte.String(msgDigest)
	var md cryptobyte.String
	hh := h.New()
	hh.Write(t.tstInfo)
	if msgDigest == nil || !mdv.ReadASN1(&md, cbasn1.OCTET_STRING) || !bytes.Equal(md, hh.Sum(nil)) {
		return fmt.Errorf("%w: message-digest attribute does not match the TSTInfo", ErrSignature)
	}
	switch {
	case essV2 != nil:
		return checkESSCertID(essV2, cert, true)
	case essV1 != nil:
		return checkESSCertID(essV1, cert, false)
	}
	return fmt.Errorf("%w: no signing-certificate or signing-certificate-v2 attribute (RFC 3161 section 2.4.1, RFC 5816)", ErrSignature)
}

// checkESSCertID checks that the first ESSCertID(v2) of a SigningCertificate
// (RFC 2634 section 5.4) or SigningCertificateV2 (RFC 5035 section 3) is the
// signer's certificate: its hash, and issuerSerial when present.
func checkESSCertID(attr []byte, cert *x509.Certificate, v2 bool) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: signing certificate reference: %s", ErrSignature, what)
	}
	in := cryptobyte.String(attr)
	var sc, certs, id, certHash cryptobyte.String
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return bad("malformed")
	}
	var sum []byte
	if v2 {
		h := crypto.SHA256 // the DEFAULT
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			oid, params, hasParams, err := algid.Read(&id)
			if err != nil || !algid.NullOrAbsent(params, hasParams) {
				return bad("hash algorithm")
			}
			if h = algid.Hash(oid); !algid.SHA2(h) {
				return bad("hash algorithm not accepted")
			}
		}
		hh := h.New()
		hh.Write(cert.Raw)
		sum = hh.Sum(nil)
	} else {
		// SHA-1 here only identifies the certificate (RFC 2634 section 5.4);
		// the signature itself is never SHA-1.
		s := sha1.Sum(cert.Raw)
		sum = s[:]
	}
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) || !bytes.Equal(certHash, sum) {
		return bad("hash does not match the signer's certificate")
	}
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		var is, names cryptobyte.String
		id.ReadASN1(&is, cbasn1.SEQUENCE)
		serial := new(big.Int)
		if !is.ReadASN1(&names, cbasn1.SEQUENCE) || !is.ReadASN1Integer(serial) || serial.Cmp(cert.SerialNumber) != 0 {
			return bad("issuerSerial does not match the signer's certificate")
		}
	}
	return nil
}

// checkSignature verifies the SignerInfo signature over the DER SET OF
// signed attributes (RFC 5652 section 5.4).
func (t *Token) checkSignature(cert *x509.Certificate) error {
	alg, err := t.x509Algorithm()
	if err != nil {
		return err
	}
	signed := cryptobyte.NewBuilder(nil)
	signed.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(t.signedAttrs) })
	if err := cert.CheckSignature(alg, signed.BytesOrPanic(), t.signature); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return nil
}

// x509Algorithm maps the SignerInfo's digest and signature algorithms onto
// the x509.SignatureAlgorithm that verifies them.
func (t *Token) x509Algorithm() (x509.SignatureAlgorithm, error) {
	type pair struct {
		h   crypto.Hash
		alg x509.SignatureAlgorithm
	}
	unsupported := fmt.Errorf("%w: signature algorithm %v with %v not supported", ErrSignature, t.sigAlgOID, t.digestHash)
	pick := func(ps ...pair) (x509.SignatureAlgorithm, error) {
		for _, p := range ps {
			if p.h == t.digestHash {
				return p.alg, nil
			}
		}
		return 0, unsupported
	}
	ecdsa := []pair{{crypto.SHA256, x509.ECDSAWithSHA256}, {crypto.SHA384, x509.ECDSAWithSHA384}, {crypto.SHA512, x509.ECDSAWithSHA512}}
	pkcs1 := []pair{{crypto.SHA256, x509.SHA256WithRSA}, {crypto.SHA384, x509.SHA384WithRSA}, {crypto.SHA512, x509.SHA512WithRSA}}
	pss := []pair{{crypto.SHA256, x509.SHA256WithRSAPSS}, {crypto.SHA384, x509.SHA384WithRSAPSS}, {crypto.SHA512, x509.SHA512WithRSAPSS}}
	scheme, named := algid.Signature(t.sigAlgOID)
	if named != 0 && named != t.digestHash {
		return 0, unsupported
	}
	switch scheme {
	case algid.ECDSA:
		return pick(ecdsa...)
	case algid.RSAPKCS1v15:
		return pick(pkcs1...)
	case algid.RSAPSS:
		// x509 verifies PSS with MGF1 over the same hash and a salt the
		// length of the hash; require the parameters to say exactly that.
		p, err := algid.ParsePSS(t.sigParams)
		if err != nil || !p.Exact(t.digestHash) {
			return 0, unsupported
		}
		return pick(pss...)
	}
	return 0, unsupported
}
