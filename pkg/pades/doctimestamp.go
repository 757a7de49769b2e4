package pades

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

const (
	// LevelBLT is PAdES-BASELINE-LT (ETSI EN 319 142-1 clause 6.5): B-T
	// signatures and, in a DSS, the certificates and revocation data that
	// validate them.
	LevelBLT Level = "B-LT"
	// LevelBLTA is PAdES-BASELINE-LTA (clause 6.6): B-LT and a document
	// time-stamp over it all, with the time-stamp's own validation data.
	LevelBLTA Level = "B-LTA"

	// DefaultTimestampContentsSize is the room AddDocumentTimestamp
	// reserves for the token when Options.ContentsSize is zero: a token
	// with its TSA's certificate and a chain of a few CAs.
	DefaultTimestampContentsSize = 16 << 10
)

// AddDocumentTimestamp writes to w the PDF of size bytes in r with a
// document time-stamp appended as an incremental update (ETSI EN 319 142-1
// clause 5.4.3, ISO 32000-2 §12.8.5): a signature dictionary with /Type
// /DocTimeStamp and /SubFilter /ETSI.RFC3161 in a new invisible signature
// field, whose /Contents is the RFC 3161 TimeStampToken ts returns for the
// digest of the /ByteRange — the whole file but /Contents. Of opts it uses
// FieldName (empty: the first free "DocTimeStampN"), ContentsSize (zero:
// DefaultTimestampContentsSize), Hash and Limits. The token must be over
// that digest and fit; nothing is written otherwise.
func AddDocumentTimestamp(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, ts TimestampFunc, opts *Options) error {
	section, err := docTimestampSection(ctx, r, size, ts, opts)
	if err != nil {
		return err
	}
	return writeWith(w, r, size, section)
}

// docTimestampSection lays out the document time-stamp, asks ts for the
// token and returns the update section with it in /Contents.
func docTimestampSection(ctx context.Context, r io.ReaderAt, size int64, ts TimestampFunc, opts *Options) ([]byte, error) {
	if ts == nil {
		return nil, errors.New("pades: a document time-stamp needs a TSA")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Certify != 0 {
		return nil, fmt.Errorf("pades: a document time-stamp cannot certify: %w", ErrUnsupported)
	}
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if _, ok := hashNames[o.Hash]; !ok || !o.Hash.Available() {
		return nil, fmt.Errorf("pades: hash %v is not SHA-256, SHA-384 or SHA-512", o.Hash)
	}
	if o.ContentsSize == 0 {
		o.ContentsSize = DefaultTimestampContentsSize
	}
	if o.ContentsSize < 1024 || o.ContentsSize > MaxContentsSize {
		return nil, fmt.Errorf("pades: contents size %d is outside [1024, %d]", o.ContentsSize, MaxContentsSize)
	}
	rd, err := pdf.Open(r, size, o.Limits)
	if err != nil {
		if errors.Is(err, pdf.ErrEncrypted) {
			return nil, fmt.Errorf("pades: cannot time-stamp an encrypted PDF: %w", err)
		}
		return nil, fmt.Errorf("pades: reading the PDF: %w", err)
	}
	if o.FieldName == "" {
		if o.FieldName, err = freeFieldName(rd, "DocTimeStamp"); err != nil {
			return nil, err
		}
	}
	w := pdf.NewIncrementalWriter(r, size, rd)
	contents, byteRange := placeholders(o.ContentsSize)
	sig := pdf.NewDict()
	sig.Set("Type", pdf.Name("DocTimeStamp"))
	sig.Set("Filter", pdf.Name("Adobe.PPKLite"))
	sig.Set("SubFilter", pdf.Name("ETSI.RFC3161"))
	sig.Set("ByteRange", byteRange)
	sig.Set("Contents", contents)
	if err := addField(rd, w, sig, &Options{FieldName: o.FieldName}); err != nil {
		return nil, err
	}
	p, err := layOut(size, w, contents, byteRange, o.Hash)
	if err != nil {
		return nil, err
	}
	if err := p.hashOriginal(r); err != nil {
		return nil, err
	}
	tokDER, err := ts(ctx, p.Digest, p.Hash)
	if err != nil {
		return nil, fmt.Errorf("pades: time-stamping the document: %w", err)
	}
	tok, err := tsa.ParseToken(tokDER)
	if err != nil {
		return nil, fmt.Errorf("pades: the document time-stamp: %w", err)
	}
	if tok.HashAlgorithm != p.Hash || !bytes.Equal(tok.HashedMessage, p.Digest) {
		return nil, fmt.Errorf("pades: the time-stamp token is not over this document's byte range: %w", ErrMismatch)
	}
	if n, m := len(tokDER), p.ContentsSize(); n > m {
		return nil, fmt.Errorf("pades: time-stamp token is %d bytes, placeholder holds %d", n, m)
	}
	section := bytes.Clone(p.section)
	hex.Encode(section[p.cStart+1:], tokDER)
	return section, nil
}

// freeFieldName returns prefix followed by the first number for which no
// field exists, or only an empty signature field does.
func freeFieldName(rd *pdf.Reader, prefix string) (string, error) {
	fields, err := rd.Fields()
	if err != nil {
		return "", fmt.Errorf("pades: reading the form fields: %w", err)
	}
	taken := map[string]bool{}
	for _, f := range fields {
		taken[f.Name] = !f.IsSignature() || f.Value != nil
	}
	for i := 1; ; i++ {
		if name := prefix + strconv.Itoa(i); !taken[name] {
			return name, nil
		}
	}
}
