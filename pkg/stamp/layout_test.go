package stamp

import (
	"strings"
	"testing"
)

func mustFont(t *testing.T) *Font {
	t.Helper()
	f, err := DejaVuSans()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustShape(t *testing.T, f *Font, s string) *glyphRun {
	t.Helper()
	g, err := shape(f, s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestShapeNFC(t *testing.T) {
	f := mustFont(t)
	lines, err := cleanLines([]string{"  Nguye\u0302\u0303n\tVa\u0306n  ", "Đức\r\nký"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "|"); got != "Nguyễn Văn|Đức|ký" {
		t.Errorf("cleanLines = %q", got)
	}
	g := mustShape(t, f, lines[0])
	if len(g.gids) != len([]rune("Nguyễn Văn")) {
		t.Errorf("%d glyphs for %q: a precomposed letter is not one glyph", len(g.gids), lines[0])
	}
	for i, gid := range g.gids {
		if gid == 0 {
			t.Errorf("glyph %d (%q) is .notdef", i, g.runes[i])
		}
	}
}

func TestWrap(t *testing.T) {
	f := mustFont(t)
	g := mustShape(t, f, "Lý do: Tôi đồng ý với nội dung văn bản")
	for _, max := range []int{g.width, g.width - 1, g.width / 2, 3000, 1} {
		lines := wrap(g, max)
		var words []string
		for i, l := range lines {
			if l.width > max && len(l.runes) > 1 {
				t.Errorf("max %d: line %d %q is %d wide", max, i, l, l.width)
			}
			sum := 0
			for _, a := range l.adv {
				sum += a
			}
			if sum != l.width {
				t.Errorf("max %d: line %q width %d, advances sum to %d", max, l, l.width, sum)
			}
			words = append(words, l.String())
		}
		joined := strings.Join(words, " ")
		if max >= 3000 && joined != g.String() {
			t.Errorf("max %d: wrapped lines %q do not join back to %q", max, words, g)
		}
		if max == g.width && len(lines) != 1 {
			t.Errorf("a line exactly as wide as the box was wrapped: %q", words)
		}
		if max == 1 && strings.ReplaceAll(strings.Join(words, ""), " ", "") != strings.ReplaceAll(g.String(), " ", "") {
			t.Errorf("breaking inside words lost characters: %q", words)
		}
	}
}

func TestFit(t *testing.T) {
	f := mustFont(t)
	name := mustShape(t, f, "Ký bởi: NGUYỄN VĂN ĐỨC")
	date := mustShape(t, f, "Ngày ký: 10:15:00 23/11/2026 (GMT+7)")
	reason := mustShape(t, f, "Lý do: Tôi đồng ý với nội dung văn bản và chịu trách nhiệm")
	place := mustShape(t, f, "Nơi ký: Hà Nội")
	for _, c := range []struct {
		name      string
		w, h      float64
		lines     []*glyphRun
		size      float64 // want exactly, or 0
		minSize   float64
		nLines    int
		wantError bool
	}{
		{"roomy", 400, 200, []*glyphRun{name, date}, maxFontSize, 0, 2, false},
		{"short", 400, 30, []*glyphRun{name, date}, 0, readableSize, 2, false},
		// The reason does not fit unwrapped at a readable size in 150 pt:
		// it wraps rather than shrinking below 6 pt.
		{"wraps", 150, 200, []*glyphRun{name, date, reason}, 0, readableSize, 0, false},
		// Beside an image and a QR code the date line, zone and all, is
		// too long for a readable size: it wraps, and the name, which
		// fits whole at a readable size, stays one line.
		{"keeps the name whole", 100, 70, []*glyphRun{name, date, place}, 0, readableSize, 0, false},
		{"tiny", 30, 10, []*glyphRun{name, date, reason}, 0, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := fit(f, c.lines, c.w, c.h)
			if c.wantError {
				if err == nil || !strings.Contains(err.Error(), "does not fit") {
					t.Fatalf("fit: %v, want does not fit", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.size != 0 && b.size != c.size {
				t.Errorf("size %g, want %g", b.size, c.size)
			}
			if b.size < c.minSize || b.size > maxFontSize {
				t.Errorf("size %g outside [%g, %g]", b.size, c.minSize, maxFontSize)
			}
			if c.nLines != 0 && len(b.lines) != c.nLines {
				t.Errorf("%d lines, want %d", len(b.lines), c.nLines)
			}
			if b.height(f) > c.h {
				t.Errorf("block %g high in a %g box", b.height(f), c.h)
			}
			for _, l := range b.lines {
				if w := float64(l.width) * b.size / 1000; w > c.w {
					t.Errorf("line %q is %g wide in a %g box", l, w, c.w)
				}
			}
			if c.name == "wraps" && len(b.lines) <= 3 {
				t.Errorf("the long reason was not wrapped: %d lines at %g pt", len(b.lines), b.size)
			}
			if c.name == "keeps the name whole" && (b.lines[0].String() != name.String() || len(b.lines) <= 3) {
				t.Errorf("lines %q at %g pt: want the name whole on the first, the date wrapped", b.lines, b.size)
			}
		})
	}
}

// TestDrawLayout checks where the parts of a stamp land: all inside the
// box, QR on the right, text clear of it.
func TestDrawLayout(t *testing.T) {
	a := &Appearance{Lines: DefaultLines("Nguyễn Văn Đức", signedAt, nil, "Phê duyệt", ""), QRURL: "https://kyso.example.vn/v/1"}
	d, err := a.draw(260, 80)
	if err != nil {
		t.Fatal(err)
	}
	if d.qrS <= 0 || d.qrX+d.qrS > 260 || d.qrX < 130 {
		t.Errorf("QR square at x %g side %g in a 260-wide box", d.qrX, d.qrS)
	}
	for _, l := range d.text.lines {
		if right := d.textX + float64(l.width)*d.text.size/1000; right > d.qrX {
			t.Errorf("line %q ends at %g, over the QR code at %g", l, right, d.qrX)
		}
	}
	if d.textTop > 80 || d.textTop-d.text.height(d.font.f) < 0 {
		t.Errorf("text block from %g down %g leaves the box", d.textTop, d.text.height(d.font.f))
	}
	if len(d.text.lines) != 3 {
		t.Errorf("%d lines, want 3 unwrapped", len(d.text.lines))
	}
}
