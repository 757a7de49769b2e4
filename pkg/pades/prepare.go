package pades

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

var (
	// ErrUnsupported is returned for documents or options kyso cannot sign
	// correctly (for example a certification signature on a document that
	// is already signed).
	ErrUnsupported = errors.New("pades: unsupported")
	// ErrEncrypted is returned for an encrypted (password-protected)
	// document. It is pdf.ErrEncrypted, so either sentinel matches.
	ErrEncrypted = pdf.ErrEncrypted
	// ErrMismatch is returned by Embed when the original or the CMS is not
	// the one the Prepared was made for.
	ErrMismatch = errors.New("pades: mismatch")
)

const (
	// DefaultContentsSize is the number of bytes Prepare reserves for the
	// CMS when Options.ContentsSize is zero and the certificates are not
	// known: room for a signer certificate, a chain of a few CAs and a
	// time-stamp token with its own certificates.
	DefaultContentsSize = 32 << 10
	// MaxContentsSize bounds Options.ContentsSize: the CMS parser's limit.
	MaxContentsSize = 4 << 20
	// maxSection bounds the update section kept in a Prepared.
	maxSection = 64 << 20
)

// Options says how to sign. The zero value makes an invisible approval
// signature in a new field, hashed with SHA-256, with /M set to now.
type Options struct {
	// Reason, Location, ContactInfo and Name are written to the signature
	// dictionary as text strings (ISO 32000-2 §12.8.1, Table 255): ASCII as
	// is, anything else (Vietnamese) as UTF-16BE with a byte order mark.
	// Empty ones are left out. ETSI EN 319 142-1 clause 5.4 lets /Name
	// differ from the certificate's subject; it is informative.
	Reason, Location, ContactInfo, Name string
	// SigningTime is the claimed signing time written as /M (ETSI EN 319
	// 142-1 clause 6.3 requirement: in PAdES the CMS signing-time attribute
	// is absent and /M carries it). Zero means time.Now(); its location is
	// kept as the time zone of the PDF date.
	SigningTime time.Time
	// FieldName is the signature field to sign: an existing empty /Sig
	// field of that (fully qualified) name is filled; otherwise a new
	// invisible field of that name is added on the first page. Empty means
	// "Signature1", or the next SignatureN whose name is free (an empty
	// signature field of that name counts as free and is filled).
	FieldName string
	// Certify, when 1, 2 or 3, makes a certification signature (ISO
	// 32000-2 §12.8.2.2 DocMDP) with that /P: 1 no changes allowed, 2 form
	// filling and signing, 3 also annotations. Zero is an approval
	// signature. A certification signature must be the document's first.
	Certify int
	// ContentsSize is the number of bytes reserved in /Contents for the
	// CMS (written hex, so twice as many characters). Zero means
	// DefaultContentsSize; Sign computes it from the certificates instead.
	ContentsSize int
	// Limits bounds the reading of the (untrusted) PDF; nil means
	// pdf's defaults.
	Limits *pdf.Limits
	// Hash is the digest algorithm over the byte range: SHA-256, SHA-384
	// or SHA-512. Zero means SHA-256.
	Hash crypto.Hash
}

// Prepare reads the PDF of size bytes in r and lays out the incremental
// update that will hold the signature: the signature dictionary (/Type
// /Sig, /Filter /Adobe.PPKLite, /SubFilter /ETSI.CAdES.detached, ETSI EN
// 319 142-1 clause 5.4.2 and 6.2), a signature field and widget (ISO
// 32000-2 §12.7.5.5), the AcroForm with /SigFlags 3 and, for a new field,
// the first page's /Annots. It computes /ByteRange — the whole file but the
// /Contents hex string, brackets included (§12.8.1) — and streams the
// original and the update through the hash, once, keeping only the update
// in memory. The returned Prepared's Digest is what the CMS
// message-digest attribute must carry.
func Prepare(r io.ReaderAt, size int64, opts *Options) (*Prepared, error) {
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
	contents := pdf.Mark(pdf.String{Value: make([]byte, o.ContentsSize), Hex: true})
	byteRange := pdf.Mark(pdf.Array{pdf.Int(0), pdf.Int(9999999999), pdf.Int(9999999999), pdf.Int(9999999999)})
	sig := sigDict(&o, byteRange, contents)
	if err := addField(rd, w, sig, &o); err != nil {
		return nil, err
	}

	cOff, cLen, err := w.Span(contents)
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	total, err := w.Len()
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	br := [4]int64{0, cOff, cOff + cLen, total - cOff - cLen}
	_, brLen, err := w.Span(byteRange)
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	brText := fmt.Appendf(nil, "[%d %d %d %d]", br[0], br[1], br[2], br[3])
	if int64(len(brText)) > brLen {
		return nil, fmt.Errorf("pades: byte range %s does not fit its placeholder", brText)
	}
	for int64(len(brText)) < brLen {
		brText = append(brText, ' ')
	}
	if err := w.Patch(byteRange, brText); err != nil {
		return nil, fmt.Errorf("pades: writing /ByteRange: %w", err)
	}
	section, err := w.Section()
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	if len(section) > maxSection {
		return nil, fmt.Errorf("pades: the update section is %d bytes, more than %d", len(section), maxSection)
	}

	p := &Prepared{
		Hash:        o.Hash,
		ByteRange:   br,
		OriginalLen: size,
		section:     section,
		cStart:      int(cOff - size),
		cEnd:        int(cOff + cLen - size),
	}
	h := o.Hash.New()
	if err := copyOriginal(h, r, size); err != nil {
		return nil, err
	}
	// Sum does not change the state: the hash of the original alone is
	// had for free, and identifies it in Embed.
	p.origDigest = h.Sum(nil)
	h.Write(section[:p.cStart])
	h.Write(section[p.cEnd:])
	p.Digest = h.Sum(nil)
	return p, nil
}

// copyOriginal streams the size bytes of r to w with a large buffer and
// checks that r has exactly size bytes.
func copyOriginal(w io.Writer, r io.ReaderAt, size int64) error {
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(w, io.NewSectionReader(r, 0, size), buf)
	if err != nil {
		return fmt.Errorf("pades: reading the original: %w", err)
	}
	if n != size {
		return fmt.Errorf("pades: the original has %d bytes, not %d: %w", n, size, ErrMismatch)
	}
	if m, _ := r.ReadAt(buf[:1], size); m != 0 {
		return fmt.Errorf("pades: the original is longer than %d bytes: %w", size, ErrMismatch)
	}
	return nil
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

// addField puts the signature dictionary into the document: in an
// existing empty signature field, or in a new invisible one on the first
// page (ISO 32000-2 §12.7.5.5), updating the AcroForm, the catalog and the
// page as needed. For a certification signature it adds the DocMDP
// reference (§12.8.2.2) and the catalog's /Perms (§12.8.4).
func addField(rd *pdf.Reader, w *pdf.Writer, sig *pdf.Dict, o *Options) error {
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return fmt.Errorf("pades: reading the catalog: %w", err)
	}
	fields, err := rd.Fields()
	if err != nil {
		return fmt.Errorf("pades: reading the form fields: %w", err)
	}
	if err := checkPerms(rd, cat); err != nil {
		return err
	}
	byName := map[string]pdf.Field{}
	signed := 0
	for _, f := range fields {
		byName[f.Name] = f
		if f.IsSignature() && f.Value != nil {
			signed++
		}
	}
	if o.Certify != 0 {
		if signed > 0 {
			return fmt.Errorf("pades: a certification signature must be the first, and the document has %d: %w", signed, ErrUnsupported)
		}
		params := pdf.NewDict()
		params.Set("Type", pdf.Name("TransformParams"))
		params.Set("P", pdf.Int(o.Certify))
		params.Set("V", pdf.Name("1.2"))
		ref := pdf.NewDict()
		ref.Set("Type", pdf.Name("SigRef"))
		ref.Set("TransformMethod", pdf.Name("DocMDP"))
		ref.Set("TransformParams", params)
		sig.Set("Reference", pdf.Array{ref})
	}

	name := o.FieldName
	if name == "" {
		for i := 1; ; i++ {
			name = "Signature" + strconv.Itoa(i)
			f, ok := byName[name]
			if !ok || (f.IsSignature() && f.Value == nil) {
				break
			}
		}
	}
	sigRef := w.Add(sig)

	newCat := cat.Clone()
	catChanged := false
	if o.Certify != 0 {
		perms := pdf.NewDict()
		if old, err := rd.Get(cat.Get("Perms")); err == nil {
			if od, ok := old.(*pdf.Dict); ok {
				perms = od.Clone()
			}
		}
		perms.Set("DocMDP", sigRef)
		newCat.Set("Perms", perms)
		catChanged = true
	}

	formObj := cat.Get("AcroForm")
	formRef, formIndirect := formObj.(pdf.Ref)
	form, _, err := rd.AcroForm()
	if err != nil {
		return fmt.Errorf("pades: reading the AcroForm: %w", err)
	}
	if form == nil {
		form = pdf.NewDict()
		form.Set("Fields", pdf.Array{})
		formIndirect = false
	} else {
		form = form.Clone()
	}
	form.Set("SigFlags", pdf.Int(3))

	if f, ok := byName[name]; ok {
		if !f.IsSignature() {
			return fmt.Errorf("pades: field %q is a %s field, not a signature field", name, f.Type)
		}
		if f.Value != nil {
			return fmt.Errorf("pades: field %q is already signed", name)
		}
		fd := f.Dict.Clone()
		fd.Set("V", sigRef)
		w.Update(f.Ref, fd)
	} else {
		if strings.Contains(name, ".") {
			return fmt.Errorf("pades: new field name %q contains a period, which separates partial names (ISO 32000-2 §12.7.4.2)", name)
		}
		pages, err := rd.Pages()
		if err != nil {
			return fmt.Errorf("pades: reading the pages: %w", err)
		}
		if len(pages) == 0 {
			return errors.New("pades: the document has no pages")
		}
		page := pages[0]
		ap := &pdf.Stream{Dict: pdf.NewDict(), Data: []byte{}}
		ap.Dict.Set("Type", pdf.Name("XObject"))
		ap.Dict.Set("Subtype", pdf.Name("Form"))
		ap.Dict.Set("BBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
		apRef := w.Add(ap)
		apd := pdf.NewDict()
		apd.Set("N", apRef)
		field := pdf.NewDict()
		field.Set("FT", pdf.Name("Sig"))
		field.Set("T", textString(name))
		field.Set("V", sigRef)
		field.Set("Type", pdf.Name("Annot"))
		field.Set("Subtype", pdf.Name("Widget"))
		field.Set("Rect", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
		field.Set("F", pdf.Int(132)) // Print | Locked (§12.5.3)
		field.Set("P", page.Ref)
		field.Set("AP", apd)
		fieldRef := w.Add(field)

		// Append to /Fields, which may be an indirect array.
		if fr, ok := form.Get("Fields").(pdf.Ref); ok {
			arr, err := getArray(rd, fr)
			if err != nil {
				return err
			}
			w.Update(fr, append(arr, fieldRef))
		} else {
			arr, _ := form.Get("Fields").(pdf.Array)
			form.Set("Fields", append(append(pdf.Array{}, arr...), fieldRef))
		}
		// Append to the page's /Annots, which may be an indirect array.
		if ar, ok := page.Dict.Get("Annots").(pdf.Ref); ok {
			arr, err := getArray(rd, ar)
			if err != nil {
				return err
			}
			w.Update(ar, append(arr, fieldRef))
		} else {
			pd := page.Dict.Clone()
			arr, _ := pd.Get("Annots").(pdf.Array)
			pd.Set("Annots", append(append(pdf.Array{}, arr...), fieldRef))
			w.Update(page.Ref, pd)
		}
	}

	if formIndirect {
		w.Update(formRef, form)
	} else {
		newCat.Set("AcroForm", w.Add(form))
		catChanged = true
	}
	if catChanged {
		w.Update(catRef, newCat)
	}
	return nil
}

// getArray resolves ref to an array and returns a copy of it.
func getArray(rd *pdf.Reader, ref pdf.Ref) (pdf.Array, error) {
	obj, err := rd.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("pades: reading %v: %w", ref, err)
	}
	arr, ok := obj.(pdf.Array)
	if !ok {
		if _, null := obj.(pdf.Null); null || obj == nil {
			return pdf.Array{}, nil
		}
		return nil, fmt.Errorf("pades: %v should be an array: %w", ref, pdf.ErrMalformed)
	}
	return append(pdf.Array{}, arr...), nil
}

// checkPerms refuses to sign a document certified with DocMDP P=1, which
// allows no change at all (ISO 32000-2 §12.8.2.2.2, Table 257).
func checkPerms(rd *pdf.Reader, cat *pdf.Dict) error {
	po, err := rd.Get(cat.Get("Perms"))
	if err != nil {
		return nil
	}
	perms, ok := po.(*pdf.Dict)
	if !ok {
		return nil
	}
	so, err := rd.Get(perms.Get("DocMDP"))
	if err != nil {
		return nil
	}
	sd, ok := so.(*pdf.Dict)
	if !ok {
		return nil
	}
	refs, _ := sd.Get("Reference").(pdf.Array)
	for _, r := range refs {
		ro, err := rd.Get(r)
		if err != nil {
			continue
		}
		rdict, ok := ro.(*pdf.Dict)
		if !ok || rdict.Get("TransformMethod") != pdf.Name("DocMDP") {
			continue
		}
		tp, err := rd.Get(rdict.Get("TransformParams"))
		if err != nil {
			continue
		}
		if tpd, ok := tp.(*pdf.Dict); ok {
			if p, ok := tpd.Get("P").(pdf.Int); ok && p == 1 {
				return fmt.Errorf("pades: the document is certified with DocMDP P=1, which forbids any change: %w", ErrUnsupported)
			}
		}
	}
	return nil
}
