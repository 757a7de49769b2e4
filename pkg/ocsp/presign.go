package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"

	encasn1 "encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Answer is a response signed ahead of any request (Responder.Presign)
// for a CertID with SHA-1 hashes, the hash RFC 5019 section 2.1.1 has
// clients use.
type Answer struct {
	// DER is the OCSPResponse without the responder's certificate: it
	// lies outside the signature, and the responder adds it when serving
	// the answer, so a stored answer is a few hundred octets.
	DER []byte
	// Responder names the key and certificate that signed it
	// (Responder.ResponderID): an answer by another is not served.
	Responder []byte
	// Status is the status it states.
	Status Status
	// ThisUpdate and NextUpdate are the answer's; RefreshAt is
	// ThisUpdate plus half the validity, after which it is not served
	// (it is signed again by then).
	ThisUpdate, NextUpdate, RefreshAt time.Time
}

// Presigned finds answers signed ahead, for the responder to serve on a
// cache miss instead of signing (Config.Presigned).
type Presigned interface {
	// Presigned returns the answer stored for serial when it states the
	// certificate's current status, and nil, nil when there is none.
	Presigned(ctx context.Context, serial *big.Int) (*Answer, error)
}

// ResponderID names the key and certificate responses are signed with
// now: the SHA-256 of the delegated responder's certificate, or of the
// issuer's when the CA signs its own.
func (r *Responder) ResponderID() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.signer.id
}

// Validity is nextUpdate − thisUpdate of the responses signed.
func (r *Responder) Validity() time.Duration { return r.validity }

// Presign signs the answer for serial with status for a SHA-1 CertID, as
// a request without a nonce would get it, thisUpdate now. It fails when
// the responder certificate has expired or status cannot be stated.
func (r *Responder) Presign(serial *big.Int, status Status) (*Answer, error) {
	if serial == nil || serial.Sign() <= 0 {
		return nil, errors.New("ocsp: pre-signing needs a positive serial")
	}
	var b cryptobyte.Builder
	b.AddASN1BigInt(serial)
	req := &request{hash: crypto.SHA1, serialDER: b.BytesOrPanic()}
	r.mu.Lock()
	st := r.signer
	r.mu.Unlock()
	bare := *st
	bare.certDER = nil
	e, err := r.signOne(&bare, req, status, r.now())
	if err != nil {
		return nil, err
	}
	return &Answer{DER: e.der, Responder: st.id, Status: status, ThisUpdate: e.thisUpdate, NextUpdate: e.nextUpdate, RefreshAt: e.refreshAt}, nil
}

// fromStore returns the pre-signed answer for req when one is stored,
// signed by st, and fresh at now (before its refresh time), as a cache
// entry carrying st's certificate; otherwise nil, and the caller signs.
// A store that fails is logged and passed over: signing still answers.
func (r *Responder) fromStore(ctx context.Context, st *signerState, req *request, now time.Time) *entry {
	if r.presigned == nil || req.hash != crypto.SHA1 {
		return nil
	}
	a, err := r.presigned.Presigned(ctx, req.serial())
	switch {
	case err != nil:
		r.log.WarnContext(ctx, "ocsp: reading a pre-signed answer; signing instead", "err", err)
		return nil
	case a == nil || !bytes.Equal(a.Responder, st.id) || now.Before(a.ThisUpdate) || !now.Before(a.RefreshAt) ||
		!a.RefreshAt.Before(a.NextUpdate) || a.NextUpdate.After(st.notAfter):
		return nil
	}
	der, err := withCertificate(a.DER, req.serialDER, st.certDER)
	if err != nil {
		r.log.ErrorContext(ctx, "ocsp: a stored answer does not parse; signing instead", "err", err)
		return nil
	}
	return newEntry(der, a.Status, st, a.ThisUpdate, a.NextUpdate, a.RefreshAt, true)
}

// newEntry is the cache entry of a signed response; cacheable ones (no
// nonce) get their HTTP header values formatted once.
func newEntry(der []byte, status Status, st *signerState, this, next, refresh time.Time, cacheable bool) *entry {
	sum := sha256.Sum256(der)
	e := &entry{
		der: der, status: status, signer: st,
		thisUpdate: this, nextUpdate: next, refreshAt: refresh,
		etag: `"` + hex.EncodeToString(sum[:16]) + `"`,
	}
	if cacheable {
		e.hdr = [4]string{this.Format(http.TimeFormat), next.Format(http.TimeFormat), e.etag, strconv.Itoa(len(der))}
	}
	return e
}

// withCertificate checks that der is a successful OCSPResponse with one
// BasicOCSPResponse carrying no certificates, answering for the serial
// INTEGER serialDER, and returns it with certDER in its certs (RFC 6960
// section 4.2.1), or der itself when certDER is nil (the CA signs).
func withCertificate(der, serialDER, certDER []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var resp, bytesField, rb, oct, basic, tbs, alg, sig cryptobyte.String
	var status int
	var oid encasn1.ObjectIdentifier
	if !in.ReadASN1(&resp, asn1.SEQUENCE) || !in.Empty() ||
		!resp.ReadASN1Enum(&status) || status != int(statusSuccessful) ||
		!resp.ReadASN1(&bytesField, asn1.Tag(0).Constructed().ContextSpecific()) || !resp.Empty() ||
		!bytesField.ReadASN1(&rb, asn1.SEQUENCE) || !bytesField.Empty() ||
		!rb.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidBasic) ||
		!rb.ReadASN1(&oct, asn1.OCTET_STRING) || !rb.Empty() ||
		!oct.ReadASN1(&basic, asn1.SEQUENCE) || !oct.Empty() ||
		!basic.ReadASN1Element(&tbs, asn1.SEQUENCE) ||
		!basic.ReadASN1Element(&alg, asn1.SEQUENCE) ||
		!basic.ReadASN1Element(&sig, asn1.BIT_STRING) || !basic.Empty() {
		return nil, errors.New("ocsp: not a successful response without certificates")
	}
	if got, ok := answeredSerial(tbs); !ok || !bytes.Equal(got, serialDER) {
		return nil, fmt.Errorf("ocsp: the stored answer is not for serial %x", serialDER)
	}
	if certDER == nil {
		return der, nil
	}
	return encodeResponse(tbs, alg, sig, certDER)
}

// answeredSerial reads the serial INTEGER (its DER) of the first
// SingleResponse of a ResponseData element (RFC 6960 section 4.2.1).
func answeredSerial(tbs cryptobyte.String) ([]byte, bool) {
	var data, responses, single, certID cryptobyte.String
	var serial, responder cryptobyte.String
	var tag asn1.Tag
	if !tbs.ReadASN1(&data, asn1.SEQUENCE) ||
		!data.SkipOptionalASN1(asn1.Tag(0).Constructed().ContextSpecific()) || // version
		!data.ReadAnyASN1(&responder, &tag) || // responderID, byName [1] or byKey [2]
		(tag != asn1.Tag(1).Constructed().ContextSpecific() && tag != asn1.Tag(2).Constructed().ContextSpecific()) ||
		!data.SkipASN1(asn1.GeneralizedTime) ||
		!data.ReadASN1(&responses, asn1.SEQUENCE) ||
		!responses.ReadASN1(&single, asn1.SEQUENCE) ||
		!single.ReadASN1(&certID, asn1.SEQUENCE) ||
		!certID.SkipASN1(asn1.SEQUENCE) || !certID.SkipASN1(asn1.OCTET_STRING) || !certID.SkipASN1(asn1.OCTET_STRING) ||
		!certID.ReadASN1Element(&serial, asn1.INTEGER) {
		return nil, false
	}
	return serial, true
}
