package ocsp

import (
	"crypto"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of RFC 6960 section 4.4 and appendix B.2; those of
// the algorithms are algid's.
var (
	oidNonce = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidBasic = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
)

// certIDHashes are the CertID hash algorithms the responder accepts (RFC
// 6960 section 4.1.1; SHA-1 is what RFC 5019 clients send).
var certIDHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512}

// Limits on what a request may contain. A request for one certificate is
// about 80 octets; these are generous and keep parsing bounded.
const (
	maxNonceLen   = 32 // RFC 8954 section 2.1: 1 to 32 octets
	maxExtensions = 16 // per Extensions field
	maxSerialLen  = 64 // octets of INTEGER content; RFC 5280 allows 20
)

// Errors the request parser returns. All of them become malformedRequest
// (RFC 6960 section 2.3); they are distinct so tests and logs can tell them
// apart.
var (
	errMalformed     = errors.New("ocsp: malformed request")
	errMultiple      = errors.New("ocsp: request asks about more than one certificate")
	errNonceLength   = errors.New("ocsp: nonce must be 1 to 32 octets (RFC 8954)")
	errUnknownHash   = errors.New("ocsp: unsupported CertID hash algorithm")
	errCritical      = errors.New("ocsp: unrecognised critical request extension")
	errDuplicateExts = errors.New("ocsp: duplicate request extension")
)

// request is the part of an OCSPRequest (RFC 6960 section 4.1.1) the
// responder acts on.
type request struct {
	hash     crypto.Hash
	nameHash []byte
	keyHash  []byte
	// serialDER is the complete DER INTEGER of the serial number, used as
	// cache key and copied into the response's CertID; serial returns its
	// value.
	serialDER []byte
	// nonce is the extnValue of the id-pkix-ocsp-nonce extension, verbatim
	// (RFC 6960 section 4.4.1), or nil if the request has none.
	nonce []byte
}

// serial returns the serial number asked about. It is read from serialDER
// when needed (a Source lookup, a log line), not for every request: an
// answer from the cache needs only the DER.
func (req *request) serial() *big.Int {
	n := new(big.Int)
	s := cryptobyte.String(req.serialDER)
	s.ReadASN1Integer(n) // parseRequest checked it
	return n
}

// derInteger reports whether the DER element el is an INTEGER
// cryptobyte's ReadASN1Integer accepts: contents present and minimally
// encoded (X.690 section 8.3.2).
func derInteger(el cryptobyte.String) bool {
	var tag asn1.Tag
	var c cryptobyte.String
	if !el.ReadAnyASN1(&c, &tag) || len(c) == 0 {
		return false
	}
	return len(c) == 1 || !(c[0] == 0 && c[1]&0x80 == 0 || c[0] == 0xff && c[1]&0x80 == 0x80)
}

// certIDOIDs are the DER OBJECT IDENTIFIERs of certIDHashes, so that a
// request's algorithm is recognised by comparing octets.
var certIDOIDs = func() map[string]crypto.Hash {
	m := make(map[string]crypto.Hash, len(certIDHashes))
	for _, h := range certIDHashes {
		var b cryptobyte.Builder
		b.AddASN1ObjectIdentifier(algid.HashOID(h))
		m[string(b.BytesOrPanic())] = h
	}
	return m
}()

// certIDHash returns the hash of certIDHashes whose DER OBJECT IDENTIFIER
// is oid, or 0.
func certIDHash(oid []byte) crypto.Hash { return certIDOIDs[string(oid)] }

// parseRequest parses a DER OCSPRequest (RFC 6960 section 4.1.1) strictly and
// without reflection. It accepts exactly one Request in requestList (RFC 5019
// section 2.1.1 requires clients to send one), ignores requestorName and any
// optionalSignature (signed requests are not required; RFC 6960 section
// 4.1.2), and reads requestExtensions to find the nonce.
func parseRequest(der []byte) (*request, error) {
	input := cryptobyte.String(der)
	var ocspReq, tbs cryptobyte.String
	if !input.ReadASN1(&ocspReq, asn1.SEQUENCE) || !input.Empty() {
		return nil, errMalformed
	}
	if !ocspReq.ReadASN1(&tbs, asn1.SEQUENCE) ||
		!ocspReq.SkipOptionalASN1(asn1.Tag(0).Constructed().ContextSpecific()) ||
		!ocspReq.Empty() {
		return nil, errMalformed
	}

	var version int64
	if !tbs.ReadOptionalASN1Integer(&version, asn1.Tag(0).Constructed().ContextSpecific(), int64(0)) || version != 0 {
		return nil, errMalformed
	}
	var list, exts cryptobyte.String
	var hasExts bool
	if !tbs.SkipOptionalASN1(asn1.Tag(1).Constructed().ContextSpecific()) ||
		!tbs.ReadASN1(&list, asn1.SEQUENCE) ||
		!tbs.ReadOptionalASN1(&exts, &hasExts, asn1.Tag(2).Constructed().ContextSpecific()) ||
		!tbs.Empty() {
		return nil, errMalformed
	}

	var one, certID, singleExts cryptobyte.String
	var hasSingleExts bool
	if !list.ReadASN1(&one, asn1.SEQUENCE) {
		return nil, errMalformed
	}
	if !list.Empty() {
		return nil, errMultiple
	}
	if !one.ReadASN1(&certID, asn1.SEQUENCE) ||
		!one.ReadOptionalASN1(&singleExts, &hasSingleExts, asn1.Tag(0).Constructed().ContextSpecific()) ||
		!one.Empty() {
		return nil, errMalformed
	}

	req := new(request)
	var algID, rawOID cryptobyte.String
	if !certID.ReadASN1(&algID, asn1.SEQUENCE) || !algID.ReadASN1Element(&rawOID, asn1.OBJECT_IDENTIFIER) {
		return nil, errMalformed
	}
	if !algID.Empty() {
		// Parameters, if present, must be NULL (RFC 5754 section 2 allows
		// them absent or NULL).
		var null cryptobyte.String
		if !algID.ReadASN1(&null, asn1.NULL) || !null.Empty() || !algID.Empty() {
			return nil, errMalformed
		}
	}
	if req.hash = certIDHash(rawOID); req.hash == 0 {
		// Not one of certIDHashes: a well-formed identifier of another
		// algorithm, or none at all.
		var oid encasn1.ObjectIdentifier
		if !rawOID.ReadASN1ObjectIdentifier(&oid) {
			return nil, errMalformed
		}
	}
	var serial cryptobyte.String
	if !certID.ReadASN1Bytes(&req.nameHash, asn1.OCTET_STRING) ||
		!certID.ReadASN1Bytes(&req.keyHash, asn1.OCTET_STRING) ||
		!certID.ReadASN1Element(&serial, asn1.INTEGER) ||
		!certID.Empty() {
		return nil, errMalformed
	}
	if len(serial) > maxSerialLen+4 || !derInteger(serial) {
		return nil, errMalformed
	}
	req.serialDER = serial
	if req.hash == 0 {
		return nil, errUnknownHash
	}

	if hasSingleExts {
		if err := parseExtensions(singleExts, nil); err != nil {
			return nil, err
		}
	}
	if hasExts {
		if err := parseExtensions(exts, &req.nonce); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// parseExtensions walks an Extensions field (RFC 5280 section 4.1, wrapped in
// its EXPLICIT tag already removed). It stores the nonce's extnValue in nonce
// when nonce is not nil, and rejects unrecognised critical extensions as RFC
// 6960 section 4.4 requires.
func parseExtensions(s cryptobyte.String, nonce *[]byte) error {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() {
		return errMalformed
	}
	for n := 0; !seq.Empty(); n++ {
		if n == maxExtensions {
			return errMalformed
		}
		var ext cryptobyte.String
		var oid encasn1.ObjectIdentifier
		var critical bool
		var value []byte
		if !seq.ReadASN1(&ext, asn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return errMalformed
		}
		// critical BOOLEAN DEFAULT FALSE: DER omits FALSE, but an explicit
		// FALSE from a BER-minded client is harmless and accepted.
		if ext.PeekASN1Tag(asn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) {
			return errMalformed
		}
		if !ext.ReadASN1Bytes(&value, asn1.OCTET_STRING) || !ext.Empty() {
			return errMalformed
		}
		switch {
		case nonce != nil && oid.Equal(oidNonce):
			if *nonce != nil {
				return errDuplicateExts
			}
			if err := checkNonce(value); err != nil {
				return err
			}
			*nonce = value
		case critical:
			return fmt.Errorf("%w %v", errCritical, oid)
		}
	}
	return nil
}

// checkNonce bounds a nonce extnValue. RFC 8954 section 2.1 defines the value
// as an OCTET STRING of 1 to 32 octets; clients from before RFC 6960 put the
// bare octets in extnValue, so a value that is not a whole OCTET STRING is
// taken as the nonce itself, under the same bound.
func checkNonce(value []byte) error {
	s := cryptobyte.String(value)
	var inner []byte
	if s.ReadASN1Bytes(&inner, asn1.OCTET_STRING) && s.Empty() {
		value = inner
	}
	if len(value) < 1 || len(value) > maxNonceLen {
		return errNonceLength
	}
	return nil
}
