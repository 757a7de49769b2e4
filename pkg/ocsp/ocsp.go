// Package ocsp is kyso's OCSP responder (RFC 6960), served over HTTP as RFC
// 6960 appendix A and the RFC 5019 lightweight profile describe.
//
// A Responder answers for the certificates of one issuing CA. It asks a
// Source for a certificate's status, signs the answer with a crypto.Signer —
// normally a delegated responder key whose certificate carries
// id-kp-OCSPSigning (RFC 6960 section 4.2.2.2) — and keeps the signed
// response in a cache bounded in bytes (Config.CacheBytes) until half its
// validity has passed, or until it is the least recently used. An RSA key
// signs with RSASSA-PSS (Circular 15/2025 Annex I) unless
// Config.RSAPKCS1v15 asks for PKCS#1 v1.5. Requests
// with a nonce (RFC 6960 section 4.4.1, RFC 8954) get a freshly signed
// response echoing it.
//
// Responses are encoded here with cryptobyte rather than with
// golang.org/x/crypto/ocsp.CreateResponse, which can only name the responder
// byName, stamps producedAt from the wall clock and puts extra extensions in
// singleExtensions, where no client looks for a nonce. x/crypto/ocsp is used
// by the tests to check what the responder produces.
package ocsp

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/metrics"
)

// Status is what the responder knows of one certificate (the CertStatus of
// RFC 6960 section 4.2.1).
type Status struct {
	// Known is false when the issuer never issued this serial number; the
	// answer is then "unknown", never "good", whatever the other fields
	// say.
	Known bool
	// Revoked marks the certificate revoked at RevokedAt for Reason.
	Revoked bool
	// OnHold marks the certificate suspended: the answer is revoked with
	// reason certificateHold (RFC 5280 section 5.3.1), at RevokedAt, and
	// Reason is ignored.
	OnHold bool
	// RevokedAt is the revocation (or hold) time; it must be set when
	// Revoked or OnHold is.
	RevokedAt time.Time
	// Reason is the RFC 5280 section 5.3.1 CRLReason code. 0 (unspecified)
	// is left out of the response, as RFC 5280 recommends; 7 (unused) and
	// 8 (removeFromCRL) are refused.
	Reason int
}

// Source looks certificate status up. Implementations may be slow (a
// database); the responder calls Status once per serial per refresh, not
// once per request. An error makes the responder answer tryLater (RFC 6960
// section 2.3).
type Source interface {
	Status(ctx context.Context, serial *big.Int) (Status, error)
}

// Defaults and limits for Config.
const (
	// DefaultValidity is nextUpdate − thisUpdate when Config.Validity is 0.
	// Responses are re-signed after half of it, so a revocation reaches
	// clients that ignore Invalidate within 12 hours.
	DefaultValidity = 24 * time.Hour
	// MaxValidity is the longest Config.Validity accepted.
	MaxValidity = 7 * 24 * time.Hour
	// DefaultMaxRequestBytes is Config.MaxRequestBytes when it is 0.
	DefaultMaxRequestBytes = 10 << 10
	// DefaultCacheBytes is Config.CacheBytes when it is 0: about 53,000
	// responses of an ECDSA responder that includes its certificate.
	DefaultCacheBytes = 64 << 20
	// DefaultLookupTimeout is Config.LookupTimeout when it is 0.
	DefaultLookupTimeout = 5 * time.Second
)

// Config configures a Responder. Issuer, Signer and Source are required.
type Config struct {
	// Issuer is the CA whose certificates this responder answers for.
	// Requests whose CertID names another issuer get "unauthorized" (RFC
	// 6960 section 2.3).
	Issuer *x509.Certificate
	// Signer is the OCSP signing key: the delegated responder's key, or the
	// CA's own key when SignerCert is nil.
	Signer crypto.Signer
	// SignerCert is the delegated responder certificate, issued by Issuer
	// with id-kp-OCSPSigning (and, for clients' sake, id-pkix-ocsp-nocheck),
	// included in every response (RFC 6960 section 4.2.2.2). nil means
	// Signer is the CA key itself and no certificate is included.
	SignerCert *x509.Certificate
	// Source looks statuses up.
	Source Source
	// Validity is nextUpdate − thisUpdate. 0 means DefaultValidity; more
	// than MaxValidity is an error. nextUpdate never goes past the responder
	// certificate's notAfter.
	Validity time.Duration
	// Now is the clock. nil means time.Now.
	Now func() time.Time
	// Logger receives Source and signing failures. nil discards them.
	Logger *slog.Logger
	// MaxRequestBytes bounds a request's DER size. 0 means
	// DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// CacheBytes bounds the memory the signed responses kept take: each
	// is counted at its DER, its ETag and serial, and a fixed overhead;
	// the least recently used is dropped first, and asked for again is
	// looked up and signed again. 0 means DefaultCacheBytes; negative
	// disables caching (every request is looked up and signed).
	CacheBytes int64
	// CacheSize, when positive, also bounds how many responses are kept.
	// 0 means no bound but CacheBytes'; negative disables caching.
	CacheSize int
	// LookupTimeout bounds one Source lookup and signature. The lookup is
	// shared by every request waiting for that serial, so it does not end
	// when the first client goes away. 0 means DefaultLookupTimeout.
	LookupTimeout time.Duration
	// RSAPKCS1v15 makes an RSA signing key sign responses with
	// sha256WithRSAEncryption (PKCS#1 v1.5). False, the zero value, means
	// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, its
	// parameters explicit (RFC 4055 section 3.1), as Circular 15/2025
	// Annex I asks. It applies to SetSigner's keys too and does not affect
	// ECDSA or Ed25519 keys. WARNING: for legacy relying parties that
	// cannot verify RSASSA-PSS only; it departs from Annex I.
	RSAPKCS1v15 bool
	// Presigned, when set, is asked on a cache miss for an answer signed
	// ahead (Presign) before the Source is asked and a response signed:
	// one stored for the request's serial (SHA-1 CertIDs), signed with
	// the current key and certificate and younger than half its
	// validity, is served and cached. nil signs every miss.
	Presigned Presigned
}

// Responder is an OCSP responder for one issuer, an http.Handler that serves
// RFC 6960 appendix A.1 GET and POST requests. It is safe for concurrent use.
type Responder struct {
	issuer        *x509.Certificate
	issuerHashes  map[crypto.Hash][2][]byte // name hash, key hash
	source        Source
	validity      time.Duration
	now           func() time.Time
	log           *slog.Logger
	maxReq        int64
	lookupTimeout time.Duration
	rsaPKCS1v15   bool
	presigned     Presigned

	// answered counts answers by statusLabels, resolved once from
	// metrics.OCSPResponses.
	answered [len(statusLabels)]interface{ Inc() }

	mu       sync.Mutex
	signer   *signerState
	cache    *lru
	inflight map[cacheKey]*call
}

var _ http.Handler = (*Responder)(nil)

// New checks cfg and returns a Responder. It fails if the responder
// certificate was not issued by cfg.Issuer, lacks id-kp-OCSPSigning, or does
// not match cfg.Signer (RFC 6960 section 4.2.2.2).
func New(cfg Config) (*Responder, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("ocsp: no issuer certificate")
	}
	if cfg.Source == nil {
		return nil, errors.New("ocsp: no status source")
	}
	r := &Responder{
		issuer:        cfg.Issuer,
		issuerHashes:  make(map[crypto.Hash][2][]byte),
		source:        cfg.Source,
		validity:      cfg.Validity,
		now:           cfg.Now,
		log:           cfg.Logger,
		maxReq:        cfg.MaxRequestBytes,
		lookupTimeout: cfg.LookupTimeout,
		rsaPKCS1v15:   cfg.RSAPKCS1v15,
		presigned:     cfg.Presigned,
		inflight:      make(map[cacheKey]*call),
	}
	switch {
	case r.validity == 0:
		r.validity = DefaultValidity
	case r.validity < 2*time.Second || r.validity > MaxValidity:
		return nil, fmt.Errorf("ocsp: validity %v is outside 2s…%v", r.validity, MaxValidity)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.maxReq <= 0 {
		r.maxReq = DefaultMaxRequestBytes
	}
	if r.lookupTimeout <= 0 {
		r.lookupTimeout = DefaultLookupTimeout
	}
	maxBytes := cfg.CacheBytes
	switch {
	case cfg.CacheSize < 0:
		maxBytes = 0
	case maxBytes == 0:
		maxBytes = DefaultCacheBytes
	}
	r.cache = newLRU(cfg.CacheSize, maxBytes)
	for i, l := range statusLabels {
		r.answered[i] = metrics.OCSPResponses.WithLabelValues(l)
	}

	// CertID hashes of the issuer (RFC 6960 section 4.1.1): of its subject
	// DN and of its subjectPublicKey BIT STRING contents.
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(cfg.Issuer.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("ocsp: parsing issuer public key: %v", err)
	}
	for _, h := range certIDHashes {
		nh := h.New()
		nh.Write(cfg.Issuer.RawSubject)
		kh := h.New()
		kh.Write(spki.PublicKey.RightAlign())
		r.issuerHashes[h] = [2][]byte{nh.Sum(nil), kh.Sum(nil)}
	}

	st, err := newSignerState(cfg.Issuer, cfg.Signer, cfg.SignerCert, cfg.RSAPKCS1v15)
	if err != nil {
		return nil, err
	}
	r.signer = st
	return r, nil
}

// SetSigner swaps in a renewed OCSP signing key and certificate (cert nil:
// the CA key itself) and drops every cached response, so that no response
// signed by the old key is served afterwards. It checks the pair as New does
// and leaves the current signer in place if the check fails.
func (r *Responder) SetSigner(signer crypto.Signer, cert *x509.Certificate) error {
	st, err := newSignerState(r.issuer, signer, cert, r.rsaPKCS1v15)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signer = st
	r.cache.clear()
	// Lookups under way finish for their own waiters but are not cached.
	clear(r.inflight)
	return nil
}

// SignerCertificate returns the DER of the delegated responder certificate
// responses are signed with now, nil when the CA signs them itself.
func (r *Responder) SignerCertificate() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.signer.certDER
}

// Invalidate drops the cached responses for serial, so the next request asks
// the Source again — call it right after revoking, holding or releasing a
// certificate. A lookup already under way for serial is not cached either.
func (r *Responder) Invalidate(serial *big.Int) {
	var b cryptobyte.Builder
	b.AddASN1BigInt(serial)
	der := b.BytesOrPanic()
	r.mu.Lock()
	defer r.mu.Unlock()
	for h := range r.issuerHashes {
		k := cacheKey(appendKey(nil, h, der))
		r.cache.remove(k)
		delete(r.inflight, k)
	}
}

// reply is an encoded OCSPResponse and what the HTTP layer needs to know
// about it.
type reply struct {
	der []byte
	// cached is set for successful responses that HTTP caches may keep
	// (RFC 5019 section 6.2), i.e. those without a nonce: the entry
	// whose der is served, with its header values.
	cached *entry
}

// respond answers one DER OCSPRequest (RFC 6960 section 4.1.1). It never
// fails: problems become unsuccessful OCSPResponseStatus values.
func (r *Responder) respond(ctx context.Context, der []byte) reply {
	req, err := parseRequest(der)
	if err != nil {
		r.log.DebugContext(ctx, "ocsp: refusing request", "err", err)
		r.count("malformed")
		return reply{der: errorResponse(statusMalformedRequest)}
	}
	ih := r.issuerHashes[req.hash]
	if string(ih[0]) != string(req.nameHash) || string(ih[1]) != string(req.keyHash) {
		r.count("unauthorized")
		return reply{der: errorResponse(statusUnauthorized)}
	}
	var kb [maxKeyLen]byte
	key := appendKey(kb[:0], req.hash, req.serialDER)

	if req.nonce == nil {
		e, err := r.cached(ctx, key, req)
		if err != nil {
			return r.failure(ctx, req, err)
		}
		r.count(e.status.label())
		return reply{der: e.der, cached: e}
	}

	// A nonce asks for a response made now (RFC 6960 section 4.4.1). The
	// status in a fresh cache entry is as current as anything the cache
	// would serve, so it is reused; only the signature is new.
	now := r.now()
	r.mu.Lock()
	st := r.signer
	e := r.cache.get(key)
	r.mu.Unlock()
	var status Status
	if e != nil && e.signer == st && now.Before(e.refreshAt) {
		status = e.status
	} else {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.lookupTimeout)
		status, err = r.source.Status(lctx, req.serial())
		cancel()
		if err != nil {
			return r.failure(ctx, req, &sourceError{err})
		}
	}
	out, err := r.signOne(st, req, status, now)
	if err != nil {
		return r.failure(ctx, req, err)
	}
	r.count(status.label())
	return reply{der: out.der}
}

// failure logs err and picks the response status: tryLater when the Source
// failed or the key store cannot sign now — unreachable, or the key gone
// while a token is re-initialised (RFC 6960 section 2.3: "try again
// later") — internalError otherwise.
func (r *Responder) failure(ctx context.Context, req *request, err error) reply {
	r.log.ErrorContext(ctx, "ocsp: cannot answer", "serial", display.FormatSerialInt(req.serial()), "err", err)
	if _, ok := errors.AsType[*sourceError](err); ok || errors.Is(err, hsm.ErrUnavailable) || errors.Is(err, hsm.ErrKeyNotFound) {
		r.count("try_later")
		return reply{der: errorResponse(statusTryLater)}
	}
	r.count("internal_error")
	return reply{der: errorResponse(statusInternalError)}
}

// statusLabels are the values of kyso_ocsp_responses_total's label.
var statusLabels = [...]string{"good", "revoked", "hold", "unknown", "malformed", "unauthorized", "try_later", "internal_error"}

// count adds one answer labelled label (one of statusLabels) to
// kyso_ocsp_responses_total.
func (r *Responder) count(label string) {
	for i, l := range statusLabels {
		if l == label {
			r.answered[i].Inc()
			return
		}
	}
}

// label is the status as the metric kyso_ocsp_responses_total names it.
func (s Status) label() string {
	switch {
	case !s.Known:
		return "unknown"
	case s.OnHold:
		return "hold"
	case s.Revoked:
		return "revoked"
	}
	return "good"
}

// Oldest returns the thisUpdate of the oldest response in the cache, and
// false when the cache is empty.
func (r *Responder) Oldest() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cache.oldest()
}

// CacheUse returns how many responses the cache holds and the bytes they
// are counted at (Config.CacheBytes bounds them).
func (r *Responder) CacheUse() (entries int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cache.len(), r.cache.bytes
}

// sourceError marks errors from the Source.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "ocsp: looking up status: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// signOne signs a response for req with status at now, with the nonce if req
// has one.
func (r *Responder) signOne(st *signerState, req *request, status Status, now time.Time) (*entry, error) {
	now = now.UTC().Truncate(time.Second)
	next := now.Add(r.validity)
	if st.notAfter.Before(next) {
		next = st.notAfter.UTC().Truncate(time.Second)
	}
	if next.Before(now) {
		return nil, errors.New("ocsp: responder certificate has expired")
	}
	ih := r.issuerHashes[req.hash]
	der, err := st.sign(&single{
		hash: req.hash, nameHash: ih[0], keyHash: ih[1], serialDER: req.serialDER,
		status: status, producedAt: now, thisUpdate: now, nextUpdate: next,
		nonce: req.nonce,
	})
	if err != nil {
		return nil, err
	}
	return newEntry(der, status, st, now, next, now.Add(next.Sub(now)/2), req.nonce == nil), nil
}

// cached returns the response for key from the cache while it is younger
// than half its validity, and otherwise looks the status up and signs it —
// once, however many requests for key arrive meanwhile.
func (r *Responder) cached(ctx context.Context, kb []byte, req *request) (_ *entry, err error) {
	now := r.now()
	r.mu.Lock()
	st := r.signer
	if e := r.cache.get(kb); e != nil && e.signer == st && now.Before(e.refreshAt) {
		r.mu.Unlock()
		return e, nil
	}
	key := cacheKey(kb)
	if c, ok := r.inflight[key]; ok {
		c.waiters++
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.e, c.err
		case <-ctx.Done():
			return nil, &sourceError{ctx.Err()}
		}
	}
	c := &call{done: make(chan struct{})}
	r.inflight[key] = c
	r.mu.Unlock()

	defer func() {
		if p := recover(); p != nil {
			c.e, c.err = nil, &sourceError{fmt.Errorf("panic: %v", p)}
		}
		r.mu.Lock()
		if r.inflight[key] == c {
			delete(r.inflight, key)
			if c.err == nil {
				r.cache.put(key, c.e)
			}
		}
		r.mu.Unlock()
		close(c.done)
		err = c.err
	}()

	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.lookupTimeout)
	defer cancel()
	if c.e = r.fromStore(lctx, st, req, now); c.e != nil {
		return c.e, nil
	}
	status, err := r.source.Status(lctx, req.serial())
	if err != nil {
		c.err = &sourceError{err}
		return nil, nil // err is set from c.err on the way out
	}
	c.e, c.err = r.signOne(st, req, status, r.now())
	return c.e, nil // err is set from c.err on the way out
}

// call is one lookup-and-sign that concurrent requests for a serial share.
type call struct {
	done    chan struct{}
	e       *entry
	err     error
	waiters int // requests that joined; guarded by Responder.mu
}
