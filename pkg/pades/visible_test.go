package pades

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pdf"
)

// multiPagePDF has three A4 pages: the first with text, the second blank
// with a CropBox 20 points in from the MediaBox, the third blank and
// turned by /Rotate 90.
func multiPagePDF() []byte {
	return buildClassic("1.7", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 6 0 R 7 0 R] /Count 3 /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		stream([]byte("BT /F1 24 Tf 72 720 Td (Page one) Tj ET"), true),
		fmt.Sprintf(helvetica, 8),
		"<< /Type /Page /Parent 2 0 R /CropBox [20 20 575 822] /Resources << >> >>",
		"<< /Type /Page /Parent 2 0 R /Rotate 90 /Resources << >> >>",
		helveticaDescriptor,
	}, id)
}

// fieldRectPDF has two blank A4 pages and an empty signature field with a
// /Rect on the second: merged with its widget, in the page's direct
// /Annots, or with a widget kid listed in an indirect /Annots.
func fieldRectPDF(merged bool) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R /Resources << >> >>",
	}
	if merged {
		objs = append(objs,
			"<< /Type /Page /Parent 2 0 R /Resources << >> /Annots [5 0 R] >>",
			"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [570 150 320 60] /F 4 /P 4 0 R >>")
	} else {
		objs = append(objs,
			"<< /Type /Page /Parent 2 0 R /Resources << >> /Annots 7 0 R >>",
			"<< /FT /Sig /T (Signature1) /Kids [6 0 R] >>",
			"<< /Type /Annot /Subtype /Widget /Parent 5 0 R /Rect [320 60 570 150] /F 4 /P 4 0 R >>",
			"[6 0 R]")
	}
	return buildClassic("1.7", objs, id)
}

// sealPNG is a red disc on a transparent background, like a seal.
func sealPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 120, 120))
	for y := range 120 {
		for x := range 120 {
			if d := math.Hypot(float64(x)-59.5, float64(y)-59.5); d < 58 && d > 40 || d < 20 {
				img.SetNRGBA(x, y, color.NRGBA{R: 200, G: 20, B: 20, A: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// signatureJPEG is a blue scribble on white, like a scanned signature.
func signatureJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 200, 80))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for x := 10; x < 190; x++ {
		y := 40 + int(25*math.Sin(float64(x)/12))
		for dy := -2; dy <= 2; dy++ {
			img.Set(x, y+dy, color.RGBA{B: 160, A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const (
	nameLine = "Ký bởi: NGUYỄN VĂN ĐỨC"
	// dateLine is signedAt in Vietnam's time, with its zone.
	dateLine = "Ngày ký: 10:15:00 23/11/2026 (GMT+7)"
	qrURL    = "https://kyso.example.vn/verify?doc=7f3a9c&sig=1"
)

// TestSignVisible signs visibly — P-256 and RSA, with and without image
// and QR code, on several inputs, on page 2 of three, on a rotated page,
// in an existing field with a /Rect — and has outside software look at
// the result: pdftotext gives the stamp's lines back exactly, pdffonts
// finds the embedded subset font with a ToUnicode map, pdftoppm's
// rendering is changed inside the stamp's rectangle and nowhere else,
// the QR code decodes (ZXing, ported to Go) to the URL, and pdfsig,
// qpdf, pdfcpu and pyHanko find the signature valid.
func TestSignVisible(t *testing.T) {
	f := getFixture(t)
	seal, scan := sealPNG(t), signatureJPEG(t)
	byName := map[string]input{}
	for _, in := range inputs() {
		byName[in.name] = in
	}
	multi := func(testing.TB) []byte { return multiPagePDF() }
	for _, c := range []struct {
		name  string
		in    func(t testing.TB) []byte
		key   string
		field string
		vis   Visible
		page  int        // where the stamp must land
		rect  [4]float64 // llx lly urx ury it must have
	}{
		{"classic-1.4/default", byName["classic-1.4"].make, "p256", "Signature1",
			Visible{}, 1, [4]float64{299, 36, 559, 116}},
		{"pdf-2.0/png-qr", byName["pdf-2.0"].make, "rsa2048", "Signature1",
			Visible{Rect: [4]float64{40, 40, 330, 100}, Image: seal, QRURL: qrURL}, 1, [4]float64{40, 40, 370, 140}},
		{"form-empty-sig/jpeg-qr", byName["form-empty-sig"].make, "p256", "Signature1",
			Visible{Image: scan, QRURL: qrURL}, 1, [4]float64{299, 36, 559, 116}},
		{"qpdf-objstm/qr", byName["qpdf-objstm"].make, "rsa2048", "Signature1",
			Visible{Rect: [4]float64{300, 400, 260, 90}, QRURL: qrURL}, 1, [4]float64{300, 400, 560, 490}},
		{"qpdf-linearized/rect", byName["qpdf-linearized"].make, "p256", "Signature1",
			Visible{Rect: [4]float64{72, 72, 250, 70}}, 1, [4]float64{72, 72, 322, 142}},
		{"multi-page/page-2", multi, "p256", "Signature1",
			Visible{Page: 2, Rect: [4]float64{100, 300, 300, 100}, Image: seal, QRURL: qrURL}, 2, [4]float64{100, 300, 400, 400}},
		{"multi-page/page-3-rotated", multi, "rsa2048", "Signature1",
			Visible{Page: 3}, 3, [4]float64{479, 546, 559, 806}},
		{"field-rect/widget-kid", func(testing.TB) []byte { return fieldRectPDF(false) }, "p256", "Signature1",
			Visible{}, 2, [4]float64{320, 60, 570, 150}},
		{"field-rect/merged-moved", func(testing.TB) []byte { return fieldRectPDF(true) }, "rsa2048", "Signature1",
			Visible{Page: 1, QRURL: qrURL}, 1, [4]float64{320, 60, 570, 150}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			orig := c.in(t)
			vis := c.vis
			vis.Signer = "Nguyễn Văn Đức"
			signed := signBytes(t, f, c.key, orig, &SignOptions{Options: Options{
				Reason: "Phê duyệt hồ sơ", Location: "Hà Nội", SigningTime: signedAt, Visible: &vis,
			}})
			var p string
			if c.name == "field-rect/widget-kid" {
				// poppler 22.12's pdfsig ("The signature form field is
				// not signed") and pdfcpu 0.11 ("formFieldDict required
				// entry=Rect missing") misread a signature field whose
				// widget is a kid of its own, even when pyHanko signs it;
				// pyHanko and qpdf read it right.
				p = writeTemp(t, "signed.pdf", signed)
				assertQpdf(t, p)
				assertPyhanko(t, f, p, 1)
			} else {
				p = checkAll(t, f, signed, 1)
			}
			page, rect, rotate := stampPlacement(t, signed, c.field)
			if page != c.page || !nearRect(rect, c.rect) {
				t.Errorf("stamp on page %d at %v, want page %d at %v", page, rect, c.page, c.rect)
			}
			assertStampText(t, p, page, nameLine, dateLine, "Lý do: Phê duyệt hồ sơ", "Nơi ký: Hà Nội")
			assertStampFont(t, p, page)
			assertRendering(t, writeTemp(t, "orig.pdf", orig), p, page, rect, rotate)
			if vis.QRURL != "" {
				if got := decodeQR(t, p, page, rect, rotate); got != vis.QRURL {
					t.Errorf("the QR code reads %q, want %q", got, vis.QRURL)
				}
			}
			if c.name == "field-rect/merged-moved" {
				// The widget left page 2's /Annots for page 1's.
				if out := pdftotext(t, p, 2); strings.Contains(out, "Ký bởi") {
					t.Errorf("page 2 still shows the stamp:\n%s", out)
				}
			}
		})
	}
}

// signedAt is the signing time the stamps show, held in UTC as on a UTC
// host: the stamp shows it in Vietnam's time all the same (dateLine).
var signedAt = time.Date(2026, 11, 23, 3, 15, 0, 0, time.UTC)

// cmsFor makes the CMS for a Prepared apart from Sign, as a remote signer
// would.
func cmsFor(t *testing.T, k *signerKey, f *fixture, p *Prepared) []byte {
	t.Helper()
	cp, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: k.cert, Chain: f.chain, ContentDigest: p.Digest, Hash: p.Hash})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.signer.Sign(nil, cp.Digest, cp.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := cp.Finish(sig)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestVisibleAfterInvisible adds a visible signature on page 2 after an
// invisible one: both stay valid for pdfsig and pyHanko, whose
// modification analysis accepts the new field, widget, font and image.
func TestVisibleAfterInvisible(t *testing.T) {
	f := getFixture(t)
	one := signBytes(t, f, "p256", multiPagePDF(), nil)
	// Visible.TimeZone changes the zone the stamp shows.
	two := signBytes(t, f, "rsa2048", one, &SignOptions{Options: Options{Name: "Trần Thị Bích Ngọc", SigningTime: signedAt,
		Visible: &Visible{Page: 2, Image: sealPNG(t), QRURL: qrURL, TimeZone: time.FixedZone("CET", 3600)}}})
	p := checkAll(t, f, two, 2)
	if out := runPyhanko(t, f, p); !strings.Contains(out, "appear to be compatible with the current document modification policy") {
		t.Errorf("pyHanko: the visible signature's update is not an allowed change:\n%s", out)
	}
	assertStampText(t, p, 2, "Ký bởi: TRẦN THỊ BÍCH NGỌC", "Ngày ký: 04:15:00 23/11/2026 (GMT+1)")
}

// TestVisibleTwoPhase prepares a visible signature, stores and restores
// the state, and embeds a CMS made apart: the stamp travels in the state.
func TestVisibleTwoPhase(t *testing.T) {
	f := getFixture(t)
	orig := formPDF()
	lines := []string{"Đã ký số bởi", "CÔNG TY TNHH KYSO VIỆT NAM", "Mã số thuế: 0101234567"}
	p, err := Prepare(bytes.NewReader(orig), int64(len(orig)), &Options{Visible: &Visible{Lines: lines, Image: signatureJPEG(t)}, SkipSignerCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	state, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q Prepared
	if err := q.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	k := f.keys["p256"]
	der := cmsFor(t, k, f, &q)
	var out bytes.Buffer
	if err := Embed(bytes.NewReader(orig), &q, der, &out); err != nil {
		t.Fatal(err)
	}
	path := checkAll(t, f, out.Bytes(), 1)
	assertStampText(t, path, 1, lines...)
}

// TestVisibleRefusals: a visible signature that cannot be made as asked
// is a *VisibleError that says why, and no PDF is written.
func TestVisibleRefusals(t *testing.T) {
	f := getFixture(t)
	k := f.keys["p256"]
	for _, c := range []struct {
		name string
		in   []byte
		vis  Visible
		want string
	}{
		{"no-page", minimalPDF("1.7", 0), Visible{Page: 2, Signer: "A"}, "page 2 does not exist: the document has 1 page"},
		{"negative-page", multiPagePDF(), Visible{Page: -1, Signer: "A"}, "page -1 does not exist: the document has 3 pages"},
		{"off-page", minimalPDF("1.7", 0), Visible{Rect: [4]float64{400, 10, 300, 80}, Signer: "A"}, "rectangle 400,10,300,80 (x, y, width, height) is not within page 1, whose visible area is 0,0,595,842"},
		{"outside-cropbox", multiPagePDF(), Visible{Page: 2, Rect: [4]float64{5, 5, 200, 60}, Signer: "A"}, "not within page 2, whose visible area is 20,20,555,802"},
		{"no-area", minimalPDF("1.7", 0), Visible{Rect: [4]float64{10, 10, 0, 50}, Signer: "A"}, "has no area"},
		{"nan", minimalPDF("1.7", 0), Visible{Rect: [4]float64{math.NaN(), 10, 10, 50}, Signer: "A"}, "not made of numbers"},
		{"too-small", minimalPDF("1.7", 0), Visible{Rect: [4]float64{10, 10, 30, 12}, Signer: "A"}, "stamp: "},
		{"bad-image", minimalPDF("1.7", 0), Visible{Signer: "A", Image: []byte("not an image")}, "stamp: image is not a JPEG or PNG"},
		{"bad-url", minimalPDF("1.7", 0), Visible{Signer: "A", QRURL: "kyso verify"}, "not an absolute URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Sign(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), &out, k.signer, k.cert, f.chain,
				&SignOptions{Options: Options{Visible: &c.vis, SkipSignerCheck: true}})
			var ve *VisibleError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "pades: visible signature: ") {
				t.Errorf("Sign: %v, want a *VisibleError with %q", err, c.want)
			}
			if out.Len() != 0 {
				t.Errorf("a refused signature wrote %d bytes", out.Len())
			}
		})
	}
	// Without a certificate to take the name from, Prepare needs one.
	in := minimalPDF("1.7", 0)
	_, err := Prepare(bytes.NewReader(in), int64(len(in)), &Options{Visible: &Visible{}})
	var ve *VisibleError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "no name for the stamp") {
		t.Errorf("Prepare with a nameless stamp: %v", err)
	}
}

// stampPlacement finds the widget of the signed field: the page it is
// on (by /Annots), its /Rect, and the page's /Rotate.
func stampPlacement(t *testing.T, signed []byte, field string) (int, [4]float64, int) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := rd.Pages()
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fields {
		if fl.Name != field || fl.Value == nil {
			continue
		}
		wref, wd := fl.Ref, fl.Dict
		if kids, ok := fl.Dict.Get("Kids").(pdf.Array); ok && len(kids) > 0 {
			wref = kids[0].(pdf.Ref)
			o, _ := rd.Resolve(wref)
			wd = o.(*pdf.Dict)
		}
		if f := wd.Get("F"); f != pdf.Int(4) {
			t.Errorf("widget /F %v, want 4 (print)", f)
		}
		ap, _ := wd.Get("AP").(*pdf.Dict)
		if _, ok := ap.Get("N").(pdf.Ref); !ok {
			t.Errorf("widget /AP %v has no /N stream", wd.Get("AP"))
		}
		r, err := rd.Rect(wd.Get("Rect"))
		if err != nil {
			t.Fatal(err)
		}
		on := 0
		for i, p := range pages {
			if has, _ := hasAnnot(rd, p, wref); has {
				if on != 0 {
					t.Errorf("the widget is in the /Annots of pages %d and %d", on, i+1)
				}
				on = i + 1
				if wd.Get("P") != p.Ref {
					t.Errorf("widget /P %v, but it is on page %d (%v)", wd.Get("P"), i+1, p.Ref)
				}
			}
		}
		if on == 0 {
			t.Fatal("the widget is in no page's /Annots")
		}
		return on, r, pages[on-1].Rotate
	}
	t.Fatalf("no signed field %q", field)
	return 0, [4]float64{}, 0
}

func nearRect(a, b [4]float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > 0.01 {
			return false
		}
	}
	return true
}

func pdftotext(t *testing.T, path string, page int) string {
	t.Helper()
	bin := testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	n := strconv.Itoa(page)
	out, errOut, err := testenv.Run(exec.Command(bin, "-f", n, "-l", n, "-enc", "UTF-8", path, "-"))
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s\nstderr: %s", err, out, errOut)
	}
	return out
}

// assertStampText asserts that pdftotext finds each of lines, exactly, as
// a line of the page's text.
func assertStampText(t *testing.T, path string, page int, lines ...string) {
	t.Helper()
	out := pdftotext(t, path, page)
	var got []string
	for _, l := range strings.Split(out, "\n") {
		got = append(got, strings.TrimSpace(l))
	}
	for _, l := range lines {
		if !hasLine(got, l) {
			t.Errorf("pdftotext -f %d -l %d lacks the line %q:\n%s", page, page, l, out)
		}
	}
}

// hasLine reports whether want is one of got, or a run of them joined by
// spaces: a line the stamp wrapped to fit beside an image and a QR code.
func hasLine(got []string, want string) bool {
	for i := range got {
		joined := got[i]
		for j := i + 1; joined != want && len(joined) < len(want) && j < len(got); j++ {
			joined += " " + got[j]
		}
		if joined == want {
			return true
		}
	}
	return false
}

// pdffontsRow is pdffonts' line for the stamp font: a six-letter subset
// tag, CID TrueType, Identity-H, emb yes, sub yes, uni yes.
var pdffontsRow = regexp.MustCompile(`(?m)^[A-Z]{6}\+DejaVuSans\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes\s`)

func assertStampFont(t *testing.T, path string, page int) {
	t.Helper()
	bin := testenv.LookPath(t, "pdffonts", "apt-get install poppler-utils")
	n := strconv.Itoa(page)
	out, errOut, err := testenv.Run(exec.Command(bin, "-f", n, "-l", n, path))
	if err != nil {
		t.Fatalf("pdffonts: %v\n%s\nstderr: %s", err, out, errOut)
	}
	if !pdffontsRow.MatchString(out) {
		t.Errorf("pdffonts -f %d -l %d lists no embedded subset DejaVuSans with ToUnicode:\n%s\nstderr: %s", page, page, out, errOut)
	}
}

// render has pdftoppm draw one page as PNG at dpi, optionally cropped to
// the pixel rectangle crop (x, y, w, h; nil for the whole page).
func render(t *testing.T, path string, page, dpi int, crop []int) image.Image {
	t.Helper()
	bin := testenv.LookPath(t, "pdftoppm", "apt-get install poppler-utils")
	n := strconv.Itoa(page)
	prefix := filepath.Join(t.TempDir(), "page")
	args := []string{"-f", n, "-l", n, "-r", strconv.Itoa(dpi), "-png", "-singlefile"}
	if crop != nil {
		args = append(args, "-x", strconv.Itoa(crop[0]), "-y", strconv.Itoa(crop[1]), "-W", strconv.Itoa(crop[2]), "-H", strconv.Itoa(crop[3]))
	}
	if out, err := exec.Command(bin, append(args, path, prefix)...).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	b, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding pdftoppm's PNG: %v", err)
	}
	return img
}

// pixelRect maps a rectangle in the default user space of an A4 page
// (595 × 842 points, MediaBox at the origin) to pixels of its rendering
// at dpi, turned by rotate (0 or 90): x0, y0, x1, y1 from the top left.
func pixelRect(r [4]float64, rotate, dpi int) [4]float64 {
	s := float64(dpi) / 72
	if rotate == 90 { // the page turned clockwise: user y runs right, user x down
		return [4]float64{r[1] * s, r[0] * s, r[3] * s, r[2] * s}
	}
	return [4]float64{r[0] * s, (842 - r[3]) * s, r[2] * s, (842 - r[1]) * s}
}

// assertRendering renders the page before and after signing at 72 dpi:
// inside the stamp's rectangle there is ink, outside it (past a pixel of
// anti-aliasing) not one pixel changed.
func assertRendering(t *testing.T, origPath, signedPath string, page int, rect [4]float64, rotate int) {
	t.Helper()
	before := render(t, origPath, page, 72, nil)
	after := render(t, signedPath, page, 72, nil)
	if before.Bounds() != after.Bounds() {
		t.Fatalf("renderings differ in size: %v, %v", before.Bounds(), after.Bounds())
	}
	px := pixelRect(rect, rotate, 72)
	ink, inside, changed := 0, 0, 0
	b := after.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			in := fx > px[0]+1 && fx < px[2]-1 && fy > px[1]+1 && fy < px[3]-1
			near := fx > px[0]-2 && fx < px[2]+2 && fy > px[1]-2 && fy < px[3]+2
			r1, g1, b1, _ := before.At(x, y).RGBA()
			r2, g2, b2, _ := after.At(x, y).RGBA()
			if in {
				inside++
				if r2 < 0xc000 || g2 < 0xc000 || b2 < 0xc000 {
					ink++
				}
			} else if !near && (r1 != r2 || g1 != g2 || b1 != b2) {
				changed++
			}
		}
	}
	if inside == 0 || ink < inside/100 {
		t.Errorf("the stamp's %d pixels hold %d of ink: nothing drawn there", inside, ink)
	}
	if changed != 0 {
		t.Errorf("%d pixels changed outside the stamp's rectangle %v", changed, px)
	}
}

// decodeQR renders the stamp at 288 dpi and decodes the QR code in it.
func decodeQR(t *testing.T, path string, page int, rect [4]float64, rotate int) string {
	t.Helper()
	px := pixelRect(rect, rotate, 288)
	img := render(t, path, page, 288, []int{int(px[0]), int(px[1]), int(px[2] - px[0]), int(px[3] - px[1])})
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Errorf("no QR code found in the stamp: %v", err)
		return ""
	}
	return res.GetText()
}
