package ocsp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// responseStatus is OCSPResponseStatus (RFC 6960 section 4.2.1).
type responseStatus int

const (
	statusSuccessful       responseStatus = 0
	statusMalformedRequest responseStatus = 1
	statusInternalError    responseStatus = 2
	statusTryLater         responseStatus = 3
	statusUnauthorized     responseStatus = 6
)

// errorResponse is the whole DER OCSPResponse for a status other than
// successful: responseBytes is absent (RFC 6960 section 4.2.1).
func errorResponse(s responseStatus) []byte {
	return []byte{0x30, 0x03, 0x0a, 0x01, byte(s)}
}

// RFC 5280 section 5.3.1 CRLReason values the responder gives special
// treatment.
const (
	reasonUnspecified     = 0
	reasonCertificateHold = 6
	reasonUnused          = 7
	reasonRemoveFromCRL   = 8
	reasonAACompromise    = 10
)

// signerState is everything needed to sign with one OCSP signing key. It is
// immutable once built; SetSigner swaps in a new one.
type signerState struct {
	signer crypto.Signer
	// certDER is the delegated responder certificate, or nil when the CA
	// signs its own responses (RFC 6960 section 4.2.2.2).
	certDER []byte
	// keyHash is the responderID byKey value: the SHA-1 hash of the
	// responder's subjectPublicKey BIT STRING contents (RFC 6960 section
	// 4.2.1).
	keyHash []byte
	// sigAlg is the DER AlgorithmIdentifier of the signature.
	sigAlg []byte
	opts   crypto.SignerOpts
	// notAfter is the responder certificate's expiry; nextUpdate never
	// goes beyond it.
	notAfter time.Time
	// id is the SHA-256 of the responder's certificate (the issuer's
	// when the CA signs): Responder.ResponderID.
	id []byte
}

// newSignerState checks that signer and cert belong together and that cert
// may sign OCSP responses for issuer (RFC 6960 section 4.2.2.2), and works out
// the signature algorithm from the key: for RSA, RSASSA-PSS unless pkcs1v15.
func newSignerState(issuer *x509.Certificate, signer crypto.Signer, cert *x509.Certificate, pkcs1v15 bool) (*signerState, error) {
	if signer == nil {
		return nil, errors.New("ocsp: no signer")
	}
	responder := cert
	if responder == nil {
		responder = issuer
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(responder.PublicKey) {
		if cert == nil {
			return nil, errors.New("ocsp: signer's public key is not the issuer's and no responder certificate was given")
		}
		return nil, errors.New("ocsp: signer's public key does not match the responder certificate")
	}
	id := sha256.Sum256(responder.Raw)
	st := &signerState{signer: signer, notAfter: responder.NotAfter, id: id[:]}
	if cert != nil {
		if err := cert.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("ocsp: responder certificate not issued by the issuer: %w", err)
		}
		ocspEKU := false
		for _, u := range cert.ExtKeyUsage {
			ocspEKU = ocspEKU || u == x509.ExtKeyUsageOCSPSigning
		}
		if !ocspEKU {
			return nil, errors.New("ocsp: responder certificate lacks id-kp-OCSPSigning (RFC 6960 section 4.2.2.2)")
		}
		if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return nil, errors.New("ocsp: responder certificate's key usage does not allow digitalSignature")
		}
		st.certDER = cert.Raw
	}

	var spki struct {
		Algorithm encasn1.RawValue
		PublicKey encasn1.BitString
	}
	if rest, err := encasn1.Unmarshal(responder.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("ocsp: parsing responder public key: %v", err)
	}
	h := sha1.Sum(spki.PublicKey.RightAlign())
	st.keyHash = h[:]

	var b cryptobyte.Builder
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		h := map[elliptic.Curve]crypto.Hash{elliptic.P256(): crypto.SHA256, elliptic.P384(): crypto.SHA384, elliptic.P521(): crypto.SHA512}[k.Curve]
		if h == 0 {
			return nil, errors.New("ocsp: unsupported ECDSA curve")
		}
		algid.Add(&b, algid.SignatureOID(algid.ECDSA, h), false)
		st.opts = h
	case *rsa.PublicKey:
		// RSASSA-PSS (Circular 15/2025 Annex I), or on request
		// sha256WithRSAEncryption for clients that know no RFC 4055.
		if pkcs1v15 {
			algid.Add(&b, algid.SHA256WithRSA, true)
			st.opts = crypto.SHA256
		} else {
			algid.AddPSS(&b, crypto.SHA256)
			st.opts = &rsa.PSSOptions{SaltLength: crypto.SHA256.Size(), Hash: crypto.SHA256}
		}
	case ed25519.PublicKey:
		algid.Add(&b, algid.Ed25519, false)
		st.opts = crypto.Hash(0)
	default:
		return nil, fmt.Errorf("ocsp: unsupported signer key type %T", k)
	}
	st.sigAlg = b.BytesOrPanic()
	return st, nil
}

// single is the content of one SingleResponse (RFC 6960 section 4.2.1).
type single struct {
	hash               crypto.Hash
	nameHash, keyHash  []byte
	serialDER          []byte
	status             Status
	thisUpdate         time.Time
	nextUpdate         time.Time
	producedAt         time.Time
	nonce              []byte // extnValue to echo, or nil
	revokedAt          time.Time
	reason             int  // meaningful when revoked
	withReason, revoke bool // revoked: reason present
}

// certStatus turns a Status into the CertStatus choice, refusing statuses
// that cannot be expressed (RFC 6960 section 4.2.1, RFC 5280 section 5.3.1).
// Errors here mean the Source returned nonsense.
func (s *single) certStatus() error {
	st := s.status
	switch {
	case !st.Known:
		return nil
	case st.OnHold:
		s.revoke, s.withReason, s.reason = true, true, reasonCertificateHold
	case st.Revoked:
		s.revoke = true
		switch {
		case st.Reason == reasonUnspecified:
			// RFC 5280 section 5.3.1: unspecified SHOULD be absent.
		case st.Reason == reasonUnused || st.Reason == reasonRemoveFromCRL ||
			st.Reason < 0 || st.Reason > reasonAACompromise:
			return fmt.Errorf("ocsp: source gave revocation reason %d, not usable in OCSP", st.Reason)
		default:
			s.withReason, s.reason = true, st.Reason
		}
	default:
		return nil
	}
	if st.RevokedAt.IsZero() {
		return errors.New("ocsp: source gave a revoked status without a revocation time")
	}
	s.revokedAt = st.RevokedAt
	return nil
}

// sign builds and signs a successful OCSPResponse carrying one
// BasicOCSPResponse (RFC 6960 section 4.2.1): responderID byKey, producedAt,
// one SingleResponse with thisUpdate and nextUpdate, the nonce in
// responseExtensions when there is one (section 4.4.1), and the delegated
// responder certificate in certs.
func (st *signerState) sign(s *single) ([]byte, error) {
	if err := s.certStatus(); err != nil {
		return nil, err
	}
	hashOID := algid.HashOID(s.hash)
	var tb cryptobyte.Builder
	tb.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		// version v1 is the DEFAULT and so omitted.
		b.AddASN1(asn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(st.keyHash)
		})
		b.AddASN1GeneralizedTime(s.producedAt.UTC())
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(hashOID)
						b.AddASN1NULL()
					})
					b.AddASN1OctetString(s.nameHash)
					b.AddASN1OctetString(s.keyHash)
					b.AddBytes(s.serialDER)
				})
				switch {
				case !s.status.Known:
					b.AddASN1(asn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
				case s.revoke:
					b.AddASN1(asn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(s.revokedAt.UTC().Truncate(time.Second))
						if s.withReason {
							b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1Enum(int64(s.reason))
							})
						}
					})
				default:
					b.AddASN1(asn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
				}
				b.AddASN1GeneralizedTime(s.thisUpdate.UTC())
				b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1GeneralizedTime(s.nextUpdate.UTC())
				})
			})
		})
		if s.nonce != nil {
			b.AddASN1(asn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidNonce)
						b.AddASN1OctetString(s.nonce)
					})
				})
			})
		}
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ocsp: encoding response data: %w", err)
	}

	digest := tbs
	if h := st.opts.HashFunc(); h != 0 {
		hh := h.New()
		hh.Write(tbs)
		digest = hh.Sum(nil)
	}
	sig, err := st.signer.Sign(rand.Reader, digest, st.opts)
	if err != nil {
		return nil, fmt.Errorf("ocsp: signing response: %w", err)
	}

	var sb cryptobyte.Builder
	sb.AddASN1BitString(sig)
	return encodeResponse(tbs, st.sigAlg, sb.BytesOrPanic(), st.certDER)
}

// encodeResponse encodes a successful OCSPResponse carrying one
// BasicOCSPResponse (RFC 6960 section 4.2.1) of the DER elements tbs
// (ResponseData), sigAlg and sig (the signature's BIT STRING), with
// certDER in certs unless it is nil.
func encodeResponse(tbs, sigAlg, sig, certDER []byte) ([]byte, error) {
	var bb cryptobyte.Builder
	bb.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(int64(statusSuccessful))
		b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidBasic)
				b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(tbs)
						b.AddBytes(sigAlg)
						b.AddBytes(sig)
						if certDER != nil {
							b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddBytes(certDER)
								})
							})
						}
					})
				})
			})
		})
	})
	der, err := bb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ocsp: encoding response: %w", err)
	}
	return der, nil
}
