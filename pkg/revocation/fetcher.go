// Package revocation fetches and checks revocation data for an X.509
// certificate: an OCSP response (RFC 6960) from the responder its Authority
// Information Access names, or a CRL (RFC 5280 section 5) from its CRL
// distribution point. Each answer is verified before it is returned — the
// signature by the issuer or its delegated responder, that it is about this
// certificate, that it is current — and comes back both as the DER bytes
// received (what a PAdES DSS or a CAdES-LT signature embeds) and parsed.
//
// Everything goes through the caller's *http.Client; sizes, redirects and
// URL schemes (http and https only, as RFC 5280 section 4.2.2.1 and RFC
// 6960 appendix A expect) are bounded here.
package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/kyso-pki/kyso/internal/tlsmin"
)

// Defaults of Fetcher's zero fields.
const (
	// DefaultTimeout bounds one fetch when Fetcher.Client is nil.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxOCSPBytes bounds an OCSP response: one SingleResponse and a
	// responder certificate or two take a few kilobytes.
	DefaultMaxOCSPBytes = 256 << 10
	// DefaultMaxCRLBytes bounds a CRL. A national CA's full CRL can run to
	// tens of megabytes; set Fetcher.MaxCRLBytes higher for one.
	DefaultMaxCRLBytes = 32 << 20
	// DefaultMaxClockSkew is the clock difference tolerated between kyso
	// and the responder or CRL issuer.
	DefaultMaxClockSkew = 5 * time.Minute
	// DefaultMaxAge is how old an OCSP response without nextUpdate may be
	// (RFC 6960 section 4.2.2.1 allows leaving it out when newer
	// information is always available).
	DefaultMaxAge = 24 * time.Hour
	// maxURLs bounds how many URLs of one certificate are tried.
	maxURLs = 4
	// maxRedirects bounds the redirects followed for one fetch.
	maxRedirects = 3
)

var (
	// ErrNoURL is returned when the certificate names no http or https
	// URL for the kind of data asked for; a caller may try the other kind.
	ErrNoURL = errors.New("revocation: no usable URL in the certificate")
	// ErrInvalid is wrapped by every error about an answer that cannot be
	// trusted: a bad signature, another certificate's status, an
	// unauthorised responder, a malformed or too large body.
	ErrInvalid = errors.New("revocation: invalid answer")
	// ErrStale is wrapped when an answer is not current: thisUpdate in the
	// future, or nextUpdate (or DefaultMaxAge) past.
	ErrStale = errors.New("revocation: answer not current")
)

// Status is a certificate's revocation status as an answer gives it.
type Status int

const (
	// Good: not revoked as of the answer's thisUpdate (for OCSP, RFC 6960
	// section 2.2 "good"; for a CRL, not listed).
	Good Status = iota
	// Revoked: revoked or on hold (certificateHold) since RevokedAt.
	Revoked
	// Unknown: the OCSP responder does not know the certificate. CRLs
	// never say this.
	Unknown
)

func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Fetcher fetches revocation data over HTTP. The zero value is usable: a
// client with DefaultTimeout, POST for OCSP, no nonce, the system clock.
// A Fetcher holds no state between calls and may be used concurrently.
type Fetcher struct {
	// Client sends the requests; nil means a client with DefaultTimeout
	// that refuses TLS below 1.2 (Circular 15/2025 Annex I). A client
	// given here should do the same.
	// WARNING: http.DefaultClient has no timeout at all; a stalled
	// responder would hang the caller. Its CheckRedirect is replaced, per
	// request, by one that follows at most three redirects to http or
	// https URLs.
	Client *http.Client
	// Now is the clock answers are checked against; nil means time.Now.
	Now func() time.Time
	// MaxClockSkew is the tolerance on thisUpdate and nextUpdate; zero
	// means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// MaxAge bounds the age of an OCSP response without nextUpdate; zero
	// means DefaultMaxAge.
	MaxAge time.Duration
	// MaxOCSPBytes and MaxCRLBytes bound response bodies; zero means
	// DefaultMaxOCSPBytes and DefaultMaxCRLBytes.
	MaxOCSPBytes int64
	MaxCRLBytes  int64
	// OCSPGet sends OCSP requests whose base64 form is shorter than 255
	// bytes by GET (RFC 6960 appendix A.1, RFC 5019 section 5), which
	// caches can answer; longer ones, and all when false, by POST.
	OCSPGet bool
	// OCSPNonce adds a random nonce (RFC 8954) to OCSP requests and
	// requires the response to echo it. Off by default: responders that
	// pre-sign (RFC 5019) ignore nonces, and a nonce defeats caching.
	OCSPNonce bool
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) skew() time.Duration {
	if f.MaxClockSkew > 0 {
		return f.MaxClockSkew
	}
	return DefaultMaxClockSkew
}

// client returns a copy of the caller's client whose redirects are
// bounded and restricted to http and https.
func (f *Fetcher) client() *http.Client {
	c := tlsmin.Client(DefaultTimeout)
	if f.Client != nil {
		cp := *f.Client
		c = &cp
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if err := checkScheme(req.URL); err != nil {
			return err
		}
		return nil
	}
	return c
}

// checkScheme accepts only http and https URLs with a host: an ldap:, file:
// or ftp: URL in a certificate is never dereferenced.
func checkScheme(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL scheme %q is not http or https", u.Scheme)
	}
	return nil
}

// usableURLs returns the http and https URLs among raw, at most maxURLs.
func usableURLs(raw []string) []*url.URL {
	var out []*url.URL
	for _, s := range raw {
		u, err := url.Parse(s)
		if err != nil || checkScheme(u) != nil {
			continue
		}
		out = append(out, u)
		if len(out) == maxURLs {
			break
		}
	}
	return out
}

// do sends req and returns the body of a 200 response, reading at most
// limit bytes; a longer body is an error wrapping ErrInvalid. The content
// type is not trusted: the caller parses and verifies the body.
func (f *Fetcher) do(req *http.Request, limit int64) ([]byte, error) {
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: body of %d bytes, more than %d", ErrInvalid, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrInvalid, limit)
	}
	return body, nil
}

// newRequest makes a request for u with ctx.
func newRequest(ctx context.Context, method string, u *url.URL, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "kyso-revocation")
	return req, nil
}

// needCerts checks the arguments every method takes.
func needCerts(cert, issuer *x509.Certificate) error {
	if cert == nil || issuer == nil {
		return errors.New("revocation: a certificate and its issuer are required")
	}
	return nil
}
