package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SignerInfoRequest says what to sign and with which certificate.
type SignerInfoRequest struct {
	// Certificate is the signer's certificate. Required. Its key must be
	// RSA of at least 2048 bits or ECDSA on P-256, P-384 or P-521.
	Certificate *x509.Certificate
	// Chain are the certificates above Certificate, written into the
	// SignedData's certificates so a verifier can build the path; usually
	// the issuing CA, optionally the root. May be empty.
	Chain []*x509.Certificate
	// ContentDigest is Hash over the content being signed — for PAdES, over
	// the PDF's ByteRange. Required; it must be Hash.Size() bytes.
	ContentDigest []byte
	// Hash is the digest algorithm for the content and the signed
	// attributes: SHA-256, SHA-384 or SHA-512. Zero means SHA-256.
	Hash crypto.Hash
	// SignatureAlgorithm is how the signature value is made. Zero
	// (SignatureDefault) means RSAPSS for an RSA key — the algorithm of
	// Circular 15/2025/TT-BKHCN Annex I — and ECDSA for an ECDSA key.
	// RSAPKCS1v15 must be asked for.
	SignatureAlgorithm SignatureAlgorithm
	// SigningTime, when not zero, adds the signing-time attribute (RFC 5652
	// section 11.3, ETSI EN 319 122-1 clause 5.2.1), which CAdES-B-B
	// requires (EN 319 122-1 clause 6.3). Leave it zero for PAdES: in a
	// PAdES baseline signature the signing-time attribute shall not be
	// present and the claimed signing time is the signature dictionary's /M
	// (ETSI EN 319 142-1 clause 6.3, Table 1).
	SigningTime time.Time
	// IssuerSerial adds issuerSerial to the ESSCertIDv2 of
	// signing-certificate-v2 (RFC 5035 section 4). Off by default: ETSI EN
	// 319 122-1 clause 6.3 requirement g says baseline signatures should not
	// include it — the certificate hash is the binding.
	IssuerSerial bool
	// ContentType is the content's type, written in the content-type
	// attribute and encapContentInfo. Nil means id-data, what PAdES signs
	// and what CAdES baseline signatures require (ETSI EN 319 122-1 clause
	// 6.3 requirement f).
	ContentType asn1.ObjectIdentifier
}

// Prepared is a SignerInfo waiting for its signature value: the signed
// attributes, their digest for the key owner to approve and a remote signer
// to sign, and what Finish needs to assemble the SignedData. MarshalBinary
// and UnmarshalBinary store and restore it while a person approves.
type Prepared struct {
	// SignedAttrs is the DER SET OF Attribute that is signed (RFC 5652
	// section 5.4: the explicit SET OF tag, not the IMPLICIT [0]).
	SignedAttrs []byte
	// Digest is Hash over SignedAttrs: what the signer signs.
	Digest []byte
	// Hash is the digest algorithm.
	Hash crypto.Hash
	// Algorithm is the signature algorithm, never SignatureDefault.
	Algorithm SignatureAlgorithm
	// Certificate is the signer's certificate.
	Certificate *x509.Certificate
	// Chain are the certificates written after Certificate.
	Chain []*x509.Certificate
	// ContentType is the content's type.
	ContentType asn1.ObjectIdentifier
}

// Prepare builds the signed attributes for req (RFC 5652 section 5.3, ETSI
// EN 319 122-1 clause 5.2) and returns them with the digest to sign.
func Prepare(req *SignerInfoRequest) (*Prepared, error) {
	if req == nil || req.Certificate == nil {
		return nil, errors.New("cms: Prepare needs a signer certificate")
	}
	h := req.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	if err := checkHash(h); err != nil {
		return nil, err
	}
	if len(req.ContentDigest) != h.Size() {
		return nil, fmt.Errorf("cms: content digest is %d bytes, %v needs %d", len(req.ContentDigest), h, h.Size())
	}
	alg, err := keyAlgorithm(req.Certificate.PublicKey, req.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	if err := checkKeyUsage(req.Certificate); err != nil {
		return nil, err
	}
	ct := req.ContentType
	if ct == nil {
		ct = OIDData
	}
	attrs, err := signedAttributes(ct, req.ContentDigest, req.Certificate, req.SigningTime, req.IssuerSerial)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
	set, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding signed attributes: %w", err)
	}
	var chain []*x509.Certificate
	for _, c := range req.Chain {
		if c == nil {
			return nil, errors.New("cms: nil certificate in chain")
		}
		if !c.Equal(req.Certificate) && !slices.ContainsFunc(chain, c.Equal) {
			chain = append(chain, c)
		}
	}
	return &Prepared{
		SignedAttrs: set,
		Digest:      digest(h, set),
		Hash:        h,
		Algorithm:   alg,
		Certificate: req.Certificate,
		Chain:       chain,
		ContentType: slices.Clone(ct),
	}, nil
}

// checkKeyUsage refuses a certificate whose keyUsage allows neither
// digitalSignature nor contentCommitment (RFC 5280 section 4.2.1.3).
func checkKeyUsage(c *x509.Certificate) error {
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("%w: certificate %q has neither digitalSignature nor contentCommitment key usage", ErrUnsupported, c.Subject.CommonName)
	}
	return nil
}

func digest(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

// SignerOpts returns the options for crypto.Signer.Sign over p.Digest:
// the hash, or *rsa.PSSOptions with a salt as long as the hash for RSAPSS.
func (p *Prepared) SignerOpts() crypto.SignerOpts {
	return signerOpts(p.Algorithm, p.Hash)
}

// check validates p as Finish and UnmarshalBinary need it: the digest is
// that of the signed attributes, and those carry a message-digest of the
// right length, the content type and a signing-certificate-v2 naming
// Certificate.
func (p *Prepared) check() error {
	if p == nil || p.Certificate == nil {
		return errors.New("cms: prepared signature has no certificate")
	}
	if err := checkHash(p.Hash); err != nil {
		return err
	}
	if alg, err := keyAlgorithm(p.Certificate.PublicKey, p.Algorithm); err != nil || alg != p.Algorithm {
		return fmt.Errorf("%w: %v with the certificate's key", ErrUnsupported, p.Algorithm)
	}
	if !bytes.Equal(p.Digest, digest(p.Hash, p.SignedAttrs)) {
		return errors.New("cms: prepared digest is not the hash of the signed attributes")
	}
	s := cryptobyte.String(p.SignedAttrs)
	var set cryptobyte.String
	if !s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return fmt.Errorf("%w: prepared signed attributes", ErrMalformed)
	}
	attrs, err := parseAttributes(set)
	if err != nil {
		return err
	}
	sa, err := parseSignedAttrs(attrs)
	if err != nil {
		return err
	}
	switch {
	case len(sa.messageDigest) != p.Hash.Size():
		return fmt.Errorf("%w: prepared message digest is %d bytes", ErrMalformed, len(sa.messageDigest))
	case !sa.contentType.Equal(p.ContentType):
		return fmt.Errorf("%w: prepared content-type %v, want %v", ErrMalformed, sa.contentType, p.ContentType)
	case !sa.signingCert.Matches(p.Certificate):
		return ErrSigningCertificate
	}
	return nil
}

// FinishOption changes what Finish writes.
type FinishOption func(*finishConfig)

type finishConfig struct {
	tokens [][]byte
	// content, when not nil, is written as encapContentInfo's eContent:
	// an attached SignedData (SignAttached).
	content []byte
}

// WithTimestampToken adds token, an RFC 3161 TimeStampToken over the
// signature value, as the signature-time-stamp unsigned attribute (ETSI EN
// 319 122-1 clause 5.3): a CAdES-B-T signature in one step. Finish refuses
// a token whose message imprint is not the hash of the signature value.
func WithTimestampToken(token []byte) FinishOption {
	return func(c *finishConfig) { c.tokens = append(c.tokens, token) }
}

// Finish assembles the DER ContentInfo of a detached SignedData (RFC 5652
// sections 3 and 5) around signature, the signature value over p.Digest
// as crypto.Signer returns it (for ECDSA a DER Ecdsa-Sig-Value;
// hsm.ECDSARawToASN1 converts a raw r||s).
// It refuses a signature that does not verify with the certificate's key,
// so a remote signer that used another key is caught here.
func (p *Prepared) Finish(signature []byte, opts ...FinishOption) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if err := checkSignature(p.Certificate.PublicKey, p.Algorithm, p.Hash, p.Hash.Size(), p.Digest, signature); err != nil {
		if errors.Is(err, ErrSignature) {
			return nil, fmt.Errorf("%w with the certificate's key: it was made with another key, or over another digest", ErrSignature)
		}
		return nil, err
	}
	var cfg finishConfig
	for _, o := range opts {
		o(&cfg)
	}
	return p.assemble(signature, &cfg)
}

// assemble writes the SignedData of p around signature, unchecked.
func (p *Prepared) assemble(signature []byte, cfg *finishConfig) ([]byte, error) {
	sp := &parts{version: 1}
	if !p.ContentType.Equal(OIDData) {
		// RFC 5652 section 5.1: version 3 when eContentType is not id-data.
		sp.version = 3
	}
	var err error
	if sp.digestAlgs, err = build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { algid.Add(b, algid.HashOID(p.Hash), false) })
	}); err != nil {
		return nil, err
	}
	if sp.encap, err = build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(p.ContentType)
			if cfg.content != nil {
				// eContent [0] EXPLICIT OCTET STRING (RFC 5652 section 5.2).
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1OctetString(cfg.content)
				})
			}
		})
	}); err != nil {
		return nil, err
	}
	certs := [][]byte{p.Certificate.Raw}
	for _, c := range p.Chain {
		certs = append(certs, c.Raw)
	}
	slices.SortFunc(certs, bytes.Compare) // DER SET OF order
	sp.certs = certs
	si := &sp.si
	si.version = 1
	if si.sid, err = build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(p.Certificate.RawIssuer)
			b.AddASN1BigInt(p.Certificate.SerialNumber)
		})
	}); err != nil {
		return nil, err
	}
	if si.digestAlg, err = build(func(b *cryptobyte.Builder) { algid.Add(b, algid.HashOID(p.Hash), false) }); err != nil {
		return nil, err
	}
	si.signedAttrs = p.SignedAttrs[len(p.SignedAttrs)-len(mustContents(p.SignedAttrs)):]
	if si.sigAlg, err = build(func(b *cryptobyte.Builder) { addSignatureAlgorithm(b, p.Algorithm, p.Hash) }); err != nil {
		return nil, err
	}
	si.signature = signature
	for _, tok := range cfg.tokens {
		a, err := timestampAttribute(tok, signature)
		if err != nil {
			return nil, err
		}
		si.unsigned = append(si.unsigned, a)
	}
	return sp.encode()
}

// mustContents returns the contents of the DER element el, which check has
// already parsed.
func mustContents(el []byte) []byte {
	s := cryptobyte.String(el)
	var c cryptobyte.String
	var tag cbasn1.Tag
	s.ReadAnyASN1(&c, &tag)
	return c
}

func build(f func(*cryptobyte.Builder)) ([]byte, error) {
	var b cryptobyte.Builder
	f(&b)
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding: %w", err)
	}
	return out, nil
}

// Sign makes a detached CAdES SignedData over req.ContentDigest with signer
// in one call: Prepare, signer.Sign, Finish. The signer's public key must be
// the certificate's.
func Sign(ctx context.Context, req *SignerInfoRequest, signer crypto.Signer) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("cms: Sign needs a signer")
	}
	return prepareAndSign(ctx, req, signer)
}

// prepareAndSign is Prepare, signer.Sign and Finish with opts.
func prepareAndSign(ctx context.Context, req *SignerInfoRequest, signer crypto.Signer, opts ...FinishOption) ([]byte, error) {
	p, err := Prepare(req)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cms: before signing: %w", err)
	}
	sig, err := signer.Sign(rand.Reader, p.Digest, p.SignerOpts())
	if err != nil {
		return nil, fmt.Errorf("cms: signing: %w", err)
	}
	return p.Finish(sig, opts...)
}

// SignAttached makes a CAdES SignedData that carries content itself
// (encapContentInfo's eContent, RFC 5652 section 5.2): what a verifier
// such as `openssl cms -verify -inform DER` checks and prints without
// being given the content. req.ContentDigest is computed here from
// content with req.Hash; any value given is replaced. The signer's public
// key must be the certificate's.
func SignAttached(ctx context.Context, req *SignerInfoRequest, content []byte, signer crypto.Signer) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("cms: SignAttached needs a signer")
	}
	if content == nil {
		content = []byte{}
	}
	r := *req
	if r.Hash == 0 {
		r.Hash = crypto.SHA256
	}
	if err := checkHash(r.Hash); err != nil {
		return nil, err
	}
	r.ContentDigest = digest(r.Hash, content)
	return prepareAndSign(ctx, &r, signer, func(c *finishConfig) { c.content = content })
}

// preparedJSON is the stored form of a Prepared, version 1.
type preparedJSON struct {
	V           int      `json:"v"`
	SignedAttrs string   `json:"signed_attrs"`
	Digest      string   `json:"digest"`
	Hash        string   `json:"hash"`
	Algorithm   string   `json:"algorithm"`
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain,omitempty"`
	ContentType string   `json:"content_type"`
}

var (
	_ encoding.BinaryMarshaler   = (*Prepared)(nil)
	_ encoding.BinaryUnmarshaler = (*Prepared)(nil)
)

// maxPreparedSize bounds UnmarshalBinary's input.
const maxPreparedSize = 1 << 20

// MarshalBinary encodes p as versioned JSON, for storage while the key
// owner approves the digest.
func (p *Prepared) MarshalBinary() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString
	j := preparedJSON{
		V:           1,
		SignedAttrs: enc(p.SignedAttrs),
		Digest:      enc(p.Digest),
		Hash:        hashName(p.Hash),
		Algorithm:   p.Algorithm.String(),
		Certificate: enc(p.Certificate.Raw),
		ContentType: p.ContentType.String(),
	}
	for _, c := range p.Chain {
		j.Chain = append(j.Chain, enc(c.Raw))
	}
	return json.Marshal(j)
}

// UnmarshalBinary restores what MarshalBinary wrote and checks it again —
// digest, attributes, certificate — since stored state may have been
// altered.
func (p *Prepared) UnmarshalBinary(data []byte) error {
	if len(data) > maxPreparedSize {
		return fmt.Errorf("cms: prepared signature of %d bytes, at most %d", len(data), maxPreparedSize)
	}
	var j preparedJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("cms: decoding prepared signature: %w", err)
	}
	if j.V != 1 {
		return fmt.Errorf("cms: prepared signature version %d, want 1", j.V)
	}
	dec := base64.StdEncoding.DecodeString
	var q Prepared
	var err error
	if q.SignedAttrs, err = dec(j.SignedAttrs); err != nil {
		return fmt.Errorf("cms: decoding prepared signed attributes: %w", err)
	}
	if q.Digest, err = dec(j.Digest); err != nil {
		return fmt.Errorf("cms: decoding prepared digest: %w", err)
	}
	if q.Hash, err = parseHashName(j.Hash); err != nil {
		return err
	}
	if q.Algorithm, err = parseSignatureAlgorithm(j.Algorithm); err != nil {
		return err
	}
	parse := func(s string) (*x509.Certificate, error) {
		der, err := dec(s)
		if err != nil {
			return nil, fmt.Errorf("cms: decoding prepared certificate: %w", err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("cms: parsing prepared certificate: %w", err)
		}
		return c, nil
	}
	if q.Certificate, err = parse(j.Certificate); err != nil {
		return err
	}
	if len(j.Chain) > maxCertificates {
		return fmt.Errorf("cms: prepared chain of %d certificates, at most %d", len(j.Chain), maxCertificates)
	}
	for _, s := range j.Chain {
		c, err := parse(s)
		if err != nil {
			return err
		}
		q.Chain = append(q.Chain, c)
	}
	if q.ContentType, err = parseOID(j.ContentType); err != nil {
		return err
	}
	if err := q.check(); err != nil {
		return err
	}
	*p = q
	return nil
}

// parseOID reads a dotted-decimal object identifier.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 || len(arcs) > 64 {
		return nil, fmt.Errorf("cms: content type %q is not an object identifier", s)
	}
	oid := make(asn1.ObjectIdentifier, len(arcs))
	for i, a := range arcs {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("cms: content type %q is not an object identifier", s)
		}
		oid[i] = n
	}
	if _, err := asn1.Marshal(oid); err != nil {
		return nil, fmt.Errorf("cms: content type %q: %w", s, err)
	}
	return oid, nil
}
