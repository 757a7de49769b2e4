// Package signercheck is the check signing software makes of the signer's
// certificate before it signs (Circular 15/2025/TT-BKHCN Art. 5; Decree
// 23/2025/ND-CP): the certificate is inside its validity period, its key is
// strong enough (RSA ≥ 2048 bits, ECDSA ≥ P-256; Circular 15/2025 Annex I),
// it chains to one of the configured trust anchors, and neither it nor any
// CA certificate above it is revoked or suspended (certificateHold counts
// as not valid) — asked by OCSP first (RFC 6960), by CRL when OCSP gives
// no answer (RFC 5280 section 5), each fetch bounded in time.
//
// A refusal is an *Error with a stable Code and the reason in Vietnamese
// and English. What the check used — the chain and every OCSP response or
// CRL — comes back in a Result, so that the signed document can keep it
// (PAdES B-LT: Result.Source feeds pades.AddLTV without fetching twice).
package signercheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/revocation"
	"golang.org/x/crypto/ocsp"
)

// DefaultTimeout bounds each OCSP or CRL fetch of a check when
// Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Minimum key sizes (Circular 15/2025 Annex I).
const (
	MinRSABits   = 2048
	MinECDSABits = 256
)

// RevocationSource gives the revocation data of a certificate issued by
// issuer. *revocation.Fetcher is one; pades.RevocationSource has the same
// methods.
type RevocationSource interface {
	OCSP(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.OCSPResult, error)
	CRL(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error)
}

var _ RevocationSource = (*revocation.Fetcher)(nil)

// Config is what a check needs. Roots and Revocation are required; the
// zero values of the other fields are the defaults they document.
type Config struct {
	// Roots are the trust anchors: the provider's root, the NEAC national
	// root and other recognised CAs (pkg/trust keeps them).
	Roots *x509.CertPool
	// Anchors, when set, gives the trust anchors for each check instead of
	// Roots: a trust store that may change while a service runs (kysod
	// reads `kyso trust`'s this way).
	Anchors func(ctx context.Context) (*x509.CertPool, error)
	// Intermediates help build the chain besides the chain the signer
	// presents.
	Intermediates []*x509.Certificate
	// Revocation answers OCSP and CRL questions; usually a
	// *revocation.Fetcher whose http.Client has a timeout.
	Revocation RevocationSource
	// Timeout bounds each fetch; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Code names why a certificate was refused. Codes are stable: callers and
// clients may match on them.
type Code string

// Refusal codes.
const (
	CodeNotYetValid   Code = "not-yet-valid"
	CodeExpired       Code = "expired"
	CodeWeakKey       Code = "weak-key"
	CodeUntrusted     Code = "untrusted"
	CodeRevoked       Code = "revoked"
	CodeSuspended     Code = "suspended"
	CodeStatusUnknown Code = "status-unknown"
)

// Error is a refusal: the certificate must not be used to sign. Vietnamese
// and English say the same thing; Error gives both, Vietnamese first, e.g.
// "chứng thư số đã bị thu hồi (certificate revoked)".
type Error struct {
	Code       Code
	Vietnamese string
	English    string
	// Err is the underlying cause, if any (a chain-building or fetch
	// error).
	Err error
}

func (e *Error) Error() string { return e.Vietnamese + " (" + e.English + ")" }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by Code, so errors.Is(err, &Error{Code:
// CodeRevoked}) asks "refused because revoked?".
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Vietnamese == "" && t.English == ""
}

func refuse(code Code, cause error, vi, en string) *Error {
	return &Error{Code: code, Vietnamese: vi, English: en, Err: cause}
}

// ErrNoConfig is returned when a check is asked for without trust anchors
// or a revocation source.
var ErrNoConfig = errors.New("signercheck: Config.Roots (or Anchors) and Config.Revocation are required")

// Result is the evidence a passed check used.
type Result struct {
	// Certificate is the signer's certificate; Chain runs from it to the
	// trust anchor, both included.
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	// Statuses are the revocation answers, one per certificate of Chain
	// but the anchor, in Chain's order.
	Statuses []Status
	// At is the time the check was made for.
	At time.Time
}

// Status is the revocation answer used for one certificate: an OCSP
// response, or when OCSP gave none, a CRL.
type Status struct {
	Certificate, Issuer *x509.Certificate
	OCSP                *revocation.OCSPResult
	CRL                 *revocation.CRLResult
}

// Check checks cert, presented with chain (CA certificates, any order), at
// cfg's time, and returns the evidence, or an *Error saying why cert must
// not sign. Other errors (a nil certificate, a missing Config) are plain.
// The checks run in this order, the first failure answering: validity
// period, key strength, trust path, then revocation of every certificate
// of the path but the anchor.
func Check(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate, cfg *Config) (*Result, error) {
	if cert == nil {
		return nil, errors.New("signercheck: no certificate to check")
	}
	if cfg == nil || (cfg.Roots == nil && cfg.Anchors == nil) || cfg.Revocation == nil {
		return nil, ErrNoConfig
	}
	roots := cfg.Roots
	if cfg.Anchors != nil {
		var err error
		if roots, err = cfg.Anchors(ctx); err != nil {
			return nil, fmt.Errorf("signercheck: reading the trust anchors: %w", err)
		}
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	at := now()
	const layout = "2006-01-02 15:04:05 MST"
	if at.Before(cert.NotBefore) {
		t := cert.NotBefore.UTC().Format(layout)
		return nil, refuse(CodeNotYetValid, nil, "chứng thư số chưa có hiệu lực, hiệu lực từ "+t, "certificate not valid before "+t)
	}
	if at.After(cert.NotAfter) {
		t := cert.NotAfter.UTC().Format(layout)
		return nil, refuse(CodeExpired, nil, "chứng thư số đã hết hạn từ "+t, "certificate expired at "+t)
	}
	if err := KeyStrength(cert); err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	for _, c := range cfg.Intermediates {
		inter.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, refuse(CodeUntrusted, err,
			"không có đường tin cậy từ chứng thư số tới một chứng thư số gốc được tin cậy: "+err.Error(),
			"no trust path to a trust anchor: "+err.Error())
	}
	path := chains[0]
	for _, c := range path[1:] {
		if err := KeyStrength(c); err != nil {
			return nil, err
		}
	}
	res := &Result{Certificate: cert, Chain: path, At: at}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	for i := 0; i+1 < len(path); i++ {
		st, err := status(ctx, cfg.Revocation, path[i], path[i+1], timeout, i == 0)
		if err != nil {
			return nil, err
		}
		res.Statuses = append(res.Statuses, *st)
	}
	return res, nil
}

// status asks OCSP, then the CRL, about c and refuses it when revoked or
// on hold.
func status(ctx context.Context, src RevocationSource, c, issuer *x509.Certificate, timeout time.Duration, signer bool) (*Status, error) {
	whose, whoseEN := "chứng thư số", "certificate"
	if !signer {
		whose, whoseEN = "chứng thư số của CA cấp trên ("+c.Subject.CommonName+")", "CA certificate "+c.Subject.CommonName
	}
	st := &Status{Certificate: c, Issuer: issuer}
	var errs []error
	octx, cancel := context.WithTimeout(ctx, timeout)
	o, err := src.OCSP(octx, c, issuer)
	cancel()
	switch {
	case err != nil:
		errs = append(errs, err)
	case o.Status == revocation.Unknown:
		errs = append(errs, fmt.Errorf("the OCSP responder does not know %s", c.Subject))
	default:
		st.OCSP = o
		if o.Status == revocation.Revoked {
			return nil, revoked(whose, whoseEN, o.Response.RevokedAt, o.Response.RevocationReason == ocsp.CertificateHold)
		}
		return st, nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	l, err := src.CRL(cctx, c, issuer)
	cancel()
	if err != nil {
		errs = append(errs, err)
		cause := errors.Join(errs...)
		return nil, refuse(CodeStatusUnknown, cause,
			"không kiểm tra được trạng thái "+whose+": OCSP và CRL đều không có câu trả lời hợp lệ",
			"could not check the status of the "+whoseEN+": neither OCSP nor CRL gave a valid answer: "+cause.Error())
	}
	st.CRL = l
	if l.Status == revocation.Revoked {
		return nil, revoked(whose, whoseEN, l.Entry.RevocationTime, l.Entry.ReasonCode == ocsp.CertificateHold)
	}
	return st, nil
}

// Revoked is the refusal of a signer's certificate revoked (or, with hold,
// suspended) since at, for callers that know its status first-hand: a CA
// signing service reading its own records.
func Revoked(at time.Time, hold bool) *Error {
	return revoked("chứng thư số", "certificate", at, hold)
}

func revoked(whose, whoseEN string, at time.Time, hold bool) *Error {
	t := at.UTC().Format("2006-01-02 15:04:05 MST")
	if hold {
		return refuse(CodeSuspended, nil, whose+" đang bị tạm dừng từ "+t, whoseEN+" suspended (certificateHold) since "+t)
	}
	return refuse(CodeRevoked, nil, whose+" đã bị thu hồi từ "+t, whoseEN+" revoked at "+t)
}

// KeyStrength refuses a certificate whose public key is below Circular
// 15/2025 Annex I: RSA under MinRSABits, ECDSA on a curve under
// MinECDSABits, or a key type the circular does not list.
func KeyStrength(c *x509.Certificate) *Error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return refuse(CodeWeakKey, nil,
				fmt.Sprintf("khóa của chứng thư số %s quá yếu: RSA %d bit, cần tối thiểu RSA %d bit hoặc ECDSA P-256", c.Subject.CommonName, n, MinRSABits),
				fmt.Sprintf("key of %s too weak: RSA %d bits, at least RSA %d or ECDSA P-256 required", c.Subject.CommonName, n, MinRSABits))
		}
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().BitSize; n < MinECDSABits {
			return refuse(CodeWeakKey, nil,
				fmt.Sprintf("khóa của chứng thư số %s quá yếu: ECDSA %d bit, cần tối thiểu P-256", c.Subject.CommonName, n),
				fmt.Sprintf("key of %s too weak: ECDSA %d bits, at least P-256 required", c.Subject.CommonName, n))
		}
	case ed25519.PublicKey:
	default:
		return refuse(CodeWeakKey, nil,
			fmt.Sprintf("khóa của chứng thư số %s thuộc loại không được phép (%T)", c.Subject.CommonName, k),
			fmt.Sprintf("key of %s is of a type not allowed (%T)", c.Subject.CommonName, k))
	}
	return nil
}

// Source returns a RevocationSource answering from the evidence of r — the
// very responses the check used — and asking fallback for any other
// certificate (a time-stamping authority's, say). Passed as
// pades.LTVOptions.Revocation it puts the check's evidence into the DSS.
func (r *Result) Source(fallback RevocationSource) RevocationSource {
	return &cached{r: r, next: fallback}
}

type cached struct {
	r    *Result
	next RevocationSource
}

func (c *cached) find(cert, issuer *x509.Certificate) *Status {
	for i := range c.r.Statuses {
		s := &c.r.Statuses[i]
		if s.Certificate.Equal(cert) && s.Issuer.Equal(issuer) {
			return s
		}
	}
	return nil
}

func (c *cached) OCSP(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.OCSPResult, error) {
	if s := c.find(cert, issuer); s != nil {
		if s.OCSP != nil {
			return s.OCSP, nil
		}
		return nil, errors.New("signercheck: the check found no OCSP answer for this certificate; its CRL stands")
	}
	if c.next == nil {
		return nil, errors.New("signercheck: no revocation source for a certificate the check did not see")
	}
	return c.next.OCSP(ctx, cert, issuer)
}

func (c *cached) CRL(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error) {
	if s := c.find(cert, issuer); s != nil && s.CRL != nil {
		return s.CRL, nil
	}
	if c.next == nil {
		return nil, errors.New("signercheck: no revocation source for a certificate the check did not see")
	}
	return c.next.CRL(ctx, cert, issuer)
}
