package pades

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// Level is a PAdES baseline level (ETSI EN 319 142-1 clause 6).
type Level string

const (
	// LevelBB is PAdES-BASELINE-B (clause 6.3).
	LevelBB Level = "B-B"
	// LevelBT is PAdES-BASELINE-T (clause 6.4): B-B with a signature
	// time-stamp over the signature value.
	LevelBT Level = "B-T"
)

// TimestampFunc asks a time-stamping authority to time-stamp digest, made
// with hash, and returns the RFC 3161 TimeStampToken, DER.
type TimestampFunc func(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error)

// TSAClient returns a TimestampFunc asking the TSA at url over HTTP with
// tsa.Request, which verifies the token against opts.Roots.
func TSAClient(url string, opts *tsa.ClientOptions) TimestampFunc {
	return func(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
		tok, err := tsa.Request(ctx, url, digest, hash, opts)
		if err != nil {
			return nil, err
		}
		return tok.DER, nil
	}
}

// TSAServer returns a TimestampFunc asking the in-process TSA s, with
// certReq set so the token carries the TSA certificate.
func TSAServer(s *tsa.Server) TimestampFunc {
	return func(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
		resp, err := s.Timestamp(ctx, &tsa.Query{HashAlgorithm: hash, HashedMessage: digest, CertReq: true})
		if err != nil {
			return nil, err
		}
		if resp.Token == nil {
			return nil, fmt.Errorf("time-stamp refused (status %v)", resp.Status)
		}
		return resp.Token, nil
	}
}

// SignOptions are Options plus what the one-shot Sign needs.
type SignOptions struct {
	Options
	// Level is LevelBB (the default when empty), LevelBT, LevelBLT or
	// LevelBLTA.
	Level Level
	// TSA time-stamps the signature from LevelBT up, and the document for
	// LevelBLTA. Required for them.
	TSA TimestampFunc
	// LTV says where the validation data of LevelBLT and LevelBLTA comes
	// from (see AddLTV): Roots and Revocation are required for them, and
	// the archive time-stamp of LevelBLTA is laid out with its Limits and
	// the defaults of AddDocumentTimestamp. With Checked, the check's own
	// OCSP responses and CRLs are asked first (Result.Source, which
	// falls back to Revocation), so the DSS keeps the evidence the signer
	// was checked with. Unused below
	// LevelBLT; nil is the zero value.
	LTV *LTVOptions
	// SignatureAlgorithm is passed to cms: zero means RSASSA-PSS for RSA
	// keys and ECDSA for ECDSA keys.
	SignatureAlgorithm cms.SignatureAlgorithm
	// Check configures the pre-signing check of the signer's certificate
	// (Circular 15/2025 Art. 5, see pkg/signercheck): its trust anchors
	// and revocation source. One of Check, Checked or SkipSignerCheck is
	// required.
	Check *signercheck.Config
	// Checked is the result of a signercheck.Check of this certificate the
	// caller made already — whose evidence B-LT keeps (see LTV) — so Sign
	// does not check again.
	Checked *signercheck.Result
}

// Sign signs the PDF of size bytes in r with signer, whose certificate is
// cert, and writes the signed PDF to w: Prepare, a CAdES detached
// SignedData over the digest without signing-time attribute (ETSI EN 319
// 142-1 clause 6.3), for B-T and up a signature-time-stamp (clause 6.4),
// Embed; for B-LT and B-LTA then what Extend adds (clauses 6.5, 6.6): the
// validation data, and for B-LTA the archive document time-stamp and the
// validation data of its own chain, as pyHanko's signer does.
// chain are the CA certificates written into the CMS. When ContentsSize is
// zero it is computed from the certificates with room for a time-stamp
// token, so it is never too small.
//
// Before anything else — before r is read or w written — the signer's
// certificate is checked (opts.Check, see pkg/signercheck): a refused
// certificate gives an error wrapping *signercheck.Error, in Vietnamese
// and English, and nothing is signed. At B-LT and B-LTA the validation
// data of the signer's chain is gathered then too: when it cannot be had,
// nothing is signed either. Without Check, Checked or
// SkipSignerCheck, Sign refuses with ErrNoSignerCheck.
//
// Sign reads r once: the original is written to w as it is hashed, before
// the signature is made, and the updates follow from memory (at B-LT and
// B-LTA they are read as the signed document with the original, from r),
// so on error w holds part of a file — write to a
// temporary file and rename it on success, as `kyso sign pdf` does.
func Sign(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, signer crypto.Signer,
	cert *x509.Certificate, chain []*x509.Certificate, opts *SignOptions) error {
	var o SignOptions
	if opts != nil {
		o = *opts
	}
	if signer == nil || cert == nil {
		return errors.New("pades: Sign needs a signer and its certificate")
	}
	switch {
	case o.Checked != nil:
		if o.Checked.Certificate == nil || !o.Checked.Certificate.Equal(cert) {
			return fmt.Errorf("pades: SignOptions.Checked is about another certificate than the signer's: %w", ErrMismatch)
		}
	case o.Check != nil:
		if _, err := signercheck.Check(ctx, cert, chain, o.Check); err != nil {
			return err // a *signercheck.Error speaks for itself, in both languages
		}
	case !o.SkipSignerCheck:
		return ErrNoSignerCheck
	}
	var l *ltv
	switch o.Level {
	case "", LevelBB:
	case LevelBT, LevelBLT, LevelBLTA:
		if o.TSA == nil {
			return fmt.Errorf("pades: level %s needs a TSA", o.Level)
		}
		if o.Level == LevelBT {
			break
		}
		var lo LTVOptions
		if o.LTV != nil {
			lo = *o.LTV
		}
		if o.Checked != nil {
			lo.Revocation = o.Checked.Source(lo.Revocation)
		}
		var err error
		if l, err = newLTV(&lo); err != nil {
			return fmt.Errorf("%w for level %s", err, o.Level)
		}
		if err := l.prefetch(ctx, cert, chain); err != nil {
			return err
		}
	default:
		return fmt.Errorf("pades: level %q is not B-B, B-T, B-LT or B-LTA: %w", o.Level, ErrUnsupported)
	}
	if o.ContentsSize == 0 {
		n := 8192 + len(cert.Raw)
		for _, c := range chain {
			n += len(c.Raw)
		}
		if o.Level != "" && o.Level != LevelBB {
			n += 8192 + 2*len(cert.Raw) // a token carries the TSA's certificates
		}
		o.ContentsSize = n
	}
	if v := o.Visible; v != nil && v.Signer == "" && len(v.Lines) == 0 && o.Name == "" {
		c := *v
		c.Signer = cert.Subject.CommonName // "Ký bởi: <the certificate's name>"
		o.Visible = &c
	}
	// One pass over the original: it is written to w as it is hashed, and
	// the update section, which needs the signature, follows.
	p, err := layout(r, size, &o.Options)
	if err != nil {
		return err
	}
	if err := p.hashOriginal(r, w); err != nil {
		return err
	}
	cp, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: cert, Chain: chain, ContentDigest: p.Digest,
		Hash: p.Hash, SignatureAlgorithm: o.SignatureAlgorithm})
	if err != nil {
		return fmt.Errorf("pades: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pades: before signing: %w", err)
	}
	sig, err := signer.Sign(rand.Reader, cp.Digest, cp.SignerOpts())
	if err != nil {
		return fmt.Errorf("pades: signing: %w", err)
	}
	der, err := cp.Finish(sig)
	if err != nil {
		return fmt.Errorf("pades: %w", err)
	}
	if o.Level != "" && o.Level != LevelBB {
		d, err := cms.SignatureDigest(der, p.Hash)
		if err != nil {
			return fmt.Errorf("pades: %w", err)
		}
		tok, err := o.TSA(ctx, d, p.Hash)
		if err != nil {
			return fmt.Errorf("pades: time-stamping the signature: %w", err)
		}
		if der, err = cms.AddTimestamp(der, tok); err != nil {
			return fmt.Errorf("pades: %w", err)
		}
	}
	section, err := p.signedSection(der)
	if err != nil {
		return err
	}
	if l != nil {
		doc := &appended{r: r, size: size, tail: section}
		if err := l.extend(ctx, doc, o.Level, &ExtendOptions{LTVOptions: l.o, TSA: o.TSA}, false); err != nil {
			return fmt.Errorf("%w (adding validation data to the new signature)", err)
		}
		section = doc.tail
	}
	return writeSection(w, section)
}
