package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// OCSPResult is a verified OCSP response about one certificate.
type OCSPResult struct {
	// Raw is the DER OCSPResponse as received (RFC 6960 section 4.2.1):
	// what a PAdES DSS /OCSPs stream or a CAdES revocation-values
	// attribute holds.
	Raw []byte
	// Response is Raw parsed by golang.org/x/crypto/ocsp: the
	// SingleResponse about the certificate, with ProducedAt, ThisUpdate,
	// NextUpdate and, when revoked, RevokedAt and RevocationReason. For an
	// RSASSA-PSS response, which x/crypto does not know, SignatureAlgorithm
	// and Certificate are filled in by ParseOCSP.
	Response *ocsp.Response
	// Status is the certificate's status in it.
	Status Status
	// Responder is the certificate whose key signed the response: the
	// issuer itself, or a delegated responder it certified with
	// id-kp-OCSPSigning (RFC 6960 section 4.2.2.2).
	Responder *x509.Certificate
	// URL is where the response was fetched; empty from ParseOCSP.
	URL string
}

// oidOCSPNonce is id-pkix-ocsp-nonce (RFC 6960 section 4.4.1, RFC 8954).
var oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// OCSP asks the OCSP responders named in cert's Authority Information
// Access extension (RFC 5280 section 4.2.2.1), in order, for cert's status
// (RFC 6960 appendix A: POST, or GET when Fetcher.OCSPGet allows), and
// returns the first answer that ParseOCSP accepts and that is current:
// thisUpdate and producedAt not in the future, nextUpdate not past (or,
// without nextUpdate, thisUpdate within MaxAge), a delegated responder's
// certificate valid now (RFC 6960 section 3.2), and the nonce echoed when
// Fetcher.OCSPNonce is set. The certID names the issuer with SHA-1, which
// every responder supports (RFC 5019 section 2.1.1).
//
// It returns an error wrapping ErrNoURL when cert has no http(s) OCSP URL,
// and otherwise the errors of every URL tried. An "unknown" status is a
// result, not an error.
func (f *Fetcher) OCSP(ctx context.Context, cert, issuer *x509.Certificate) (*OCSPResult, error) {
	if err := needCerts(cert, issuer); err != nil {
		return nil, err
	}
	urls := usableURLs(cert.OCSPServer)
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no OCSP responder for %s", ErrNoURL, cert.Subject)
	}
	var errs []error
	for _, u := range urls {
		res, err := f.ocspFrom(ctx, u, cert, issuer)
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("revocation: OCSP from %s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (f *Fetcher) ocspFrom(ctx context.Context, u *url.URL, cert, issuer *x509.Certificate) (*OCSPResult, error) {
	reqDER, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("making the request: %w", err)
	}
	var nonce []byte
	if f.OCSPNonce {
		if reqDER, nonce, err = addNonce(reqDER); err != nil {
			return nil, err
		}
	}
	var req *http.Request
	if b64 := base64.StdEncoding.EncodeToString(reqDER); f.OCSPGet && len(b64) < 255 {
		g := *u
		g.Path = strings.TrimSuffix(u.Path, "/") + "/" + b64
		g.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + "/" + url.PathEscape(b64)
		req, err = newRequest(ctx, http.MethodGet, &g, nil)
	} else {
		req, err = newRequest(ctx, http.MethodPost, u, bytes.NewReader(reqDER))
		if req != nil {
			req.Header.Set("Content-Type", "application/ocsp-request")
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/ocsp-response")
	limit := f.MaxOCSPBytes
	if limit <= 0 {
		limit = DefaultMaxOCSPBytes
	}
	body, err := f.do(req, limit)
	if err != nil {
		return nil, err
	}
	res, info, err := parseOCSP(body, cert, issuer)
	if err != nil {
		return nil, err
	}
	if nonce != nil && !bytes.Equal(info.nonce, nonce) {
		return nil, fmt.Errorf("%w: the response does not echo the request's nonce", ErrInvalid)
	}
	if err := f.checkOCSPTime(res); err != nil {
		return nil, err
	}
	res.URL = u.String()
	return res, nil
}

// checkOCSPTime checks that res is current at f's clock (RFC 6960
// section 3.2 items 5 and 6, RFC 5019 section 4).
func (f *Fetcher) checkOCSPTime(res *OCSPResult) error {
	now, skew := f.now(), f.skew()
	r := res.Response
	maxAge := f.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case r.ThisUpdate.After(now.Add(skew)):
		return fmt.Errorf("%w: thisUpdate %v is in the future", ErrStale, r.ThisUpdate)
	case r.ProducedAt.After(now.Add(skew)):
		return fmt.Errorf("%w: producedAt %v is in the future", ErrStale, r.ProducedAt)
	case !r.NextUpdate.IsZero() && r.NextUpdate.Before(now.Add(-skew)):
		return fmt.Errorf("%w: nextUpdate %v has passed", ErrStale, r.NextUpdate)
	case r.NextUpdate.IsZero() && r.ThisUpdate.Before(now.Add(-maxAge)):
		return fmt.Errorf("%w: thisUpdate %v is older than %v and there is no nextUpdate", ErrStale, r.ThisUpdate, maxAge)
	}
	if c := res.Responder; c != nil && (now.Add(skew).Before(c.NotBefore) || now.Add(-skew).After(c.NotAfter)) {
		return fmt.Errorf("%w: the responder certificate %s is not valid now", ErrInvalid, c.Subject)
	}
	return nil
}

// ParseOCSP parses the DER OCSPResponse der and verifies, without looking
// at any clock, that it is a successful basic response (RFC 6960 section
// 4.2.1) whose SingleResponse for cert names cert's issuer by name and key
// hash (the certID of section 4.1.1), signed by issuer or by a delegated
// responder issuer certified with id-kp-OCSPSigning (section 4.2.2.2) whose
// certificate the response carries, and whose responderID names the
// signer. The signature may be ECDSA, PKCS#1 v1.5 or RSASSA-PSS (RFC 4055
// section 3.1: SHA-256, SHA-384 or SHA-512, MGF1 with the same hash, a salt
// as long as the hash), the one Circular 15/2025 Annex I asks of RSA keys.
// Errors wrap ErrInvalid. A validator checking data embedded in a
// document calls it, then compares the times with its own validation time.
func ParseOCSP(der []byte, cert, issuer *x509.Certificate) (*OCSPResult, error) {
	if err := needCerts(cert, issuer); err != nil {
		return nil, err
	}
	res, _, err := parseOCSP(der, cert, issuer)
	return res, err
}

// ocspInfo is what parseOCSP reads that x/crypto/ocsp does not expose.
type ocspInfo struct {
	nonce []byte // extnValue of the nonce response extension, or nil
	// The BasicOCSPResponse's parts, each a whole DER element: tbsResponseData,
	// signatureAlgorithm, signature (the BIT STRING), and the certificates.
	tbs, sigAlg, sig []byte
	certs            [][]byte
}

// withoutCerts is the OCSPResponse re-encoded with the same
// tbsResponseData, signatureAlgorithm and signature but no certs.
func (i *ocspInfo) withoutCerts() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(0) // successful
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidOCSPBasic)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(i.tbs)
						b.AddBytes(i.sigAlg)
						b.AddBytes(i.sig)
					})
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// oidOCSPBasic is id-pkix-ocsp-basic (RFC 6960 section 4.2.1).
var oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// pssAlgorithm returns the crypto/x509 algorithm of an RSASSA-PSS
// signatureAlgorithm (the whole DER AlgorithmIdentifier),
// UnknownSignatureAlgorithm when alg is not id-RSASSA-PSS, and an error
// when it is but with other parameters than crypto/x509 verifies:
// SHA-256, SHA-384 or SHA-512, MGF1 with the same hash, a salt as long as
// the hash and trailerField 1 (RFC 4055 section 3.1; algid.ParsePSS).
func pssAlgorithm(alg []byte) (x509.SignatureAlgorithm, error) {
	in := cryptobyte.String(alg)
	oid, params, hasParams, err := algid.Read(&in)
	if err != nil || !in.Empty() {
		return 0, errors.New("malformed signatureAlgorithm")
	}
	if !oid.Equal(algid.RSASSAPSS) {
		return x509.UnknownSignatureAlgorithm, nil
	}
	x := map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSAPSS, crypto.SHA384: x509.SHA384WithRSAPSS, crypto.SHA512: x509.SHA512WithRSAPSS}
	if p, err := algid.ParsePSS(params); hasParams && err == nil && p.Exact(p.Hash) && x[p.Hash] != 0 {
		return x[p.Hash], nil
	}
	return 0, errors.New("RSASSA-PSS parameters other than SHA-256, SHA-384 or SHA-512 with MGF1 of the same hash, a salt as long as the hash and trailerField 1")
}

func parseOCSP(der []byte, cert, issuer *x509.Certificate) (*OCSPResult, *ocspInfo, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if len(der) > DefaultMaxOCSPBytes*16 {
		return nil, nil, invalid("response of %d bytes", len(der))
	}
	info, single, err := readOCSPDetails(der, cert.SerialNumber)
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	pss, err := pssAlgorithm(info.sigAlg)
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	// Passing no issuer makes x/crypto check only the signature of an
	// embedded responder certificate; who that responder may be is
	// checked below. x/crypto knows no id-RSASSA-PSS: it is handed the
	// response without its certificates, so that it checks no signature,
	// and the signature is checked here.
	xder := der
	if pss != x509.UnknownSignatureAlgorithm {
		xder = info.withoutCerts()
	}
	r, err := ocsp.ParseResponseForCert(xder, cert, nil)
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	if pss != x509.UnknownSignatureAlgorithm {
		r.Raw, r.SignatureAlgorithm = bytes.Clone(der), pss
		if len(info.certs) > 0 {
			// What x/crypto does with the first embedded certificate.
			if r.Certificate, err = x509.ParseCertificate(info.certs[0]); err != nil {
				return nil, nil, invalid("embedded responder certificate: %v", err)
			}
			if err := r.CheckSignatureFrom(r.Certificate); err != nil {
				return nil, nil, invalid("signature by the embedded certificate: %v", err)
			}
		}
	}
	// certID: the issuer's name and key hashes (RFC 6960 section 4.1.1).
	if !r.IssuerHash.Available() {
		return nil, nil, invalid("certID hash %v is not available", r.IssuerHash)
	}
	keyBits, err := publicKeyBits(issuer)
	if err != nil {
		return nil, nil, invalid("issuer key: %v", err)
	}
	h := r.IssuerHash.New()
	h.Write(issuer.RawSubject)
	nameHash := h.Sum(nil)
	h = r.IssuerHash.New()
	h.Write(keyBits)
	keyHash := h.Sum(nil)
	if !bytes.Equal(single.nameHash, nameHash) || !bytes.Equal(single.keyHash, keyHash) {
		return nil, nil, invalid("the response is about serial %v of another issuer", cert.SerialNumber)
	}
	// Who signed (RFC 6960 section 4.2.2.2).
	signer := issuer
	switch {
	case r.Certificate == nil:
		if err := r.CheckSignatureFrom(issuer); err != nil {
			return nil, nil, invalid("signature: %v", err)
		}
	case r.Certificate.Equal(issuer):
		// x/crypto checked the signature with the embedded issuer.
	default:
		c := r.Certificate
		if err := c.CheckSignatureFrom(issuer); err != nil {
			return nil, nil, invalid("responder certificate %s is not issued by %s: %v", c.Subject, issuer.Subject, err)
		}
		ok := false
		for _, u := range c.ExtKeyUsage {
			ok = ok || u == x509.ExtKeyUsageOCSPSigning
		}
		if !ok {
			return nil, nil, invalid("responder certificate %s lacks id-kp-OCSPSigning", c.Subject)
		}
		signer = c
	}
	switch {
	case r.RawResponderName != nil:
		if !bytes.Equal(r.RawResponderName, signer.RawSubject) {
			return nil, nil, invalid("responderID names another responder than %s", signer.Subject)
		}
	default:
		bits, err := publicKeyBits(signer)
		if err != nil {
			return nil, nil, invalid("responder key: %v", err)
		}
		if sum := sha1.Sum(bits); !bytes.Equal(r.ResponderKeyHash, sum[:]) {
			return nil, nil, invalid("responderID key hash is not that of %s", signer.Subject)
		}
	}
	res := &OCSPResult{Raw: bytes.Clone(der), Response: r, Responder: signer}
	switch r.Status {
	case ocsp.Good:
		res.Status = Good
	case ocsp.Revoked:
		res.Status = Revoked
	default:
		res.Status = Unknown
	}
	return res, info, nil
}

// singleCertID is the certID of the SingleResponse x/crypto/ocsp chose.
type singleCertID struct {
	nameHash, keyHash []byte
}

// readOCSPDetails walks a successful basic OCSPResponse (RFC 6960 section
// 4.2.1) for what x/crypto/ocsp does not expose: the certID hashes of the
// first SingleResponse about serial (the one x/crypto returns), the nonce
// among the responseExtensions, and the BasicOCSPResponse's parts.
func readOCSPDetails(der []byte, serial *big.Int) (*ocspInfo, *singleCertID, error) {
	in := cryptobyte.String(der)
	var resp, rb, basicOctets cryptobyte.String
	var status int
	var typ asn1.ObjectIdentifier
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() || !resp.ReadASN1Enum(&status) {
		return nil, nil, errors.New("malformed OCSPResponse")
	}
	if status != int(ocsp.Success) {
		return nil, nil, ocsp.ResponseError{Status: ocsp.ResponseStatus(status)}
	}
	if !resp.ReadASN1(&rb, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!rb.ReadASN1(&rb, cbasn1.SEQUENCE) || !rb.ReadASN1ObjectIdentifier(&typ) ||
		!rb.ReadASN1(&basicOctets, cbasn1.OCTET_STRING) {
		return nil, nil, errors.New("malformed OCSPResponse")
	}
	if !typ.Equal(oidOCSPBasic) {
		return nil, nil, fmt.Errorf("response type %v is not id-pkix-ocsp-basic", typ)
	}
	var basic, tbsElem, tbs, sigAlg, sig, responses cryptobyte.String
	if !basicOctets.ReadASN1(&basic, cbasn1.SEQUENCE) || !basicOctets.Empty() ||
		!basic.ReadASN1Element(&tbsElem, cbasn1.SEQUENCE) ||
		!basic.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) || !basic.ReadASN1Element(&sig, cbasn1.BIT_STRING) {
		return nil, nil, errors.New("malformed BasicOCSPResponse")
	}
	info := &ocspInfo{tbs: bytes.Clone(tbsElem), sigAlg: bytes.Clone(sigAlg), sig: bytes.Clone(sig)}
	var certsOuter, certs cryptobyte.String
	var hasCerts bool
	if !basic.ReadOptionalASN1(&certsOuter, &hasCerts, cbasn1.Tag(0).Constructed().ContextSpecific()) || !basic.Empty() {
		return nil, nil, errors.New("malformed BasicOCSPResponse")
	}
	if hasCerts {
		if !certsOuter.ReadASN1(&certs, cbasn1.SEQUENCE) || !certsOuter.Empty() {
			return nil, nil, errors.New("malformed certs in BasicOCSPResponse")
		}
		for !certs.Empty() {
			var c cryptobyte.String
			if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
				return nil, nil, errors.New("malformed certs in BasicOCSPResponse")
			}
			info.certs = append(info.certs, bytes.Clone(c))
		}
	}
	if !tbsElem.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("malformed ResponseData")
	}
	// ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash },
	// explicitly tagged.
	byName, byKey := cbasn1.Tag(1).Constructed().ContextSpecific(), cbasn1.Tag(2).Constructed().ContextSpecific()
	var responderID cryptobyte.String
	var idTag cbasn1.Tag
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.ReadAnyASN1(&responderID, &idTag) || (idTag != byName && idTag != byKey) ||
		!tbs.SkipASN1(cbasn1.GeneralizedTime) || !tbs.ReadASN1(&responses, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("malformed ResponseData")
	}
	var id *singleCertID
	for n := 0; !responses.Empty(); n++ {
		if n == 1000 {
			return nil, nil, errors.New("more than 1000 SingleResponses")
		}
		var single, certID, alg, nameHash, keyHash cryptobyte.String
		s := new(big.Int)
		if !responses.ReadASN1(&single, cbasn1.SEQUENCE) || !single.ReadASN1(&certID, cbasn1.SEQUENCE) ||
			!certID.ReadASN1(&alg, cbasn1.SEQUENCE) || !certID.ReadASN1(&nameHash, cbasn1.OCTET_STRING) ||
			!certID.ReadASN1(&keyHash, cbasn1.OCTET_STRING) || !certID.ReadASN1Integer(s) {
			return nil, nil, errors.New("malformed SingleResponse")
		}
		if id == nil && s.Cmp(serial) == 0 {
			id = &singleCertID{nameHash: bytes.Clone(nameHash), keyHash: bytes.Clone(keyHash)}
		}
	}
	if id == nil {
		return nil, nil, errors.New("no SingleResponse for the certificate")
	}
	var extsOuter, exts cryptobyte.String
	var has bool
	if !tbs.ReadOptionalASN1(&extsOuter, &has, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, nil, errors.New("malformed responseExtensions")
	}
	if has {
		if !extsOuter.ReadASN1(&exts, cbasn1.SEQUENCE) {
			return nil, nil, errors.New("malformed responseExtensions")
		}
		for !exts.Empty() {
			var ext, value cryptobyte.String
			var oid asn1.ObjectIdentifier
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) ||
				!ext.SkipOptionalASN1(cbasn1.BOOLEAN) || !ext.ReadASN1(&value, cbasn1.OCTET_STRING) {
				return nil, nil, errors.New("malformed extension")
			}
			if oid.Equal(oidOCSPNonce) {
				info.nonce = bytes.Clone(value)
			}
		}
	}
	return info, id, nil
}

// publicKeyBits returns the subjectPublicKey BIT STRING's bytes: what the
// certID's issuerKeyHash and a byKey responderID hash (RFC 6960 section
// 4.1.1 and 4.2.1).
func publicKeyBits(c *x509.Certificate) ([]byte, error) {
	in := cryptobyte.String(c.RawSubjectPublicKeyInfo)
	var spki cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&spki, cbasn1.SEQUENCE) || !spki.SkipASN1(cbasn1.SEQUENCE) || !spki.ReadASN1BitString(&bits) {
		return nil, errors.New("malformed subjectPublicKeyInfo")
	}
	return bits.Bytes, nil
}

// addNonce returns the OCSPRequest reqDER (as x/crypto/ocsp makes it:
// tbsRequest with only a requestList) with a random 16-byte nonce
// extension (RFC 8954 section 2.1) added to requestExtensions, and the
// extension's extnValue the response must echo.
func addNonce(reqDER []byte) ([]byte, []byte, error) {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, nil, fmt.Errorf("revocation: making a nonce: %w", err)
	}
	value, err := asn1.Marshal(n[:])
	if err != nil {
		return nil, nil, err
	}
	in := cryptobyte.String(reqDER)
	var outer, tbs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("revocation: adding a nonce: unexpected request encoding")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(tbs)
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidOCSPNonce)
						b.AddASN1OctetString(value)
					})
				})
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("revocation: adding a nonce: %w", err)
	}
	return out, value, nil
}
