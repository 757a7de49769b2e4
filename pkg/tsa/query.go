package tsa

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Query is a TimeStampReq (RFC 3161 section 2.4.1), the body of an
// application/timestamp-query. It is named Query, not Request, because
// Request is the client call.
type Query struct {
	// HashAlgorithm is the digest algorithm of the message imprint; 0 when
	// HashOID names an algorithm kyso does not know.
	HashAlgorithm crypto.Hash
	// HashOID is the imprint's algorithm identifier as sent. When a Query is
	// built in-process it may be left nil and is derived from HashAlgorithm.
	HashOID asn1.ObjectIdentifier
	// HashedMessage is the digest of the data to be time-stamped.
	HashedMessage []byte
	// Policy is reqPolicy, the TSA policy asked for; nil when absent.
	Policy asn1.ObjectIdentifier
	// Nonce is the requester's nonce; nil when absent. It is echoed in
	// TSTInfo exactly.
	Nonce *big.Int
	// CertReq asks the TSA to include its certificates in the token.
	CertReq bool
	// Extensions are the request's extensions. kyso recognises none, so a
	// request carrying any is refused with unacceptedExtension (RFC 3161
	// section 2.4.1).
	Extensions []pkix.Extension

	// imprint is the DER MessageImprint as received, echoed in TSTInfo so
	// that a requester comparing encodings finds its own.
	imprint []byte
}

// ParseQuery parses a DER TimeStampReq (RFC 3161 section 2.4.1). The input is
// untrusted: anything that is not one DER TimeStampReq, version 1, is refused
// with a *RefusedError carrying badDataFormat (or badRequest for another
// version). An unknown hash algorithm is not an error here; the server
// refuses it with badAlg.
func ParseQuery(der []byte) (*Query, error) {
	bad := func(format string, args ...any) error {
		return &RefusedError{Status: StatusRejection, FailInfo: BadDataFormat, Text: "tsa: malformed request: " + fmt.Sprintf(format, args...)}
	}
	input := cryptobyte.String(der)
	var req cryptobyte.String
	if !input.ReadASN1(&req, cbasn1.SEQUENCE) {
		return nil, bad("not a DER SEQUENCE")
	}
	if !input.Empty() {
		return nil, bad("%v", errTrailing)
	}
	var version int64
	if !req.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) {
		return nil, bad("version")
	}
	if version != 1 {
		return nil, &RefusedError{Status: StatusRejection, FailInfo: BadRequest, Text: fmt.Sprintf("tsa: request version %d, want 1", version)}
	}
	q := &Query{}
	var imprint cryptobyte.String
	if !req.ReadASN1Element(&imprint, cbasn1.SEQUENCE) {
		return nil, bad("messageImprint")
	}
	q.imprint = imprint
	var mi cryptobyte.String
	imprint.ReadASN1(&mi, cbasn1.SEQUENCE)
	oid, params, hasParams, err := algid.Read(&mi)
	if err != nil {
		return nil, bad("hashAlgorithm")
	}
	var ok bool
	var hashed cryptobyte.String
	if !mi.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !mi.Empty() {
		return nil, bad("hashedMessage")
	}
	q.HashOID = oid
	q.HashedMessage = append([]byte(nil), hashed...)
	if algid.NullOrAbsent(params, hasParams) {
		q.HashAlgorithm = algid.Hash(oid)
	}
	if req.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		if !req.ReadASN1ObjectIdentifier(&q.Policy) {
			return nil, bad("reqPolicy")
		}
	}
	if req.PeekASN1Tag(cbasn1.INTEGER) {
		if q.Nonce, ok = readBigInt(&req); !ok {
			return nil, bad("nonce")
		}
	}
	if req.PeekASN1Tag(cbasn1.BOOLEAN) {
		// DER omits a DEFAULT FALSE; an explicit FALSE is tolerated, as
		// some clients send it.
		if !req.ReadASN1Boolean(&q.CertReq) {
			return nil, bad("certReq")
		}
	}
	if req.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var exts cryptobyte.String
		if !req.ReadASN1(&exts, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, bad("extensions")
		}
		for !exts.Empty() {
			var ext cryptobyte.String
			var e pkix.Extension
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&e.Id) {
				return nil, bad("extension")
			}
			if ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&e.Critical) {
				return nil, bad("extension criticality")
			}
			var v cryptobyte.String
			if !ext.ReadASN1(&v, cbasn1.OCTET_STRING) || !ext.Empty() {
				return nil, bad("extension value")
			}
			e.Value = append([]byte(nil), v...)
			q.Extensions = append(q.Extensions, e)
		}
	}
	if !req.Empty() {
		return nil, bad("unexpected field after the request")
	}
	return q, nil
}

// Marshal returns the DER TimeStampReq. The hash identifier carries NULL
// parameters, as OpenSSL and most clients write it.
func (q *Query) Marshal() ([]byte, error) {
	imprint, err := q.imprintDER()
	if err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(imprint)
		if q.Policy != nil {
			b.AddASN1ObjectIdentifier(q.Policy)
		}
		if q.Nonce != nil {
			b.AddASN1BigInt(q.Nonce)
		}
		if q.CertReq {
			b.AddASN1Boolean(true)
		}
		if len(q.Extensions) > 0 {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				for _, e := range q.Extensions {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(e.Id)
						if e.Critical {
							b.AddASN1Boolean(true)
						}
						b.AddASN1OctetString(e.Value)
					})
				}
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding request: %w", err)
	}
	return der, nil
}

// imprintDER is the MessageImprint as received — when the fields still say
// what it says — or else encoded from HashOID (or HashAlgorithm) and
// HashedMessage.
func (q *Query) imprintDER() ([]byte, error) {
	oid := q.HashOID
	if oid == nil {
		oid = algid.HashOID(q.HashAlgorithm)
	}
	if oid == nil {
		return nil, fmt.Errorf("tsa: no algorithm identifier for hash %v", q.HashAlgorithm)
	}
	if q.imprint != nil {
		s := cryptobyte.String(q.imprint)
		var mi, hashed cryptobyte.String
		if s.ReadASN1(&mi, cbasn1.SEQUENCE) {
			if got, _, _, err := algid.Read(&mi); err == nil && got.Equal(oid) &&
				mi.ReadASN1(&hashed, cbasn1.OCTET_STRING) && string(hashed) == string(q.HashedMessage) {
				return q.imprint, nil
			}
		}
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		algid.Add(b, oid, true)
		b.AddASN1OctetString(q.HashedMessage)
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding message imprint: %w", err)
	}
	return der, nil
}
