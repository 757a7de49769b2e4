package stamp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/pdf"
)

// memPDF collects objects for a whole PDF written in one go: object 1 the
// catalog, 2 the page tree, 3 the page, 4 its content; the rest added.
type memPDF struct{ objs []pdf.Object }

func (m *memPDF) Add(obj pdf.Object) pdf.Ref {
	m.objs = append(m.objs, obj)
	return pdf.Ref{Num: len(m.objs)}
}

// pagePDF returns a one-page PDF (A4, /Rotate rotate) that draws the form
// XObject of a at x, y, its size w × h on the displayed page.
func pagePDF(t *testing.T, a *Appearance, x, y, w, h float64, rotate int) []byte {
	t.Helper()
	m := &memPDF{}
	for range 4 {
		m.Add(pdf.Null{})
	}
	form, err := a.Form(m, w, h, rotate)
	if err != nil {
		t.Fatalf("Form: %v", err)
	}
	cat := pdf.NewDict()
	cat.Set("Type", pdf.Name("Catalog"))
	cat.Set("Pages", pdf.Ref{Num: 2})
	m.objs[0] = cat
	pages := pdf.NewDict()
	pages.Set("Type", pdf.Name("Pages"))
	pages.Set("Kids", pdf.Array{pdf.Ref{Num: 3}})
	pages.Set("Count", pdf.Int(1))
	m.objs[1] = pages
	page := pdf.NewDict()
	page.Set("Type", pdf.Name("Page"))
	page.Set("Parent", pdf.Ref{Num: 2})
	page.Set("MediaBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(595), pdf.Int(842)})
	if rotate != 0 {
		page.Set("Rotate", pdf.Int(rotate))
	}
	xo := pdf.NewDict()
	xo.Set("S", form)
	res := pdf.NewDict()
	res.Set("XObject", xo)
	page.Set("Resources", res)
	page.Set("Contents", pdf.Ref{Num: 4})
	m.objs[2] = page
	// A viewer maps the form's BBox, transformed by its /Matrix, onto the
	// widget's rectangle (ISO 32000-2 §12.5.5, algorithm 12.1): here a
	// translation, since the rotation is in the form's /Matrix.
	tx, ty := x, y
	switch rotate {
	case 90:
		tx = x + w
	case 180:
		tx, ty = x+w, y+h
	case 270:
		ty = y + h
	}
	cm := fmt.Sprintf("1 0 0 1 %s %s", num(tx), num(ty))
	m.objs[3] = &pdf.Stream{Dict: pdf.NewDict(), Data: []byte("q " + cm + " cm /S Do Q")}

	var b []byte
	b = append(b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"...)
	offs := make([]int, len(m.objs))
	for i, o := range m.objs {
		offs[i] = len(b)
		b = fmt.Appendf(b, "%d 0 obj\n", i+1)
		if b, err = pdf.AppendObject(b, o); err != nil {
			t.Fatal(err)
		}
		b = append(b, "\nendobj\n"...)
	}
	xref := len(b)
	b = fmt.Appendf(b, "xref\n0 %d\n0000000000 65535 f\r\n", len(m.objs)+1)
	for _, o := range offs {
		b = fmt.Appendf(b, "%010d 00000 n\r\n", o)
	}
	b = fmt.Appendf(b, "trailer\n<< /Size %d /Root 1 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>] >>\nstartxref\n%d\n%%%%EOF\n", len(m.objs)+1, xref)
	return b
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var ict = time.FixedZone("ICT", 7*3600)

var signedAt = time.Date(2026, 11, 23, 10, 15, 0, 0, ict)

func TestDefaultLines(t *testing.T) {
	// Fixed zones, so the test does not depend on the host's TZ or its
	// time zone database.
	newYork := time.FixedZone("EST", -5*3600)
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		name   string
		t      time.Time
		zone   *time.Location
		reason string
		place  string
		want   []string
	}{
		// The same moment as a UTC host and a New York host hold it: the
		// stamp shows Vietnam's time, and says so.
		{"held in UTC", signedAt.UTC(), nil, "", "", []string{"Ký bởi: NGUYỄN VĂN ĐỨC", "Ngày ký: 10:15:00 23/11/2026 (GMT+7)"}},
		{"held in New York time", signedAt.In(newYork), nil, "", "", []string{"Ký bởi: NGUYỄN VĂN ĐỨC", "Ngày ký: 10:15:00 23/11/2026 (GMT+7)"}},
		{"reason and place", signedAt, nil, "Phê duyệt", "Hà Nội",
			[]string{"Ký bởi: NGUYỄN VĂN ĐỨC", "Ngày ký: 10:15:00 23/11/2026 (GMT+7)", "Lý do: Phê duyệt", "Nơi ký: Hà Nội"}},
		{"another zone asked", signedAt, paris, "", "", []string{"Ký bởi: NGUYỄN VĂN ĐỨC", "Ngày ký: 04:15:00 23/11/2026 (GMT+1)"}},
		{"UTC asked", signedAt, time.UTC, "", "", []string{"Ký bởi: NGUYỄN VĂN ĐỨC", "Ngày ký: 03:15:00 23/11/2026 (GMT)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := DefaultLines(" Nguyễn Văn Đức ", c.t, c.zone, c.reason, c.place)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("DefaultLines = %q, want %q", got, c.want)
			}
		})
	}
}

// TestFormOutside draws stamps on a page and asks poppler what it sees:
// pdftotext gives the lines back exactly, pdffonts finds an embedded
// subset font with a ToUnicode map, qpdf finds nothing wrong.
func TestFormOutside(t *testing.T) {
	pdftotext := testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	pdffonts := testenv.LookPath(t, "pdffonts", "apt-get install poppler-utils")
	// "Nguyễn" decomposed (NFD): the stamp must still show one letter.
	nfd := "Nguye\u0302\u0303n Va\u0306n \u0110u\u031b\u0301c"
	lines := DefaultLines(nfd, signedAt, nil, "Tôi đồng ý với nội dung văn bản", "Thành phố Hồ Chí Minh")
	for _, rotate := range []int{0, 90, 180, 270} {
		t.Run(fmt.Sprint(rotate), func(t *testing.T) {
			a := &Appearance{Lines: lines, QRURL: "https://kyso.example.vn/verify?id=42"}
			w, h := 300.0, 90.0
			if rotate == 90 || rotate == 270 {
				w, h = h, w
			}
			p := writeTemp(t, "stamp.pdf", pagePDF(t, a, 100, 100, w, h, rotate))
			out, errOut, err := testenv.Run(exec.Command(pdftotext, "-enc", "UTF-8", p, "-"))
			if err != nil {
				t.Fatalf("pdftotext: %v\n%s\nstderr: %s", err, out, errOut)
			}
			got := map[string]bool{}
			for _, l := range strings.Split(out, "\n") {
				got[strings.TrimSpace(l)] = true
			}
			for _, l := range []string{"Ký bởi: NGUYỄN VĂN ĐỨC", "Ngày ký: 10:15:00 23/11/2026 (GMT+7)", "Nơi ký: Thành phố Hồ Chí Minh"} {
				if !got[l] {
					t.Errorf("pdftotext lacks the line %q:\n%s", l, out)
				}
			}
			out, errOut, err = testenv.Run(exec.Command(pdffonts, p))
			if err != nil {
				t.Fatalf("pdffonts: %v\n%s\nstderr: %s", err, out, errOut)
			}
			assertSubsetFont(t, out)
			testenv.CheckQpdf(t, p)
		})
	}
}

// pdffontsRow matches pdffonts' line for the stamp font: name with a
// six-letter tag, type, encoding, emb, sub, uni.
var pdffontsRow = regexp.MustCompile(`(?m)^[A-Z]{6}\+DejaVuSans\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes\s`)

func assertSubsetFont(t *testing.T, out string) {
	t.Helper()
	if !pdffontsRow.MatchString(out) {
		t.Errorf("pdffonts does not list an embedded (emb), subset (sub), ToUnicode (uni) DejaVuSans:\n%s", out)
	}
}

func TestFormImages(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := range 40 {
			img.Set(x, y, color.NRGBA{R: 200, A: uint8(6 * x)})
		}
	}
	var pngAlpha, pngOpaque, jpg bytes.Buffer
	png.Encode(&pngAlpha, img)
	opaque := image.NewRGBA(image.Rect(0, 0, 30, 30))
	for i := range opaque.Pix {
		opaque.Pix[i] = 0xff
		if i%4 == 1 {
			opaque.Pix[i] = 0x80
		}
	}
	png.Encode(&pngOpaque, opaque)
	jpeg.Encode(&jpg, opaque, nil)
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	var jpgGray bytes.Buffer
	jpeg.Encode(&jpgGray, gray, nil)
	for _, c := range []struct {
		name   string
		data   []byte
		filter string
		cs     string
		smask  bool
	}{
		{"png-alpha", pngAlpha.Bytes(), "FlateDecode", "DeviceRGB", true},
		{"png-opaque", pngOpaque.Bytes(), "FlateDecode", "DeviceRGB", false},
		{"jpeg", jpg.Bytes(), "DCTDecode", "DeviceRGB", false},
		{"jpeg-gray", jpgGray.Bytes(), "DCTDecode", "DeviceGray", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			si, err := loadImage(c.data)
			if err != nil {
				t.Fatal(err)
			}
			d := si.xobj.Dict
			if d.Get("Filter") != pdf.Name(c.filter) || d.Get("ColorSpace") != pdf.Name(c.cs) || (si.smask != nil) != c.smask {
				t.Errorf("image XObject %v %v smask %v, want %s %s smask %v", d.Get("Filter"), d.Get("ColorSpace"), si.smask != nil, c.filter, c.cs, c.smask)
			}
			if c.filter == "DCTDecode" && !bytes.Equal(si.xobj.Data, c.data) {
				t.Error("a JPEG was not embedded as it is")
			}
			m := &memPDF{}
			if _, err := (&Appearance{Lines: []string{"Ký bởi: A"}, Image: c.data}).Form(m, 200, 60, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"garbage", []byte("GIF89a not really"), "not a JPEG or PNG"},
		{"truncated-png", pngOpaque.Bytes()[:60], "image"},
		{"too-many-bytes", make([]byte, MaxImageBytes+1), "more than"},
		{"too-many-pixels", hugePNG(t), "scale it down"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &memPDF{}
			_, err := (&Appearance{Lines: []string{"x"}, Image: c.data}).Form(m, 200, 60, 0)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "stamp: ") {
				t.Errorf("Form: %v, want %q", err, c.want)
			}
			if len(m.objs) != 0 {
				t.Errorf("a failed Form added %d objects", len(m.objs))
			}
		})
	}
}

// hugePNG is a small file of a paletted image past MaxImagePixels.
func hugePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 4096, 1025), color.Palette{color.White})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFormRefusals(t *testing.T) {
	long := strings.Repeat("x", MaxLineRunes+1)
	for _, c := range []struct {
		a    Appearance
		w, h float64
		want string
	}{
		{Appearance{}, 200, 60, "no text"},
		{Appearance{Lines: []string{" ", ""}}, 200, 60, "no text"},
		{Appearance{Lines: make([]string, MaxLines+1)}, 200, 60, "more than"},
		{Appearance{Lines: []string{long}}, 200, 60, "characters, more than"},
		{Appearance{Lines: []string{"a\x00b"}}, 200, 60, "control character"},
		{Appearance{Lines: []string{"漢字"}}, 200, 60, "no glyph for U+6F22"},
		{Appearance{Lines: []string{"x"}}, 0, 60, "not a positive size"},
		{Appearance{Lines: []string{"x"}}, 8, 8, "too small"},
		{Appearance{Lines: strings.Split(strings.Repeat("Ký bởi: NGUYỄN VĂN ĐỨC\n", 8), "\n")[:8]}, 60, 20, "does not fit"},
		{Appearance{Lines: []string{"x"}, QRURL: "not a url"}, 200, 60, "not an absolute URL"},
		{Appearance{Lines: []string{"x"}, QRURL: "https://e.vn/" + strings.Repeat("a", MaxQRLen)}, 200, 60, "more than"},
		{Appearance{Lines: []string{"x"}, QRURL: "https://e.vn/v"}, 40, 60, "no room for the text"},
	} {
		m := &memPDF{}
		_, err := c.a.Form(m, c.w, c.h, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "stamp: ") {
			t.Errorf("Form(%.40q, %g×%g): %v, want %q", c.a.Lines, c.w, c.h, err, c.want)
		}
	}
}

// streamAt returns object i of m (0-based), which must be a stream.
func streamAt(t *testing.T, m *memPDF, i int) *pdf.Stream {
	t.Helper()
	st, ok := m.objs[i].(*pdf.Stream)
	if !ok {
		t.Fatalf("object %d is %T, not a stream", i+1, m.objs[i])
	}
	return st
}
