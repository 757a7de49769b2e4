package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/signercheck"
)

// Prepared is a document laid out for signing and waiting for its CMS: the
// update section with the /ByteRange filled in and /Contents zeroed, and
// the digest over the byte range. It holds no copy of the original, only
// its length and hash, so Embed can check it is given the same file.
// MarshalBinary and UnmarshalBinary store and restore it between
// processes.
type Prepared struct {
	// Digest is Hash over the byte range: the value of the CMS
	// message-digest attribute (ETSI EN 319 142-1 clause 5.4.2, RFC 5652
	// section 11.2).
	Digest []byte
	// Hash is the digest algorithm.
	Hash crypto.Hash
	// ByteRange is the signature dictionary's /ByteRange: offset and
	// length of the bytes before and after the /Contents hex string.
	ByteRange [4]int64
	// OriginalLen is the length of the original PDF.
	OriginalLen int64

	origDigest []byte // Hash over the original
	section    []byte // the update, /Contents zeroed
	cStart     int    // /Contents '<' in section
	cEnd       int    // one past its '>'
	checked    []byte // the signer certificate CheckSigner passed, DER
	skipCheck  bool   // Options.SkipSignerCheck
}

// CheckSigner makes the pre-signing check of the signer's certificate
// (signercheck.Check: validity, key strength, trust path to cfg.Roots,
// revocation and suspension by OCSP then CRL) and records that cert passed
// it: Embed then accepts only a signature by cert. Call it before p.Digest
// goes to the signer, so that a refused certificate signs nothing. The
// result is the evidence the check used; pass Result.Source as
// LTVOptions.Revocation to keep it in the document's DSS.
func (p *Prepared) CheckSigner(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate, cfg *signercheck.Config) (*signercheck.Result, error) {
	res, err := signercheck.Check(ctx, cert, chain, cfg)
	if err != nil {
		return nil, err
	}
	p.checked = bytes.Clone(cert.Raw)
	return res, nil
}

// ContentsSize returns how many bytes of CMS the /Contents placeholder
// holds.
func (p *Prepared) ContentsSize() int { return (p.cEnd - p.cStart - 2) / 2 }

// preparedJSON is the stored form of a Prepared, version 1.
type preparedJSON struct {
	V           int      `json:"v"`
	Hash        string   `json:"hash"`
	Digest      []byte   `json:"digest"`
	ByteRange   [4]int64 `json:"byte_range"`
	OriginalLen int64    `json:"original_len"`
	OrigDigest  []byte   `json:"original_digest"`
	Section     []byte   `json:"section"`
	CStart      int      `json:"contents_start"`
	CEnd        int      `json:"contents_end"`
	Checked     []byte   `json:"checked_signer,omitempty"`
	SkipCheck   bool     `json:"skip_signer_check,omitempty"`
}

var hashNames = map[crypto.Hash]string{crypto.SHA256: "SHA-256", crypto.SHA384: "SHA-384", crypto.SHA512: "SHA-512"}

// MarshalBinary encodes p for storage (versioned JSON). The update section
// is a few tens of kilobytes; the original is not included.
func (p *Prepared) MarshalBinary() ([]byte, error) {
	name, ok := hashNames[p.Hash]
	if !ok {
		return nil, fmt.Errorf("pades: cannot store a Prepared with hash %v", p.Hash)
	}
	return json.Marshal(preparedJSON{V: 1, Hash: name, Digest: p.Digest, ByteRange: p.ByteRange,
		OriginalLen: p.OriginalLen, OrigDigest: p.origDigest, Section: p.section, CStart: p.cStart, CEnd: p.cEnd,
		Checked: p.checked, SkipCheck: p.skipCheck})
}

// UnmarshalBinary restores a Prepared stored by MarshalBinary, checking
// that it is consistent: the spans lie in the section, /Contents is a
// zeroed hex string and the byte range agrees with them.
func (p *Prepared) UnmarshalBinary(data []byte) error {
	if len(data) > 2*maxSection+4096 {
		return errors.New("pades: stored state too large")
	}
	var j preparedJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("pades: decoding stored state: %w", err)
	}
	if j.V != 1 {
		return fmt.Errorf("pades: stored state version %d is not 1", j.V)
	}
	var h crypto.Hash
	for k, v := range hashNames {
		if v == j.Hash {
			h = k
		}
	}
	if h == 0 {
		return fmt.Errorf("pades: stored state has unknown hash %q", j.Hash)
	}
	bad := func(what string) error { return fmt.Errorf("pades: stored state is inconsistent: %s", what) }
	switch {
	case len(j.Digest) != h.Size() || len(j.OrigDigest) != h.Size():
		return bad("digest length")
	case j.OriginalLen <= 0 || len(j.Section) == 0 || len(j.Section) > maxSection:
		return bad("lengths")
	case j.CStart < 0 || j.CEnd > len(j.Section) || j.CEnd-j.CStart < 4 || (j.CEnd-j.CStart)%2 != 0:
		return bad("contents span")
	case j.Section[j.CStart] != '<' || j.Section[j.CEnd-1] != '>' ||
		len(bytes.Trim(j.Section[j.CStart+1:j.CEnd-1], "0")) != 0:
		return bad("contents placeholder")
	}
	total := j.OriginalLen + int64(len(j.Section))
	cOff, cEnd := j.OriginalLen+int64(j.CStart), j.OriginalLen+int64(j.CEnd)
	if j.ByteRange != [4]int64{0, cOff, cEnd, total - cEnd} {
		return bad("byte range")
	}
	*p = Prepared{Digest: j.Digest, Hash: h, ByteRange: j.ByteRange, OriginalLen: j.OriginalLen,
		origDigest: j.OrigDigest, section: j.Section, cStart: j.CStart, cEnd: j.CEnd,
		checked: j.Checked, skipCheck: j.SkipCheck}
	return nil
}

// Embed writes the signed PDF to w: the original, unchanged, then the
// update with cmsDER hex-encoded into /Contents and zero-padded (ISO
// 32000-2 §12.8.1). It first checks that orig is the original p was
// prepared from (length and hash, an error wrapping ErrMismatch), that
// cmsDER is a SignedData whose message digest is p.Digest, and that it fits
// the placeholder; and that its signer is the certificate CheckSigner
// passed (ErrNoSignerCheck when it was never called, unless
// Options.SkipSignerCheck). Nothing is written when a check fails.
func Embed(orig io.ReaderAt, p *Prepared, cmsDER []byte, w io.Writer) error {
	if p == nil || len(p.section) == 0 {
		return errors.New("pades: Embed needs a Prepared")
	}
	if !p.skipCheck {
		if p.checked == nil {
			return ErrNoSignerCheck
		}
		sd, err := cms.Parse(cmsDER)
		if err != nil {
			return fmt.Errorf("pades: the signature is not a CMS SignedData: %w", err)
		}
		if sd.Signer == nil || !bytes.Equal(sd.Signer.Raw, p.checked) {
			return fmt.Errorf("pades: the signature's signer is not the certificate CheckSigner checked: %w", ErrMismatch)
		}
	}
	h := p.Hash.New()
	buf := copyBuffer(p.OriginalLen)
	if err := copyOriginal(orig, p.OriginalLen, buf, h); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), p.origDigest) != 1 {
		return fmt.Errorf("pades: the PDF given is not the one prepared: %w", ErrMismatch)
	}
	section, err := p.signedSection(cmsDER)
	if err != nil {
		return err
	}
	if err := copyOriginal(orig, p.OriginalLen, buf, w); err != nil {
		return err
	}
	return writeSection(w, section)
}

// signedSection checks cmsDER against p and returns the update section
// with it in /Contents.
func (p *Prepared) signedSection(cmsDER []byte) ([]byte, error) {
	if n, m := len(cmsDER), p.ContentsSize(); n > m {
		return nil, fmt.Errorf("pades: signature is %d bytes, placeholder holds %d", n, m)
	}
	sd, err := cms.Parse(cmsDER)
	if err != nil {
		return nil, fmt.Errorf("pades: the signature is not a CMS SignedData: %w", err)
	}
	if !bytes.Equal(sd.MessageDigest, p.Digest) {
		return nil, fmt.Errorf("pades: the signature's message digest is not the prepared document's: %w", ErrMismatch)
	}
	section := bytes.Clone(p.section)
	hex.Encode(section[p.cStart+1:], cmsDER)
	return section, nil
}

func writeSection(w io.Writer, section []byte) error {
	if _, err := w.Write(section); err != nil {
		return fmt.Errorf("pades: writing the update: %w", err)
	}
	return nil
}
