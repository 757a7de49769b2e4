package stamp

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// dejaVuSans is DejaVu Sans 2.37 (fonts/DejaVuSans.ttf, licence in
// fonts/LICENSE): a free font that covers Vietnamese, every precomposed
// letter of it a glyph of its own.
//
//go:embed fonts/DejaVuSans.ttf
var dejaVuSans []byte

// Font is a TrueType font to draw stamp text with: the glyph of each rune,
// its advance, and the metrics a PDF font descriptor needs. A Font is safe
// for concurrent use.
type Font struct {
	// Name is the PostScript name, without subset tag.
	Name string
	data []byte
	sf   *sfnt.Font
	upem int
	// Ascent, Descent (negative), CapHeight and BBox are in glyph space
	// units of 1/1000 em (ISO 32000-2 §9.8).
	Ascent, Descent, CapHeight int
	BBox                       [4]int
	ItalicAngle                float64
}

// DejaVuSans returns the embedded DejaVu Sans.
func DejaVuSans() (*Font, error) { return ParseFont(dejaVuSans) }

// DejaVuSansTTF returns the embedded DejaVu Sans font program, for other
// writers of Vietnamese text (charts, reports). The bytes are shared:
// callers must not modify them.
func DejaVuSansTTF() []byte { return dejaVuSans }

// ParseFont reads a TrueType font (glyf outlines) for stamps.
func ParseFont(data []byte) (*Font, error) {
	t, err := sfntTables(data)
	if err != nil {
		return nil, err
	}
	sf, err := sfnt.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("stamp: font: %w", err)
	}
	var buf sfnt.Buffer
	f := &Font{data: data, sf: sf, upem: int(sf.UnitsPerEm())}
	if f.upem < 16 || f.upem > 16384 {
		return nil, fmt.Errorf("stamp: font: %d units per em", f.upem)
	}
	if f.Name, err = sf.Name(&buf, sfnt.NameIDPostScript); err != nil || f.Name == "" {
		f.Name = "Font"
	}
	ppem := fixed.Int26_6(f.upem)
	m, err := sf.Metrics(&buf, ppem, font.HintingNone)
	if err != nil {
		return nil, fmt.Errorf("stamp: font: %w", err)
	}
	// sfnt's metrics are y-down: Descent and CapHeight come positive or
	// negative depending on convention; PDF wants Descent below zero.
	f.Ascent = f.scale(abs(int(m.Ascent)))
	f.Descent = -f.scale(abs(int(m.Descent)))
	f.CapHeight = f.scale(abs(int(m.CapHeight)))
	if f.CapHeight == 0 {
		f.CapHeight = f.Ascent
	}
	head := t["head"]
	for i := range 4 {
		f.BBox[i] = f.scale(int(int16(binary.BigEndian.Uint16(head[36+2*i:]))))
	}
	if p := t["post"]; len(p) >= 8 {
		f.ItalicAngle = float64(int32(binary.BigEndian.Uint32(p[4:]))) / 65536
	}
	return f, nil
}

// scale converts font units to 1/1000 em, rounding.
func (f *Font) scale(units int) int {
	if units < 0 {
		return -((-units*1000 + f.upem/2) / f.upem)
	}
	return (units*1000 + f.upem/2) / f.upem
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Glyph returns the glyph index of r and its advance in 1/1000 em, or an
// error when the font has no glyph for r.
func (f *Font) Glyph(r rune) (gid uint16, advance int, err error) {
	var buf sfnt.Buffer
	g, err := f.sf.GlyphIndex(&buf, r)
	if err != nil {
		return 0, 0, fmt.Errorf("stamp: font: looking up %U: %w", r, err)
	}
	if g == 0 {
		name := ""
		if unicode.IsPrint(r) {
			name = fmt.Sprintf(" %q", r)
		}
		return 0, 0, fmt.Errorf("stamp: %s has no glyph for %U%s", f.Name, r, name)
	}
	a, err := f.sf.GlyphAdvance(&buf, g, fixed.Int26_6(f.upem), font.HintingNone)
	if err != nil {
		return 0, 0, fmt.Errorf("stamp: font: advance of %U: %w", r, err)
	}
	// With ppem = units per em, the 26.6 value is the advance in units.
	return uint16(g), f.scale(int(a)), nil
}

// Subset returns the font program with only the glyphs of runes (see
// Subset).
func (f *Font) Subset(used map[uint16]bool, cmap map[rune]uint16) ([]byte, error) {
	return Subset(f.data, used, cmap)
}
