package pades

import (
	"crypto"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/stamp"
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
	// ErrNoSignerCheck: signing was asked for without the pre-signing
	// check of the signer's certificate (SignOptions.Check or Checked,
	// Prepared.CheckSigner) and without opting out of it.
	ErrNoSignerCheck = errors.New("pades: no pre-signing check of the signer's certificate configured (Circular 15/2025 Art. 5); give trust anchors and a revocation source, or opt out with SkipSignerCheck")
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
// signature in a new field, hashed with SHA-256, with /M set to now;
// Visible makes it visible.
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
	// field of that name is added, invisible on the first page, or where
	// Visible says. Empty means
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
	// Visible, when not nil, makes the signature visible: a stamp on a
	// page (see Visible). nil, the zero value, keeps it invisible.
	Visible *Visible
	// SkipSignerCheck lets Embed embed a signature whose signer's
	// certificate was not checked with Prepared.CheckSigner. WARNING: the
	// pre-signing check is what Circular 15/2025 Art. 5 requires of
	// signing software; skip it only in tests and offline tools that
	// check the certificate some other way.
	SkipSignerCheck bool
}

// Visible places and describes the stamp of a visible signature: the
// signature field's widget annotation gets a /Rect on a page, the print
// flag and a normal appearance drawn by pkg/stamp (ISO 32000-2 §12.5.5,
// §12.7.5.5), and is added to the page's /Annots.
type Visible struct {
	// Page is the page, counted from 1. Zero means the page of the empty
	// field being filled, if it is on one, else the first page.
	Page int
	// Rect is the stamp's lower-left corner and size — x, y, width,
	// height — in points in the page's default user space (the
	// coordinates of its MediaBox, before /Rotate turns the page for
	// display). It must lie within the page's CropBox (or MediaBox). The
	// zero value means the /Rect of the empty field being filled, if it
	// has an area, else DefaultStampWidth × DefaultStampHeight at the
	// bottom right of the page as displayed, 36 points from the edges.
	Rect [4]float64
	// Signer names the signer in the default text, "Ký bởi: <SIGNER>" in
	// capitals. Empty means Options.Name; with both empty the stamp needs
	// Lines.
	Signer string
	// Lines, when not empty, replace the default text, which is
	// stamp.DefaultLines of Signer, SigningTime (in TimeZone), Reason and
	// Location.
	Lines []string
	// TimeZone is the zone the default text shows the signing time in,
	// with the zone's offset ("Ngày ký: 05:55:12 07/12/2026 (GMT+7)").
	// Nil, the zero value, means Vietnam's time (Asia/Ho_Chi_Minh, GMT+7),
	// whatever zone SigningTime carries or the host runs in.
	TimeZone *time.Location
	// Image is an optional JPEG or PNG drawn on the left of the stamp: a
	// handwritten signature, a seal.
	Image []byte
	// QRURL is an optional absolute URL drawn as a QR code on the right
	// of the stamp, typically where the document can be verified.
	QRURL string
}

// Default stamp size, in points, when Visible.Rect is zero.
const (
	DefaultStampWidth  = 260.0
	DefaultStampHeight = 80.0
	stampMargin        = 36.0
)

// VisibleError is returned when a visible signature cannot be made as
// asked — no such page, a rectangle off the page or too small for the
// text, an image that is not a JPEG or PNG: a mistake in the options, not
// in the document.
type VisibleError struct{ Err error }

func (e *VisibleError) Error() string { return "pades: visible signature: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *VisibleError) Unwrap() error { return e.Err }

func visibleErr(format string, args ...any) error {
	return &VisibleError{Err: fmt.Errorf(format, args...)}
}

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

// placeholders are the /Contents and /ByteRange of a signature dictionary
// before layOut: a hex string of n zero bytes, and an array whose numbers
// are wide enough for any byte range layOut writes over it.
func placeholders(n int) (contents, byteRange *pdf.Marked) {
	contents = pdf.Mark(pdf.String{Value: make([]byte, n), Hex: true})
	byteRange = pdf.Mark(pdf.Array{pdf.Int(0), pdf.Int(9999999999), pdf.Int(9999999999), pdf.Int(9999999999)})
	return contents, byteRange
}

// layOut finishes an update of the size-byte original whose signature
// dictionary — a signature's or a document time-stamp's — holds the marked
// contents and byteRange placeholders: it computes and writes /ByteRange,
// the whole file but the /Contents hex string, brackets included (ISO
// 32000-2 §12.8.1), and returns the update section laid out, with no
// Digest yet.
func layOut(size int64, w *pdf.Writer, contents, byteRange *pdf.Marked, h crypto.Hash) (*Prepared, error) {
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
	return &Prepared{
		Hash:        h,
		ByteRange:   br,
		OriginalLen: size,
		section:     section,
		cStart:      int(cOff - size),
		cEnd:        int(cOff + cLen - size),
	}, nil
}

// hashOriginal streams the p.OriginalLen bytes of r through p's hash, and
// through every w, once, and sets p's digests.
func (p *Prepared) hashOriginal(r io.ReaderAt, ws ...io.Writer) error {
	h := p.Hash.New()
	if err := copyOriginal(r, p.OriginalLen, copyBuffer(p.OriginalLen), append([]io.Writer{h}, ws...)...); err != nil {
		return err
	}
	p.digest(h)
	return nil
}

// digest sets p's digests from h, which has hashed the original: Sum does
// not change the state, so the hash of the original alone, which
// identifies it in Embed, is had for free.
func (p *Prepared) digest(h hash.Hash) {
	p.origDigest = h.Sum(nil)
	h.Write(p.section[:p.cStart])
	h.Write(p.section[p.cEnd:])
	p.Digest = h.Sum(nil)
}

// copyBuffer is the buffer to stream an original of size bytes with: 1 MiB,
// or the whole of a smaller file.
func copyBuffer(size int64) []byte { return make([]byte, min(max(size, 1), 1<<20)) }

// copyOriginal reads the size bytes of r through buf, writing each block to
// every w, and checks that r has exactly size bytes. It reads with ReadAt
// itself rather than io.CopyBuffer, which would hand an *os.File writer
// the reader and copy through its own 32 KiB buffer.
func copyOriginal(r io.ReaderAt, size int64, buf []byte, ws ...io.Writer) error {
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		m, err := r.ReadAt(buf[:n], off)
		if m < n {
			if err == nil || err == io.EOF {
				return fmt.Errorf("pades: the original has %d bytes, not %d: %w", off+int64(m), size, ErrMismatch)
			}
			return fmt.Errorf("pades: reading the original: %w", err)
		}
		for _, w := range ws {
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("pades: writing the original: %w", err)
			}
		}
		off += int64(n)
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
// existing empty signature field, or in a new one (ISO 32000-2
// §12.7.5.5) — invisible on the first page, or visible where o.Visible
// says — updating the AcroForm, the catalog and the pages as needed. For a certification signature it adds the DocMDP
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
		if o.Visible != nil {
			if err := showExisting(rd, w, f, fd, o); err != nil {
				return err
			}
		}
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
		field := pdf.NewDict()
		field.Set("FT", pdf.Name("Sig"))
		field.Set("T", textString(name))
		field.Set("V", sigRef)
		field.Set("Type", pdf.Name("Annot"))
		field.Set("Subtype", pdf.Name("Widget"))
		var page pdf.Page
		if o.Visible == nil {
			page = pages[0]
			ap := &pdf.Stream{Dict: pdf.NewDict(), Data: []byte{}}
			ap.Dict.Set("Type", pdf.Name("XObject"))
			ap.Dict.Set("Subtype", pdf.Name("Form"))
			ap.Dict.Set("BBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
			apd := pdf.NewDict()
			apd.Set("N", w.Add(ap))
			field.Set("Rect", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
			field.Set("F", pdf.Int(132)) // Print | Locked (§12.5.3)
			field.Set("P", page.Ref)
			field.Set("AP", apd)
		} else {
			n := o.Visible.Page
			if n == 0 {
				n = 1
			}
			if page, err = pageAt(pages, n); err != nil {
				return err
			}
			if err := showWidget(rd, w, field, page, n, nil, o); err != nil {
				return err
			}
		}
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
		if err := addAnnot(rd, w, page, fieldRef); err != nil {
			return err
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

// pageAt returns page n, counted from 1.
func pageAt(pages []pdf.Page, n int) (pdf.Page, error) {
	if n < 1 || n > len(pages) {
		return pdf.Page{}, visibleErr("page %d does not exist: the document has %d page%s", n, len(pages), plural(len(pages)))
	}
	return pages[n-1], nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// showExisting makes the empty signature field f, whose dictionary fd is
// being rewritten, visible: its widget — the field itself, or its first
// widget kid — gets the stamp, on Visible.Page or the page it is on, at
// Visible.Rect or its own /Rect.
func showExisting(rd *pdf.Reader, w *pdf.Writer, f pdf.Field, fd *pdf.Dict, o *Options) error {
	widgetRef, widget := f.Ref, fd
	if fd.Get("Subtype") != pdf.Name("Widget") {
		kids, _ := fd.Get("Kids").(pdf.Array)
		for _, k := range kids {
			kr, ok := k.(pdf.Ref)
			if !ok {
				continue
			}
			ko, err := rd.Resolve(kr)
			if err != nil {
				return fmt.Errorf("pades: reading the widget of field %q: %w", f.Name, err)
			}
			if kd, ok := ko.(*pdf.Dict); ok && kd.Get("T") == nil {
				widgetRef, widget = kr, kd.Clone()
				break
			}
		}
		if widgetRef == f.Ref {
			// No widget: the field becomes its own (§12.5.6.19).
			fd.Set("Type", pdf.Name("Annot"))
			fd.Set("Subtype", pdf.Name("Widget"))
		}
	}
	pages, err := rd.Pages()
	if err != nil {
		return fmt.Errorf("pades: reading the pages: %w", err)
	}
	// The page the widget is on: the one whose /Annots lists it, trying
	// its /P first.
	cur := -1
	if p, ok := widget.Get("P").(pdf.Ref); ok {
		for i, pg := range pages {
			if pg.Ref == p {
				if has, err := hasAnnot(rd, pg, widgetRef); err != nil {
					return err
				} else if has {
					cur = i
				}
				break
			}
		}
	}
	for i := 0; cur < 0 && i < len(pages); i++ {
		if has, err := hasAnnot(rd, pages[i], widgetRef); err != nil {
			return err
		} else if has {
			cur = i
		}
	}
	n := o.Visible.Page
	if n == 0 {
		n = 1
		if cur >= 0 {
			n = cur + 1
		}
	}
	page, err := pageAt(pages, n)
	if err != nil {
		return err
	}
	var own []float64
	if r, err := rectOf(rd, widget.Get("Rect")); err == nil && r[2] > r[0] && r[3] > r[1] {
		own = r[:]
	}
	if err := showWidget(rd, w, widget, page, n, own, o); err != nil {
		return err
	}
	if cur != n-1 {
		if cur >= 0 {
			if err := removeAnnot(rd, w, pages[cur], widgetRef); err != nil {
				return err
			}
		}
		if err := addAnnot(rd, w, page, widgetRef); err != nil {
			return err
		}
	}
	if widgetRef != f.Ref {
		w.Update(widgetRef, widget)
	}
	return nil
}

// showWidget sets a widget's /Rect, /F, /P and /AP for the stamp on page
// (number n): at Visible.Rect, else at own (llx, lly, urx, ury) when not
// nil, else at the default place.
func showWidget(rd *pdf.Reader, w *pdf.Writer, widget *pdf.Dict, page pdf.Page, n int, own []float64, o *Options) error {
	v := o.Visible
	box, err := pageBox(rd, page)
	if err != nil {
		return err
	}
	var r [4]float64 // llx, lly, urx, ury
	switch {
	case v.Rect != [4]float64{}:
		for _, x := range v.Rect {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return visibleErr("rectangle %v is not made of numbers", v.Rect)
			}
		}
		if v.Rect[2] <= 0 || v.Rect[3] <= 0 {
			return visibleErr("rectangle %s has no area: width and height must be positive", fmtRect(v.Rect))
		}
		r = [4]float64{v.Rect[0], v.Rect[1], v.Rect[0] + v.Rect[2], v.Rect[1] + v.Rect[3]}
	case own != nil:
		r = [4]float64(own)
	default:
		r = defaultRect(box, page.Rotate)
	}
	const eps = 1e-6
	if r[0] < box[0]-eps || r[1] < box[1]-eps || r[2] > box[2]+eps || r[3] > box[3]+eps {
		return visibleErr("rectangle %s (x, y, width, height) is not within page %d, whose visible area is %s",
			fmtRect([4]float64{r[0], r[1], r[2] - r[0], r[3] - r[1]}), n, fmtRect([4]float64{box[0], box[1], box[2] - box[0], box[3] - box[1]}))
	}
	lines := v.Lines
	if len(lines) == 0 {
		signer := v.Signer
		if signer == "" {
			signer = o.Name
		}
		if strings.TrimSpace(signer) == "" {
			return visibleErr("no name for the stamp: set Visible.Signer, Options.Name or Visible.Lines")
		}
		lines = stamp.DefaultLines(signer, o.SigningTime, v.TimeZone, o.Reason, o.Location)
	}
	a := &stamp.Appearance{Lines: lines, Image: v.Image, QRURL: v.QRURL}
	form, err := a.Form(w, r[2]-r[0], r[3]-r[1], page.Rotate)
	if err != nil {
		return &VisibleError{Err: err}
	}
	apd := pdf.NewDict()
	apd.Set("N", form)
	widget.Set("Rect", pdf.Array{pdf.Real(r[0]), pdf.Real(r[1]), pdf.Real(r[2]), pdf.Real(r[3])})
	widget.Set("F", pdf.Int(4)) // Print (§12.5.3)
	widget.Set("P", page.Ref)
	widget.Set("AP", apd)
	return nil
}

// defaultRect is a DefaultStampWidth × DefaultStampHeight stamp at the
// bottom right of the page as displayed (turned by rotate), stampMargin
// from the edges, made smaller on a small page.
func defaultRect(box [4]float64, rotate int) [4]float64 {
	bw, bh := box[2]-box[0], box[3]-box[1]
	w, h := DefaultStampWidth, DefaultStampHeight
	if rotate == 90 || rotate == 270 {
		w, h = h, w
	}
	m := stampMargin
	if bw < w+2*m || bh < h+2*m {
		m = math.Min(bw, bh) * 0.05
		w, h = math.Min(w, bw-2*m), math.Min(h, bh-2*m)
	}
	var x, y float64
	switch rotate {
	case 90: // the displayed bottom right is the top right
		x, y = box[2]-m-w, box[3]-m-h
	case 180:
		x, y = box[0]+m, box[3]-m-h
	case 270:
		x, y = box[0]+m, box[1]+m
	default:
		x, y = box[2]-m-w, box[1]+m
	}
	return [4]float64{x, y, x + w, y + h}
}

func fmtRect(r [4]float64) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	return f(r[0]) + "," + f(r[1]) + "," + f(r[2]) + "," + f(r[3])
}

// pageBox returns the page's visible area (llx, lly, urx, ury): its
// CropBox clipped to its MediaBox (ISO 32000-2 §14.11.2). A page without
// a MediaBox is taken as US Letter, as viewers do.
func pageBox(rd *pdf.Reader, p pdf.Page) ([4]float64, error) {
	box := [4]float64{0, 0, 612, 792}
	if p.MediaBox != nil {
		b, err := rectOf(rd, p.MediaBox)
		if err != nil {
			return box, fmt.Errorf("pades: the page's /MediaBox: %w", err)
		}
		box = b
	}
	if p.CropBox != nil {
		if c, err := rectOf(rd, p.CropBox); err == nil {
			box = [4]float64{max(box[0], c[0]), max(box[1], c[1]), min(box[2], c[2]), min(box[3], c[3])}
		}
	}
	if box[2] <= box[0] || box[3] <= box[1] {
		return box, fmt.Errorf("pades: the page's visible area %v is empty: %w", box, pdf.ErrMalformed)
	}
	return box, nil
}

// rectOf reads a rectangle (§7.9.5): four numbers, normalised so that the
// first corner is the lower left.
func rectOf(rd *pdf.Reader, obj pdf.Object) ([4]float64, error) {
	var r [4]float64
	o, err := rd.Get(obj)
	if err != nil {
		return r, err
	}
	a, ok := o.(pdf.Array)
	if !ok || len(a) != 4 {
		return r, fmt.Errorf("not a rectangle: %w", pdf.ErrMalformed)
	}
	for i, e := range a {
		v, err := rd.Get(e)
		if err != nil {
			return r, err
		}
		switch n := v.(type) {
		case pdf.Int:
			r[i] = float64(n)
		case pdf.Real:
			r[i] = float64(n)
		default:
			return r, fmt.Errorf("a rectangle holds a %T: %w", v, pdf.ErrMalformed)
		}
		if math.IsNaN(r[i]) || math.IsInf(r[i], 0) {
			return r, fmt.Errorf("a rectangle holds %v: %w", r[i], pdf.ErrMalformed)
		}
	}
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}, nil
}

// annots returns a copy of the page's /Annots, direct or indirect.
func annots(rd *pdf.Reader, page pdf.Page) (pdf.Array, error) {
	switch a := page.Dict.Get("Annots").(type) {
	case pdf.Ref:
		return getArray(rd, a)
	case pdf.Array:
		return append(pdf.Array{}, a...), nil
	}
	return pdf.Array{}, nil
}

func hasAnnot(rd *pdf.Reader, page pdf.Page, ref pdf.Ref) (bool, error) {
	arr, err := annots(rd, page)
	if err != nil {
		return false, err
	}
	for _, a := range arr {
		if a == ref {
			return true, nil
		}
	}
	return false, nil
}

// setAnnots writes the page's /Annots: the indirect array redefined in
// place, or the page with a new direct array.
func setAnnots(w *pdf.Writer, page pdf.Page, arr pdf.Array) {
	if ar, ok := page.Dict.Get("Annots").(pdf.Ref); ok {
		w.Update(ar, arr)
		return
	}
	pd := page.Dict.Clone()
	pd.Set("Annots", arr)
	w.Update(page.Ref, pd)
}

// addAnnot appends ref to the page's /Annots.
func addAnnot(rd *pdf.Reader, w *pdf.Writer, page pdf.Page, ref pdf.Ref) error {
	arr, err := annots(rd, page)
	if err != nil {
		return err
	}
	setAnnots(w, page, append(arr, ref))
	return nil
}

// removeAnnot removes ref from the page's /Annots.
func removeAnnot(rd *pdf.Reader, w *pdf.Writer, page pdf.Page, ref pdf.Ref) error {
	arr, err := annots(rd, page)
	if err != nil {
		return err
	}
	out := pdf.Array{}
	for _, a := range arr {
		if a != ref {
			out = append(out, a)
		}
	}
	setAnnots(w, page, out)
	return nil
}
