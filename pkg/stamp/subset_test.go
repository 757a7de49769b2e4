package stamp

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// glyphsOf returns the glyphs of text in f and the rune → glyph map.
func glyphsOf(t *testing.T, f *Font, text string) (map[uint16]bool, map[rune]uint16) {
	t.Helper()
	used, cmap := map[uint16]bool{}, map[rune]uint16{}
	for _, r := range text {
		g, _, err := f.Glyph(r)
		if err != nil {
			t.Fatal(err)
		}
		used[g], cmap[r] = true, g
	}
	return used, cmap
}

// TestSubset subsets DejaVu Sans to a Vietnamese name and reads the
// result back with golang.org/x/image/font/sfnt: same glyph indices, same
// advances, same outlines (composite glyphs included, so their components
// were kept), nothing for the glyphs left out, and a fraction of the size.
func TestSubset(t *testing.T) {
	f := mustFont(t)
	const text = "Ký bởi: NGUYỄN VĂN ĐỨC Ngày 23/11/2026"
	used, cmap := glyphsOf(t, f, text)
	sub, err := f.Subset(used, cmap)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) > len(dejaVuSans)/10 {
		t.Errorf("subset is %d bytes, the font %d", len(sub), len(dejaVuSans))
	}
	if z := deflate(sub); len(z) > 16<<10 {
		t.Errorf("subset compresses to %d bytes", len(z))
	}
	t.Logf("font %d bytes, subset %d, compressed %d", len(dejaVuSans), len(sub), len(deflate(sub)))

	orig, err := sfnt.Parse(dejaVuSans)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sfnt.Parse(sub)
	if err != nil {
		t.Fatalf("sfnt cannot parse the subset: %v", err)
	}
	if s.NumGlyphs() != orig.NumGlyphs() || s.UnitsPerEm() != orig.UnitsPerEm() {
		t.Errorf("subset has %d glyphs, %d units/em; want %d, %d", s.NumGlyphs(), s.UnitsPerEm(), orig.NumGlyphs(), orig.UnitsPerEm())
	}
	var b1, b2 sfnt.Buffer
	ppem := fixed.Int26_6(orig.UnitsPerEm())
	composites := 0
	for _, r := range text {
		g1, _ := orig.GlyphIndex(&b1, r)
		g2, err := s.GlyphIndex(&b2, r)
		if err != nil || g1 != g2 {
			t.Errorf("%q: glyph %d in the subset's cmap, %d in the font (%v)", r, g2, g1, err)
		}
		a1, _ := orig.GlyphAdvance(&b1, g1, ppem, font.HintingNone)
		a2, err := s.GlyphAdvance(&b2, g1, ppem, font.HintingNone)
		if err != nil || a1 != a2 {
			t.Errorf("%q: advance %v, want %v (%v)", r, a2, a1, err)
		}
		o1, _ := orig.LoadGlyph(&b1, g1, ppem, nil)
		o1 = append(sfnt.Segments(nil), o1...)
		o2, err := s.LoadGlyph(&b2, g1, ppem, nil)
		if err != nil || !sameSegments(o1, o2) || (len(o1) == 0) != (r == ' ') {
			t.Errorf("%q: outline of glyph %d differs in the subset (%v)", r, g1, err)
		}
		if isComposite(t, dejaVuSans, g1) {
			composites++
		}
	}
	if composites == 0 {
		t.Error("no composite glyph in the text: the test does not exercise component closure")
	}
	// A glyph not used keeps its index but loses its outline.
	gz, _ := orig.GlyphIndex(&b1, 'Z')
	if o, err := s.LoadGlyph(&b2, gz, ppem, nil); err != nil || len(o) != 0 {
		t.Errorf("unused glyph 'Z' (%d) has %d segments in the subset (%v)", gz, len(o), err)
	}
	if sub2, _ := f.Subset(used, cmap); !bytes.Equal(sub, sub2) {
		t.Error("subsetting is not deterministic")
	}
	// The checksum adjustment makes the whole file sum to 0xB1B0AFBA.
	if c := checksum(sub); c != 0xb1b0afba {
		t.Errorf("file checksum %#x", c)
	}
}

func sameSegments(a, b sfnt.Segments) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isComposite(t *testing.T, fontData []byte, g sfnt.GlyphIndex) bool {
	t.Helper()
	tb, err := sfntTables(fontData)
	if err != nil {
		t.Fatal(err)
	}
	locs, err := glyphLocations(tb)
	if err != nil {
		t.Fatal(err)
	}
	data := tb["glyf"][locs[g]:locs[g+1]]
	return len(data) >= 2 && int16(binary.BigEndian.Uint16(data)) < 0
}

func TestSubsetRefusals(t *testing.T) {
	f := mustFont(t)
	if _, err := f.Subset(map[uint16]bool{65535: true}, nil); err == nil {
		t.Error("a glyph past numGlyphs was accepted")
	}
	for _, bad := range [][]byte{nil, []byte("OTTO\x00\x01"), dejaVuSans[:100], append([]byte{0, 1, 0, 0, 0, 0}, make([]byte, 10)...)} {
		if _, err := Subset(bad, map[uint16]bool{1: true}, nil); err == nil {
			t.Errorf("Subset accepted %d bytes of non-font", len(bad))
		}
	}
}

// TestFontFileCompressed checks the FontFile2 stream of a form decodes to
// a font sfnt reads, with /Length1 its length.
func TestFontFileCompressed(t *testing.T) {
	m := &memPDF{}
	if _, err := (&Appearance{Lines: []string{"Đức"}}).Form(m, 100, 30, 0); err != nil {
		t.Fatal(err)
	}
	// The font file is the first object Form adds.
	st, ok := m.objs[0].(*pdf.Stream)
	if !ok {
		t.Fatalf("first object is %T, not the font file", m.objs[0])
	}
	zr, err := zlib.NewReader(bytes.NewReader(st.Data))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if l := st.Dict.Get("Length1"); l != pdf.Int(len(prog)) {
		t.Errorf("/Length1 %v, font program %d bytes", l, len(prog))
	}
	if _, err := sfnt.Parse(prog); err != nil {
		t.Fatalf("FontFile2: %v", err)
	}
}
