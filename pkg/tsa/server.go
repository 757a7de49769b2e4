// Package tsa is kyso's time-stamping authority: an RFC 3161 server over
// HTTP (section 3.4) with RFC 5816 signing-certificate-v2 references as ETSI
// EN 319 422 requires, and a client that verifies what a TSA returns.
//
// The server takes its key as a crypto.Signer, so it never knows whether the
// key lives in a PKCS#11 token, Vault or a softkey file. kysod serves it at
// /tsa on its plain-HTTP listener, without authentication. PAdES B-T calls
// Server.Timestamp in process, or Request against a TSA URL.
package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PlaceholderPolicy is a TSA policy identifier for development and tests:
// 2.999.704.2.1, under the joint-iso-itu-t "example" arc (2.999, ITU-T
// X.660), 704 being Viet Nam's ISO 3166 number. It can never collide with a
// real policy. WARNING: a provider must use the policy OID registered for its
// time-stamping policy (ETSI EN 319 421); Config.Policy has no default.
var PlaceholderPolicy = asn1.ObjectIdentifier{2, 999, 704, 2, 1}

// Defaults for Config's zero values.
const (
	DefaultAccuracy        = time.Second
	DefaultMaxRequestBytes = 16 << 10
)

// DefaultHashes are the message-imprint algorithms the server accepts when
// Config.Hashes is empty.
var DefaultHashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

// Config configures a Server.
type Config struct {
	// Certificate is the TSA certificate: its only extended key usage
	// id-kp-timeStamping, marked critical (RFC 3161 section 2.3). Required.
	Certificate *x509.Certificate
	// Chain is the certificates above Certificate, nearest first (issuing
	// CA, then root). Tokens for requests with certReq carry Certificate and
	// the chain's non-self-signed certificates; the root is never sent.
	Chain []*x509.Certificate
	// Signer is the TSA key, ECDSA or RSA, matching Certificate. Required.
	Signer crypto.Signer
	// Policy is the TSA policy written into every TSTInfo (RFC 3161 section
	// 2.4.2); requests asking for another are refused with
	// unacceptedPolicy. Required; see PlaceholderPolicy.
	Policy asn1.ObjectIdentifier
	// Accuracy is the TSTInfo accuracy (RFC 3161 section 2.4.2); zero means
	// DefaultAccuracy (one second). Below one second genTime carries
	// fractional seconds to the matching precision. At least 1µs.
	Accuracy time.Duration
	// Serials hands out TSTInfo serial numbers. Nil means a MemorySerials.
	// WARNING: MemorySerials is for one process only; see its doc.
	Serials SerialSource
	// Hashes are the message-imprint algorithms accepted; empty means
	// DefaultHashes. MD5 and SHA-1 are refused here and, in requests, with
	// badAlg.
	Hashes []crypto.Hash
	// SignatureHash is the digest of the token signature; zero means SHA-384
	// for P-384 keys, SHA-512 for P-521 and SHA-256 otherwise.
	SignatureHash crypto.Hash
	// RSAPKCS1v15 signs tokens with PKCS#1 v1.5 when the key is RSA. False,
	// the default, signs them with RSASSA-PSS (RFC 4056; MGF1 over the
	// signature hash, salt as long as the hash), which Circular
	// 15/2025/TT-BKHCN Annex I requires for RSA signatures. Ignored for
	// ECDSA keys. WARNING: only for relying parties that cannot verify
	// RSASSA-PSS (openssl ts -verify up to OpenSSL 3.0 is one); it departs
	// from Annex I.
	RSAPKCS1v15 bool
	// OmitTSAName leaves out the TSTInfo tsa field. By default it carries the
	// TSA certificate's subject as a directoryName (RFC 3161 section 2.4.2).
	OmitTSAName bool
	// MaxRequestBytes bounds a request body; zero means
	// DefaultMaxRequestBytes (16 KiB).
	MaxRequestBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is given to the signer and seeds a default MemorySerials; nil
	// means crypto/rand.Reader.
	Rand io.Reader
	// Logger receives refusals (debug) and system failures (error); nil
	// discards them.
	Logger *slog.Logger
}

// Server is an RFC 3161 time-stamping authority. It is safe for concurrent
// use.
type Server struct {
	cfg       Config
	hashes    []crypto.Hash
	precision time.Duration
	maxReq    int64
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	serials   SerialSource

	sigHash     crypto.Hash
	signerOpts  crypto.SignerOpts
	digestAlg   []byte // AlgorithmIdentifier of sigHash
	sigAlg      []byte // AlgorithmIdentifier of the signature
	sid         []byte // IssuerAndSerialNumber
	essAttr     []byte // signing-certificate-v2 Attribute
	accuracy    []byte // Accuracy, DER
	tsaName     []byte // [0] GeneralName, DER, or nil
	certs       [][]byte
	contentAttr []byte // content-type Attribute
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	c := cfg.Certificate
	if c == nil || cfg.Signer == nil {
		return nil, errors.New("tsa: Config.Certificate and Config.Signer are required")
	}
	if len(cfg.Policy) == 0 {
		return nil, errors.New("tsa: Config.Policy is required (tsa.PlaceholderPolicy for development)")
	}
	if err := checkTSACertificate(c); err != nil {
		return nil, err
	}
	pub, ok := cfg.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		return nil, errors.New("tsa: Config.Signer does not hold the key of Config.Certificate")
	}
	s := &Server{cfg: cfg, hashes: cfg.Hashes, maxReq: cfg.MaxRequestBytes, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger, serials: cfg.Serials}
	if len(s.hashes) == 0 {
		s.hashes = DefaultHashes
	}
	for _, h := range s.hashes {
		if h == crypto.MD5 || h == crypto.SHA1 || algid.HashOID(h) == nil || !h.Available() {
			return nil, fmt.Errorf("tsa: hash %v may not be accepted in requests", h)
		}
	}
	if s.maxReq <= 0 {
		s.maxReq = DefaultMaxRequestBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.serials == nil {
		m, err := NewMemorySerials(s.now, s.rand)
		if err != nil {
			return nil, err
		}
		s.serials = m
	}
	acc := cfg.Accuracy
	if acc == 0 {
		acc = DefaultAccuracy
	}
	if acc < time.Microsecond {
		return nil, fmt.Errorf("tsa: accuracy %v is below one microsecond", acc)
	}
	switch {
	case acc >= time.Second:
		s.precision = time.Second
	case acc >= time.Millisecond:
		s.precision = time.Millisecond
	default:
		s.precision = time.Microsecond
	}
	if err := s.prepareSignature(); err != nil {
		return nil, err
	}

	// The parts of every token that do not change between requests.
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if sec := int64(acc / time.Second); sec > 0 {
			b.AddASN1Int64(sec)
		}
		if ms := int64(acc % time.Second / time.Millisecond); ms > 0 {
			b.AddASN1Int64WithTag(ms, cbasn1.Tag(0).ContextSpecific())
		}
		if us := int64(acc % time.Millisecond / time.Microsecond); us > 0 {
			b.AddASN1Int64WithTag(us, cbasn1.Tag(1).ContextSpecific())
		}
	})
	s.accuracy = b.BytesOrPanic()

	if !cfg.OmitTSAName {
		b = cryptobyte.NewBuilder(nil)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			addDirectoryName(b, c.RawSubject)
		})
		s.tsaName = b.BytesOrPanic()
	}

	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(c.RawIssuer)
		b.AddASN1BigInt(c.SerialNumber)
	})
	s.sid = b.BytesOrPanic()

	// signing-certificate-v2 (RFC 5816 section 2.2.1, RFC 5035 section 3):
	// one ESSCertIDv2 with SHA-256 (the DEFAULT, so its identifier is
	// omitted) and issuerSerial.
	certHash := sha256.Sum256(c.Raw)
	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSigningCertV2)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								addDirectoryName(b, c.RawIssuer)
							})
							b.AddASN1BigInt(c.SerialNumber)
						})
					})
				})
			})
		})
	})
	s.essAttr = b.BytesOrPanic()

	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidContentType)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) })
	})
	s.contentAttr = b.BytesOrPanic()

	s.certs = [][]byte{c.Raw}
	for _, ic := range cfg.Chain {
		if bytes.Equal(ic.RawIssuer, ic.RawSubject) && ic.CheckSignatureFrom(ic) == nil {
			continue // a root: the verifier has it already
		}
		s.certs = append(s.certs, ic.Raw)
	}
	return s, nil
}

// addDirectoryName writes GeneralName directoryName [4] (RFC 5280 section
// 4.2.1.6); the tag is explicit because Name is a CHOICE.
func addDirectoryName(b *cryptobyte.Builder, rawName []byte) {
	b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(rawName) })
}

// checkTSACertificate enforces RFC 3161 section 2.3: the certificate's
// extended key usage is id-kp-timeStamping only, and critical.
func checkTSACertificate(c *x509.Certificate) error {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidExtKeyUsage) {
			continue
		}
		var kps []asn1.ObjectIdentifier
		rest, err := asn1.Unmarshal(e.Value, &kps)
		if err != nil || len(rest) != 0 {
			return fmt.Errorf("%w: extended key usage does not parse", ErrUntrusted)
		}
		if !e.Critical || len(kps) != 1 || !kps[0].Equal(oidKPTimeStamp) {
			return fmt.Errorf("%w: %q is not a time-stamping certificate (RFC 3161 section 2.3: one extended key usage, id-kp-timeStamping, critical)", ErrUntrusted, c.Subject.CommonName)
		}
		return nil
	}
	return fmt.Errorf("%w: %q has no extended key usage (RFC 3161 section 2.3 requires id-kp-timeStamping, critical)", ErrUntrusted, c.Subject.CommonName)
}

// prepareSignature picks the digest and signature algorithms for the key.
func (s *Server) prepareSignature() error {
	h := s.cfg.SignatureHash
	var sigAlg asn1.ObjectIdentifier
	b := cryptobyte.NewBuilder(nil)
	switch k := s.cfg.Signer.Public().(type) {
	case *ecdsa.PublicKey:
		if h == 0 {
			switch k.Curve {
			case elliptic.P384():
				h = crypto.SHA384
			case elliptic.P521():
				h = crypto.SHA512
			default:
				h = crypto.SHA256
			}
		}
		if sigAlg = algid.SignatureOID(algid.ECDSA, h); sigAlg == nil {
			return fmt.Errorf("tsa: signature hash %v not supported", h)
		}
		algid.Add(b, sigAlg, false) // RFC 5758 section 3.2: parameters absent
		s.signerOpts = h
	case *rsa.PublicKey:
		if h == 0 {
			h = crypto.SHA256
		}
		if !algid.SHA2(h) {
			return fmt.Errorf("tsa: signature hash %v not supported", h)
		}
		if s.cfg.RSAPKCS1v15 {
			algid.Add(b, algid.SignatureOID(algid.RSAPKCS1v15, h), true)
			s.signerOpts = h
		} else {
			algid.AddPSS(b, h)
			s.signerOpts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		}
	default:
		return fmt.Errorf("tsa: %T keys are not supported (want ECDSA or RSA)", k)
	}
	s.sigHash = h
	s.sigAlg = b.BytesOrPanic()
	b = cryptobyte.NewBuilder(nil)
	algid.Add(b, algid.HashOID(h), false) // RFC 5754 section 2: parameters absent
	s.digestAlg = b.BytesOrPanic()
	return nil
}

// Response is what Server.Timestamp produced.
type Response struct {
	// Status is granted, or rejection.
	Status Status
	// FailInfo says why a request was rejected; 0 when granted.
	FailInfo FailureInfo
	// Token is the TimeStampToken (RFC 3161 section 2.4.2), a DER
	// ContentInfo holding SignedData; nil unless granted. It is what PAdES
	// embeds as a signature-time-stamp.
	Token []byte
	// DER is the TimeStampResp to send to the requester, for every status.
	DER []byte
}

// Timestamp answers one request (RFC 3161 section 2.4). The Response is
// never nil: when the request is refused, err is a *RefusedError and the
// Response holds the rejection to send. Signer and serial failures are
// logged and answered with systemFailure, without detail.
func (s *Server) Timestamp(ctx context.Context, q *Query) (*Response, error) {
	token, err := s.timestamp(ctx, q)
	if err != nil {
		re, ok := errors.AsType[*RefusedError](err)
		if !ok {
			s.log.ErrorContext(ctx, "tsa: system failure", "err", err)
			re = &RefusedError{Status: StatusRejection, FailInfo: SystemFailure, Text: "tsa: system failure"}
		} else {
			s.log.DebugContext(ctx, "tsa: request refused", "failure", re.FailInfo.String(), "reason", re.Text)
		}
		return &Response{Status: re.Status, FailInfo: re.FailInfo, DER: rejection(re)}, re
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(StatusGranted)) })
		b.AddBytes(token)
	})
	return &Response{Status: StatusGranted, Token: token, DER: b.BytesOrPanic()}, nil
}

// rejection encodes a TimeStampResp with no token (RFC 3161 section 2.4.2).
func rejection(re *RefusedError) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(re.Status))
			if re.Text != "" {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(re.Text)) })
				})
			}
			if re.FailInfo != 0 {
				encodeFailureInfo(b, re.FailInfo)
			}
		})
	})
	return b.BytesOrPanic()
}

func refuse(f FailureInfo, format string, args ...any) error {
	return &RefusedError{Status: StatusRejection, FailInfo: f, Text: "tsa: " + fmt.Sprintf(format, args...)}
}

// check applies RFC 3161 section 2.4.1 to a request.
func (s *Server) check(q *Query) error {
	if q == nil {
		return refuse(BadRequest, "no request")
	}
	h := q.HashAlgorithm
	if h == 0 || (q.HashOID != nil && !q.HashOID.Equal(algid.HashOID(h))) {
		return refuse(BadAlg, "unknown message imprint algorithm %v", q.HashOID)
	}
	if !slices.Contains(s.hashes, h) {
		return refuse(BadAlg, "message imprint algorithm %v is not accepted", h)
	}
	if len(q.HashedMessage) != h.Size() {
		return refuse(BadDataFormat, "message imprint is %d bytes, %v needs %d", len(q.HashedMessage), h, h.Size())
	}
	if q.Policy != nil && !q.Policy.Equal(s.cfg.Policy) {
		return refuse(UnacceptedPolicy, "policy %v is not this TSA's (%v)", q.Policy, s.cfg.Policy)
	}
	// RFC 3161 section 2.4.1: an extension the TSA does not recognise,
	// critical or not, is refused. kyso recognises none.
	if len(q.Extensions) > 0 {
		return refuse(UnacceptedExtension, "extension %v is not supported", q.Extensions[0].Id)
	}
	return nil
}

func (s *Server) timestamp(ctx context.Context, q *Query) ([]byte, error) {
	if err := s.check(q); err != nil {
		return nil, err
	}
	imprint, err := q.imprintDER()
	if err != nil {
		return nil, refuse(BadAlg, "%v", err)
	}
	serial, err := s.serials.Next(ctx)
	if err != nil {
		return nil, fmt.Errorf("tsa: drawing a serial: %w", err)
	}
	if serial.Sign() <= 0 {
		return nil, fmt.Errorf("tsa: serial source returned %v", serial)
	}
	genTime := s.now()

	// TSTInfo, RFC 3161 section 2.4.2.
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(s.cfg.Policy)
		b.AddBytes(imprint)
		b.AddASN1BigInt(serial)
		addGeneralizedTime(b, genTime, s.precision)
		b.AddBytes(s.accuracy)
		// ordering is FALSE, the DEFAULT, so DER leaves it out.
		if q.Nonce != nil {
			b.AddASN1BigInt(q.Nonce)
		}
		if s.tsaName != nil {
			b.AddBytes(s.tsaName)
		}
	})
	tst, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding TSTInfo: %w", err)
	}

	// Signed attributes, RFC 5652 section 5.3 and RFC 5816: content-type,
	// message-digest, signing-certificate-v2, as a DER SET OF (sorted).
	hh := s.sigHash.New()
	hh.Write(tst)
	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidMsgDigest)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1OctetString(hh.Sum(nil)) })
	})
	attrs := [][]byte{s.contentAttr, b.BytesOrPanic(), s.essAttr}
	slices.SortFunc(attrs, bytes.Compare)
	attrContent := bytes.Join(attrs, nil)
	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrContent) })
	signedAttrs := b.BytesOrPanic()
	hh = s.sigHash.New()
	hh.Write(signedAttrs)
	sig, err := s.cfg.Signer.Sign(s.rand, hh.Sum(nil), s.signerOpts)
	if err != nil {
		return nil, fmt.Errorf("tsa: signing the token: %w", err)
	}

	// ContentInfo with SignedData, RFC 5652 sections 3 and 5.1.
	b = cryptobyte.NewBuilder(make([]byte, 0, len(tst)+len(sig)+1024))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(3) // eContentType is not id-data
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(s.digestAlg) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidTSTInfo)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(tst)
					})
				})
				if q.CertReq {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, c := range s.certs {
							b.AddBytes(c)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1) // sid is issuerAndSerialNumber
						b.AddBytes(s.sid)
						b.AddBytes(s.digestAlg)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(attrContent) })
						b.AddBytes(s.sigAlg)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	token, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the token: %w", err)
	}
	return token, nil
}
