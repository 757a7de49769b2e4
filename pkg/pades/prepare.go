package pades

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf16"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// Prepare reads the PDF of size bytes in r and lays out the incremental
// update that will hold the signature: the signature dictionary (/Type
// /Sig, /Filter /Adobe.PPKLite, /SubFilter /ETSI.CAdES.detached, ETSI EN
// 319 142-1 clause 5.4.2 and 6.2), a signature field and widget (ISO
// 32000-2 §12.7.5.5), the AcroForm with /SigFlags 3, for a new field the
// page's /Annots, and for a visible signature the stamp (see Visible). It
// computes /ByteRange — the whole file but the /Contents hex string,
// brackets included (§12.8.1) — and streams the original and the update
// through the hash, once, keeping only the update in memory. The returned
// Prepared's Digest is what the CMS message-digest attribute must carry.
// A visible signature that cannot be made as asked is a *VisibleError.
func Prepare(r io.ReaderAt, size int64, opts *Options) (*Prepared, error) {
	p, err := layout(r, size, opts)
	if err != nil {
		return nil, err
	}
	if err := p.hashOriginal(r); err != nil {
		return nil, err
	}
	p.skipCheck = opts != nil && opts.SkipSignerCheck
	return p, nil
}

// layout is Prepare up to the hashing: the update section laid out, with
// its /ByteRange, and no Digest yet.
func layout(r io.ReaderAt, size int64, opts *Options) (*Prepared, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	switch o.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, fmt.Errorf("pades: hash %v is not SHA-256, SHA-384 or SHA-512", o.Hash)
	}
	if !o.Hash.Available() {
		return nil, fmt.Errorf("pades: hash %v is not linked into the binary", o.Hash)
	}
	if o.ContentsSize == 0 {
		o.ContentsSize = DefaultContentsSize
	}
	if o.ContentsSize < 1024 || o.ContentsSize > MaxContentsSize {
		return nil, fmt.Errorf("pades: contents size %d is outside [1024, %d]", o.ContentsSize, MaxContentsSize)
	}
	if o.Certify < 0 || o.Certify > 3 {
		return nil, fmt.Errorf("pades: certify level %d is not 0, 1, 2 or 3", o.Certify)
	}
	if o.SigningTime.IsZero() {
		o.SigningTime = time.Now()
	}

	rd, err := pdf.Open(r, size, o.Limits)
	if err != nil {
		if errors.Is(err, pdf.ErrEncrypted) {
			return nil, fmt.Errorf("pades: cannot sign an encrypted PDF: %w", err)
		}
		return nil, fmt.Errorf("pades: reading the PDF: %w", err)
	}
	w := pdf.NewIncrementalWriter(r, size, rd)
	contents, byteRange := placeholders(o.ContentsSize)
	sig := sigDict(&o, byteRange, contents)
	if err := addField(rd, w, sig, &o); err != nil {
		return nil, err
	}
	return layOut(size, w, contents, byteRange, o.Hash)
}

// sigDict builds the signature dictionary (ISO 32000-2 §12.8.1 Table 255;
// ETSI EN 319 142-1 clause 6.2.1 for the PAdES baseline entries).
func sigDict(o *Options, byteRange, contents *pdf.Marked) *pdf.Dict {
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("Sig"))
	d.Set("Filter", pdf.Name("Adobe.PPKLite"))
	d.Set("SubFilter", pdf.Name("ETSI.CAdES.detached"))
	d.Set("ByteRange", byteRange)
	d.Set("Contents", contents)
	d.Set("M", pdf.String{Value: []byte(pdfDate(o.SigningTime))})
	for _, kv := range []struct {
		k pdf.Name
		v string
	}{{"Name", o.Name}, {"Reason", o.Reason}, {"Location", o.Location}, {"ContactInfo", o.ContactInfo}} {
		if kv.v != "" {
			d.Set(kv.k, textString(kv.v))
		}
	}
	return d
}

// pdfDate formats t as a PDF date (ISO 32000-2 §7.9.4):
// D:YYYYMMDDHHmmSS+HH'mm' in t's own time zone.
func pdfDate(t time.Time) string {
	s := t.Format("D:20060102150405")
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s%c%02d'%02d'", s, sign, off/3600, off/60%60)
}

// textString encodes s as a PDF text string (ISO 32000-2 §7.9.2.2):
// printable ASCII as is, anything else as UTF-16BE with a byte order mark.
func textString(s string) pdf.String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return pdf.String{Value: []byte(s)}
	}
	b := []byte{0xfe, 0xff}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return pdf.String{Value: b, Hex: true}
}
