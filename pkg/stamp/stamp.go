package stamp

import (
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/pdf"
)

// Appearance is what a visible signature shows: lines of text, and
// optionally an image and a QR code. The zero value has no text and is
// refused by Form; DefaultLines gives the usual text.
type Appearance struct {
	// Lines are drawn top to bottom, left-aligned, at the largest font
	// size (at most 12 pt) that fits; a line too long for the box is
	// wrapped at spaces. At most MaxLines lines of MaxLineRunes
	// characters. Text is normalised to NFC; every character must be in
	// the font (DejaVu Sans covers Vietnamese).
	Lines []string
	// Image, if not empty, is a JPEG or PNG (at most MaxImageBytes and
	// MaxImagePixels) drawn on the left, its aspect ratio kept: a
	// handwritten signature or a seal.
	Image []byte
	// QRURL, if not empty, is an absolute URL (at most MaxQRLen bytes)
	// drawn as a QR code on the right, typically where to verify the
	// document.
	QRURL string
}

// DefaultLines returns the text Vietnamese signing software shows on a
// stamp: "Ký bởi: <SIGNER IN CAPITALS>", "Ngày ký: hh:mm:ss dd/mm/yyyy
// (GMT+7)" — t in zone, nil meaning Vietnam's time (Asia/Ho_Chi_Minh),
// whatever zone t carries or the host runs in, written by display.Time as
// the verify report writes times — and "Lý do: …" and "Nơi ký: …" when
// reason or location are not empty.
func DefaultLines(signer string, t time.Time, zone *time.Location, reason, location string) []string {
	lines := []string{
		"Ký bởi: " + strings.ToUpper(strings.TrimSpace(signer)),
		"Ngày ký: " + display.Time(t, zone),
	}
	if r := strings.TrimSpace(reason); r != "" {
		lines = append(lines, "Lý do: "+r)
	}
	if l := strings.TrimSpace(location); l != "" {
		lines = append(lines, "Nơi ký: "+l)
	}
	return lines
}

// Adder adds an indirect object to a PDF being written and returns its
// reference. *pdf.Writer is one.
type Adder interface {
	Add(obj pdf.Object) pdf.Ref
}

var _ Adder = (*pdf.Writer)(nil)

// Form lays a out in a box of width × height points — the widget's /Rect
// — and adds to w a form XObject (ISO 32000-2 §8.10) to be the widget's
// normal appearance (/AP /N, §12.5.5), with the objects it uses: a Type0
// font with Identity-H encoding over a CIDFontType2 subset of DejaVu Sans
// with a ToUnicode CMap (§9.7, §9.10.3), so text extraction gives the text
// back, and the image. rotate is the page's /Rotate (0, 90, 180 or 270):
// the form's /Matrix turns it so that it reads upright on the displayed
// page. Nothing is added to w when Form fails.
func (a *Appearance) Form(w Adder, width, height float64, rotate int) (pdf.Ref, error) {
	if !(width > 0 && height > 0 && width < 1e5 && height < 1e5) {
		return pdf.Ref{}, fmt.Errorf("stamp: box %s×%s is not a positive size", num(width), num(height))
	}
	rotate = ((rotate % 360) + 360) % 360
	if rotate%90 != 0 {
		return pdf.Ref{}, fmt.Errorf("stamp: page rotation %d is not a multiple of 90", rotate)
	}
	// The drawing's own upright width and height.
	W, H := width, height
	if rotate == 90 || rotate == 270 {
		W, H = height, width
	}
	d, err := a.draw(W, H)
	if err != nil {
		return pdf.Ref{}, err
	}

	res := pdf.NewDict()
	fontRef := d.font.add(w)
	fonts := pdf.NewDict()
	fonts.Set("F1", fontRef)
	res.Set("Font", fonts)
	if d.img != nil {
		if d.img.smask != nil {
			d.img.xobj.Dict.Set("SMask", w.Add(d.img.smask))
		}
		xo := pdf.NewDict()
		xo.Set("Im1", w.Add(d.img.xobj))
		res.Set("XObject", xo)
	}
	fd := pdf.NewDict()
	fd.Set("Type", pdf.Name("XObject"))
	fd.Set("Subtype", pdf.Name("Form"))
	fd.Set("BBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Real(W), pdf.Real(H)})
	switch rotate {
	case 90:
		fd.Set("Matrix", pdf.Array{pdf.Int(0), pdf.Int(1), pdf.Int(-1), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
	case 180:
		fd.Set("Matrix", pdf.Array{pdf.Int(-1), pdf.Int(0), pdf.Int(0), pdf.Int(-1), pdf.Int(0), pdf.Int(0)})
	case 270:
		fd.Set("Matrix", pdf.Array{pdf.Int(0), pdf.Int(-1), pdf.Int(1), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
	}
	fd.Set("Resources", res)
	fd.Set("Filter", pdf.Name("FlateDecode"))
	return w.Add(&pdf.Stream{Dict: fd, Data: deflate(d.content)}), nil
}

// drawing is an appearance laid out: its content stream and what it uses.
type drawing struct {
	content []byte
	font    *fontUse
	img     *stampImage
	// text is the text block and where its first baseline starts, for
	// tests.
	text     *textBlock
	textX    float64
	textTop  float64
	qrX, qrS float64 // QR code square, for tests
}

// draw lays the appearance out in a W × H box: a border, the image on the
// left, the QR code on the right, the text between them.
func (a *Appearance) draw(W, H float64) (*drawing, error) {
	lines, err := cleanLines(a.Lines)
	if err != nil {
		return nil, err
	}
	f, err := DejaVuSans()
	if err != nil {
		return nil, err
	}
	runs := make([]*glyphRun, len(lines))
	for i, l := range lines {
		if runs[i], err = shape(f, l); err != nil {
			return nil, err
		}
	}
	var img *stampImage
	if len(a.Image) > 0 {
		if img, err = loadImage(a.Image); err != nil {
			return nil, err
		}
	}
	var modules [][]bool
	if a.QRURL != "" {
		if modules, err = qrModules(a.QRURL); err != nil {
			return nil, err
		}
	}

	pad := math.Max(2, math.Min(6, math.Min(W, H)*0.06))
	border := 1.0
	if math.Min(W, H) < 30 {
		border = 0.5
	}
	inX0, inY0, inX1, inY1 := pad, pad, W-pad, H-pad
	if inX1-inX0 < 10 || inY1-inY0 < 5 {
		return nil, fmt.Errorf("stamp: box %s×%s points is too small for a stamp", num(W), num(H))
	}
	d := &drawing{img: img}
	var c []byte
	c = append(c, "q\n"...)
	c = fmt.Appendf(c, "0.11 0.23 0.55 RG %s w %s %s %s %s re S\n", num(border), num(border/2), num(border/2), num(W-border), num(H-border))

	textX0, textX1 := inX0, inX1
	if modules != nil {
		n := float64(len(modules) + 2*quietZone)
		side := math.Min(inY1-inY0, (inX1-inX0)*0.4)
		u := side / n
		qx, qy := inX1-side, inY0+(inY1-inY0-side)/2
		d.qrX, d.qrS = qx, side
		c = fmt.Appendf(c, "1 g %s %s %s %s re f\n0 g\n", num(qx), num(qy), num(side), num(side))
		for row, ms := range modules {
			y := qy + side - float64(quietZone+row+1)*u
			for x := 0; x < len(ms); {
				if !ms[x] {
					x++
					continue
				}
				run := 1
				for x+run < len(ms) && ms[x+run] {
					run++
				}
				c = fmt.Appendf(c, "%s %s %s %s re\n", num(qx+float64(quietZone+x)*u), num(y), num(float64(run)*u), num(u))
				x += run
			}
		}
		c = append(c, "f\n"...)
		textX1 = qx - pad
	}
	if img != nil {
		bh := inY1 - inY0
		bw := math.Min((inX1-inX0)*0.3, bh*float64(img.w)/float64(img.h))
		dh := bw * float64(img.h) / float64(img.w)
		iy := inY0 + (bh-dh)/2
		c = fmt.Appendf(c, "q %s 0 0 %s %s %s cm /Im1 Do Q\n", num(bw), num(dh), num(inX0), num(iy))
		textX0 = inX0 + bw + pad
	}
	if textX1-textX0 < 20 {
		return nil, fmt.Errorf("stamp: box %s×%s points leaves no room for the text beside the image and QR code; make it wider", num(W), num(H))
	}
	block, err := fit(f, runs, textX1-textX0, inY1-inY0)
	if err != nil {
		return nil, err
	}
	top := inY1 - ((inY1-inY0)-block.height(f))/2 // the block, centred
	d.text, d.textX, d.textTop = block, textX0, top
	use := &fontUse{f: f, gids: map[uint16]rune{}, widths: map[uint16]int{}}
	c = fmt.Appendf(c, "0 g BT /F1 %s Tf %s TL %s %s Td\n", num(block.size), num(block.size*leading), num(textX0), num(top-block.size*float64(f.Ascent)/1000))
	for i, l := range block.lines {
		if i > 0 {
			c = append(c, "T*\n"...)
		}
		c = append(c, '<')
		for k, g := range l.gids {
			use.note(g, l.runes[k], l.adv[k])
			c = fmt.Appendf(c, "%04X", g)
		}
		c = append(c, "> Tj\n"...)
	}
	c = append(c, "ET\nQ\n"...)
	if use.prog, err = use.fontFile(); err != nil {
		return nil, err
	}
	d.content = c
	d.font = use
	return d, nil
}

// fontUse records the glyphs a drawing uses, to subset and describe the
// font.
type fontUse struct {
	f      *Font
	gids   map[uint16]rune // glyph → the character it shows
	widths map[uint16]int
	prog   []byte // the subset font program
}

func (u *fontUse) note(g uint16, r rune, adv int) {
	if _, ok := u.gids[g]; !ok {
		u.gids[g] = r
		u.widths[g] = adv
	}
}

// sorted returns the glyphs used, in order.
func (u *fontUse) sorted() []uint16 {
	gs := make([]uint16, 0, len(u.gids))
	for g := range u.gids {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// tag is the subset tag (ISO 32000-2 §9.9.2): six capital letters, made
// from the glyphs used so the same text gives the same name.
func (u *fontUse) tag() string {
	h := sha256.New()
	for _, g := range u.sorted() {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum(nil)
	t := make([]byte, 6)
	for i := range t {
		t[i] = 'A' + sum[i]%26
	}
	return string(t)
}

// fontFile returns the subset font program for the glyphs used.
func (u *fontUse) fontFile() ([]byte, error) {
	used := map[uint16]bool{}
	cmap := map[rune]uint16{}
	for g, r := range u.gids {
		used[g] = true
		cmap[r] = g
	}
	return u.f.Subset(used, cmap)
}

// add adds the Type0 font's objects (ISO 32000-2 §9.7) to w — the
// subset font program, its descriptor, the CIDFontType2, the ToUnicode
// CMap — and returns the Type0 font's reference.
func (u *fontUse) add(w Adder) pdf.Ref {
	prog := u.prog
	name := pdf.Name(u.tag() + "+" + u.f.Name)

	ff := pdf.NewDict()
	ff.Set("Length1", pdf.Int(len(prog)))
	ff.Set("Filter", pdf.Name("FlateDecode"))
	ffRef := w.Add(&pdf.Stream{Dict: ff, Data: deflate(prog)})

	fd := pdf.NewDict()
	fd.Set("Type", pdf.Name("FontDescriptor"))
	fd.Set("FontName", name)
	fd.Set("Flags", pdf.Int(32)) // Nonsymbolic (§9.8.2)
	fd.Set("FontBBox", pdf.Array{pdf.Int(u.f.BBox[0]), pdf.Int(u.f.BBox[1]), pdf.Int(u.f.BBox[2]), pdf.Int(u.f.BBox[3])})
	fd.Set("ItalicAngle", pdf.Real(u.f.ItalicAngle))
	fd.Set("Ascent", pdf.Int(u.f.Ascent))
	fd.Set("Descent", pdf.Int(u.f.Descent))
	fd.Set("CapHeight", pdf.Int(u.f.CapHeight))
	fd.Set("StemV", pdf.Int(80))
	fd.Set("FontFile2", ffRef)
	fdRef := w.Add(fd)

	var wa pdf.Array
	gs := u.sorted()
	for i := 0; i < len(gs); {
		j := i + 1
		for j < len(gs) && gs[j] == gs[j-1]+1 {
			j++
		}
		var ws pdf.Array
		for _, g := range gs[i:j] {
			ws = append(ws, pdf.Int(u.widths[g]))
		}
		wa = append(wa, pdf.Int(gs[i]), ws)
		i = j
	}
	sys := pdf.NewDict()
	sys.Set("Registry", pdf.String{Value: []byte("Adobe")})
	sys.Set("Ordering", pdf.String{Value: []byte("Identity")})
	sys.Set("Supplement", pdf.Int(0))
	cid := pdf.NewDict()
	cid.Set("Type", pdf.Name("Font"))
	cid.Set("Subtype", pdf.Name("CIDFontType2"))
	cid.Set("BaseFont", name)
	cid.Set("CIDSystemInfo", sys)
	cid.Set("FontDescriptor", fdRef)
	cid.Set("DW", pdf.Int(1000))
	cid.Set("W", wa)
	cid.Set("CIDToGIDMap", pdf.Name("Identity"))
	cidRef := w.Add(cid)

	tu := pdf.NewDict()
	tu.Set("Filter", pdf.Name("FlateDecode"))
	tuRef := w.Add(&pdf.Stream{Dict: tu, Data: deflate(u.toUnicode())})

	t0 := pdf.NewDict()
	t0.Set("Type", pdf.Name("Font"))
	t0.Set("Subtype", pdf.Name("Type0"))
	t0.Set("BaseFont", name)
	t0.Set("Encoding", pdf.Name("Identity-H"))
	t0.Set("DescendantFonts", pdf.Array{cidRef})
	t0.Set("ToUnicode", tuRef)
	return w.Add(t0)
}

// toUnicode returns the ToUnicode CMap (ISO 32000-2 §9.10.3): each
// two-byte code (the glyph index) to its character in UTF-16BE.
func (u *fontUse) toUnicode() []byte {
	var b []byte
	b = append(b, `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
`...)
	gs := u.sorted()
	for len(gs) > 0 {
		n := min(len(gs), 100) // at most 100 entries per block
		b = fmt.Appendf(b, "%d beginbfchar\n", n)
		for _, g := range gs[:n] {
			b = fmt.Appendf(b, "<%04X> <", g)
			for _, v := range utf16.Encode([]rune{u.gids[g]}) {
				b = fmt.Appendf(b, "%04X", v)
			}
			b = append(b, ">\n"...)
		}
		b = append(b, "endbfchar\n"...)
		gs = gs[n:]
	}
	b = append(b, `endcmap
CMapName currentdict /CMap defineresource pop
end
end
`...)
	return b
}

// num formats a length for a content stream: at most three decimals, no
// exponent, no trailing zeros.
func num(f float64) string {
	s := strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}
