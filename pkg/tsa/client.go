package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kyso-pki/kyso/internal/tlsmin"
)

// Client defaults.
const (
	DefaultClientTimeout = 30 * time.Second
	DefaultMaxClockSkew  = 10 * time.Minute
)

// ClientOptions configures Request. The zero value of every field but Roots
// is usable.
type ClientOptions struct {
	// HTTPClient sends the request; nil means a client with a
	// DefaultClientTimeout (30 s) timeout. WARNING: http.DefaultClient has no
	// timeout at all; a stalled TSA would hang the caller.
	HTTPClient *http.Client
	// Roots are the trust anchors for the TSA certificate. Required.
	Roots *x509.CertPool
	// Intermediates helps build the TSA certificate's chain.
	Intermediates *x509.CertPool
	// Certificates are candidate TSA certificates, needed when CertReq is
	// false and the token carries none.
	Certificates []*x509.Certificate
	// Policy, when set, is sent as reqPolicy and the token must carry it.
	Policy asn1.ObjectIdentifier
	// Now is the clock genTime is compared with; nil means time.Now.
	Now func() time.Time
	// MaxClockSkew is how far genTime may be from Now; zero means
	// DefaultMaxClockSkew (10 minutes).
	MaxClockSkew time.Duration
	// NoCertReq leaves certReq FALSE (RFC 3161 section 2.4.1), so the token
	// carries no certificates; Certificates must then name the TSA's. By
	// default certReq is TRUE, so the token is verifiable on its own.
	NoCertReq bool
	// Rand is the nonce source; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Request asks the TSA at url to time-stamp digest, made with hash (SHA-256,
// SHA-384 or SHA-512), over HTTP (RFC 3161 section 3.4), and verifies the
// answer: status granted, the random 64-bit nonce echoed (compared as an
// integer), the message imprint, the policy if one was asked for, genTime
// within MaxClockSkew of Now, and everything Token.Verify checks. A refusal
// is a *RefusedError.
func Request(ctx context.Context, url string, digest []byte, hash crypto.Hash, opts *ClientOptions) (*Token, error) {
	if opts == nil || opts.Roots == nil {
		return nil, fmt.Errorf("tsa: requesting a time-stamp: ClientOptions.Roots is required")
	}
	if hash != crypto.SHA256 && hash != crypto.SHA384 && hash != crypto.SHA512 {
		return nil, fmt.Errorf("tsa: requesting a time-stamp: hash %v not supported (want SHA-256, SHA-384 or SHA-512)", hash)
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("tsa: requesting a time-stamp: digest is %d bytes, %v needs %d", len(digest), hash, hash.Size())
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var nb [8]byte
	if _, err := io.ReadFull(rnd, nb[:]); err != nil {
		return nil, fmt.Errorf("tsa: making a nonce: %w", err)
	}
	nonce := new(big.Int).SetBytes(nb[:])
	q := &Query{HashAlgorithm: hash, HashedMessage: digest, Policy: opts.Policy, Nonce: nonce, CertReq: !opts.NoCertReq}
	body, err := q.Marshal()
	if err != nil {
		return nil, err
	}
	reply, err := post(ctx, opts.HTTPClient, url, body)
	if err != nil {
		return nil, err
	}
	tokenDER, err := ParseReply(reply)
	if err != nil {
		return nil, err
	}
	tok, err := ParseToken(tokenDER)
	if err != nil {
		return nil, err
	}
	if tok.Nonce == nil || tok.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("%w: sent %v, got %v", ErrNonceMismatch, nonce, tok.Nonce)
	}
	if opts.Policy != nil && !tok.Policy.Equal(opts.Policy) {
		return nil, fmt.Errorf("%w: asked for %v, got %v", ErrPolicyMismatch, opts.Policy, tok.Policy)
	}
	now, skew := time.Now, DefaultMaxClockSkew
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.MaxClockSkew > 0 {
		skew = opts.MaxClockSkew
	}
	if d := tok.GenTime.Sub(now()); d > skew || d < -skew {
		return nil, fmt.Errorf("tsa: genTime %v is %v away from the local clock", tok.GenTime, d)
	}
	if err := tok.Verify(digest, hash, &VerifyOptions{Roots: opts.Roots, Intermediates: opts.Intermediates, Certificates: opts.Certificates}); err != nil {
		return nil, err
	}
	return tok, nil
}

func post(ctx context.Context, hc *http.Client, url string, body []byte) ([]byte, error) {
	if hc == nil {
		hc = tlsmin.Client(DefaultClientTimeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tsa: requesting a time-stamp: %w", err)
	}
	req.Header.Set("Content-Type", ContentTypeQuery)
	req.Header.Set("Accept", ContentTypeReply)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tsa: requesting a time-stamp: %w", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tsa: reading the reply: %w", err)
	}
	if len(reply) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: reply larger than 1 MiB", ErrMalformed)
	}
	if resp.StatusCode != http.StatusOK {
		// A TimeStampResp may still say why (413 from kyso does).
		if _, perr := ParseReply(reply); perr != nil {
			if _, ok := errors.AsType[*RefusedError](perr); ok {
				return nil, fmt.Errorf("tsa: HTTP %s: %w", resp.Status, perr)
			}
		}
		return nil, fmt.Errorf("tsa: HTTP %s from the TSA", resp.Status)
	}
	return reply, nil
}

// ParseReply parses a DER TimeStampResp (RFC 3161 section 2.4.2) and
// returns its token. A status other than granted or grantedWithMods is a
// *RefusedError with the TSA's failure info and text.
func ParseReply(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var resp, si cryptobyte.String
	var status int64
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() ||
		!resp.ReadASN1(&si, cbasn1.SEQUENCE) || !si.ReadASN1Int64WithTag(&status, cbasn1.INTEGER) {
		return nil, malformed("not a TimeStampResp")
	}
	re := &RefusedError{Status: Status(status)}
	if si.PeekASN1Tag(cbasn1.SEQUENCE) {
		var texts cryptobyte.String
		si.ReadASN1(&texts, cbasn1.SEQUENCE)
		for !texts.Empty() {
			var t cryptobyte.String
			if !texts.ReadASN1(&t, cbasn1.UTF8String) {
				return nil, malformed("statusString")
			}
			if re.Text != "" {
				re.Text += "; "
			}
			re.Text += string(t)
		}
	}
	if si.PeekASN1Tag(cbasn1.BIT_STRING) {
		var bs asn1.BitString
		if !si.ReadASN1BitString(&bs) {
			return nil, malformed("failInfo")
		}
		re.FailInfo = decodeFailureInfo(bs)
	}
	if !si.Empty() {
		return nil, malformed("PKIStatusInfo trailing data")
	}
	if re.Status != StatusGranted && re.Status != StatusGrantedWithMods {
		return nil, re
	}
	var token cryptobyte.String
	if !resp.ReadASN1Element(&token, cbasn1.SEQUENCE) || !resp.Empty() {
		return nil, malformed("granted reply without a token")
	}
	return token, nil
}
