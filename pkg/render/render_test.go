package render_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/render"
)

// opts are the test renderer's bounds: tight enough that every hostile
// document below meets one, loose enough for a page of A4 at 144 dpi.
var opts = render.Options{
	Workers:        2,
	MaxPDFBytes:    1 << 20,
	MaxPages:       10,
	MaxPixels:      2_500_000,
	MaxMemoryBytes: 256 << 20,
	Timeout:        3 * time.Second,
}

// renderer is one Renderer for the test binary: compiling PDFium's module
// is the slow part, paid once.
var renderer = sync.OnceValues(func() (*render.Renderer, error) {
	return render.New(context.Background(), &opts)
})

func newRenderer(t testing.TB) *render.Renderer {
	t.Helper()
	r, err := renderer()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// a4 is the width in pixels of a page of A4 (595 × 842 points) at 144
// dpi, as pdftoppm -r 144 draws it: 1190 × 1684.
const a4 = 1190

// poppler renders page 1 of pdf with pdftoppm -png -r 144, poppler's
// renderer, as the outside reference.
func poppler(t *testing.T, pdf []byte) image.Image {
	t.Helper()
	pdftoppm := testenv.LookPath(t, "pdftoppm", "apt-get install poppler-utils")
	// Without a font metric-compatible with Helvetica, poppler falls
	// back to a wider one (DejaVu Sans) and its lines of text drift away
	// from PDFium's.
	fcMatch := testenv.LookPath(t, "fc-match", "apt-get install fontconfig")
	if family, _, _ := testenv.Run(exec.Command(fcMatch, "-f", "%{family}", "Helvetica")); !strings.Contains(family, "Nimbus Sans") {
		testenv.Missing(t, "poppler would draw Helvetica with %q, not Nimbus Sans: apt-get install fonts-urw-base35", family)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if o, e, err := testenv.Run(exec.Command(pdftoppm, "-png", "-r", "144", "-f", "1", "-l", "1", "-singlefile", in, filepath.Join(dir, "out"))); err != nil {
		t.Fatalf("pdftoppm: %v\n%s\nstderr: %s", err, o, e)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out.png"))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, b)
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// gray is a pixel's luminance, 0 (black) to 255 (white).
func gray(img image.Image, x, y int) float64 {
	r, g, b, _ := img.At(x, y).RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 257
}

// diff compares a and b, of one size, over the rectangle in: the mean
// per-pixel difference in luminance (0–255), and the share of 8 × 8
// blocks whose mean luminance differs by more than 24 — where one image
// has ink the other lacks, not where two rasterisers anti-alias a glyph's
// edge differently.
func diff(a, b image.Image, in image.Rectangle) (mean, blocks float64) {
	var sum float64
	var n, bad, nb int
	for by := in.Min.Y; by+8 <= in.Max.Y; by += 8 {
		for bx := in.Min.X; bx+8 <= in.Max.X; bx += 8 {
			var sa, sb float64
			for y := by; y < by+8; y++ {
				for x := bx; x < bx+8; x++ {
					ga, gb := gray(a, x, y), gray(b, x, y)
					sa, sb = sa+ga, sb+gb
					d := ga - gb
					if d < 0 {
						d = -d
					}
					sum += d
					n++
				}
			}
			if d := (sa - sb) / 64; d > 24 || d < -24 {
				bad++
			}
			nb++
		}
	}
	return sum / float64(n), float64(bad) / float64(nb)
}

// Thresholds of agreement with poppler. Two rasterisers draw one page
// with different anti-aliasing and, for the standard font Helvetica,
// different but metric-compatible fonts (PDFium's built-in Foxit Sans,
// poppler's Nimbus Sans from fonts-urw-base35), so glyphs stand at the
// same places and only their edges differ by a few grey levels: measured,
// a mean of 0.10–0.38 (of 255) and at most 0.05% of 8 × 8 blocks apart.
// The same page drawn without its line of text or without its stamp
// differs by a mean of 0.9 and in over 1% of blocks: the controls below
// check that they fail, so the thresholds, set between, can.
const (
	maxMean   = 0.6
	maxBlocks = 0.002
)

// signed signs pdf with a throwaway self-signed key, with a visible stamp
// of pkg/stamp at the default place: DefaultStampWidth ×
// DefaultStampHeight points at the bottom right, 36 points from the edges.
func signed(t *testing.T, pdf []byte) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "NGUYEN VAN DUC"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), &out, key, cert, nil, &pades.SignOptions{
		Options: pades.Options{SkipSignerCheck: true, Visible: &pades.Visible{Signer: "Nguyễn Văn Đức"}}}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// stampRect is the default stamp's place on a page of A4 at 144 dpi, in
// pixels from the top left.
func stampRect() image.Rectangle {
	x := (595 - 36 - pades.DefaultStampWidth) * 2
	y := (842 - 36 - pades.DefaultStampHeight) * 2
	return image.Rect(int(x), int(y), int(x+2*pades.DefaultStampWidth), int(y+2*pades.DefaultStampHeight))
}

func TestPageAgreesWithPoppler(t *testing.T) {
	r := newRenderer(t)
	ctx := context.Background()
	text := testpdf.Minimal("DON DE NGHI CAP BAN SAO - Ho va ten: Nguyen Van Duc")
	stamped := signed(t, text)
	rotated := testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] /Rotate 90 /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		testpdf.Helvetica,
		testpdf.Stream("BT /F1 24 Tf 72 500 Td (Turned a quarter) Tj ET 0 0 1 rg 600 100 150 200 re f"))
	for _, c := range []struct {
		name string
		pdf  []byte
	}{
		{"text", text},
		{"form", testpdf.Form()},
		{"visible signature", stamped},
		{"landscape page turned by /Rotate", rotated},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := r.Page(ctx, c.pdf, 1, a4)
			if err != nil {
				t.Fatal(err)
			}
			got, want := decode(t, b), poppler(t, c.pdf)
			if got.Bounds() != want.Bounds() {
				t.Fatalf("PDFium drew %v, poppler %v", got.Bounds(), want.Bounds())
			}
			mean, blocks := diff(got, want, got.Bounds())
			t.Logf("mean difference %.3f of 255, %.4f of blocks differ", mean, blocks)
			if mean > maxMean || blocks > maxBlocks {
				save(t, c.name, b)
				t.Errorf("PDFium's page differs from poppler's: mean %.3f (max %v), blocks %.4f (max %v)", mean, maxMean, blocks, maxBlocks)
			}
		})
	}

	t.Run("controls", func(t *testing.T) {
		// The comparison must see a missing line of text and a missing
		// stamp, or its passing proves nothing.
		b, err := r.Page(ctx, testpdf.Minimal(""), 1, a4)
		if err != nil {
			t.Fatal(err)
		}
		blank := decode(t, b)
		mean, blocks := diff(blank, poppler(t, text), blank.Bounds())
		t.Logf("blank against text: mean %.3f, blocks %.4f", mean, blocks)
		if mean <= maxMean && blocks <= maxBlocks {
			t.Errorf("a blank page passes for the page of text: mean %.3f, blocks %.4f", mean, blocks)
		}
		b, err = r.Page(ctx, text, 1, a4)
		if err != nil {
			t.Fatal(err)
		}
		unsigned := decode(t, b)
		mean, blocks = diff(unsigned, poppler(t, stamped), unsigned.Bounds())
		t.Logf("unsigned against signed: mean %.3f, blocks %.4f", mean, blocks)
		if mean <= maxMean && blocks <= maxBlocks {
			t.Errorf("the page without its stamp passes for the signed page: mean %.3f, blocks %.4f", mean, blocks)
		}
	})

	t.Run("the stamp is drawn where it is", func(t *testing.T) {
		b, err := r.Page(ctx, text, 1, a4)
		if err != nil {
			t.Fatal(err)
		}
		unsigned := decode(t, b)
		b, err = r.Page(ctx, stamped, 1, a4)
		if err != nil {
			t.Fatal(err)
		}
		withStamp := decode(t, b)
		in := stampRect()
		_, inside := diff(unsigned, withStamp, in)
		if inside < 0.05 {
			save(t, "stamp", b)
			t.Errorf("the stamp's rectangle %v is the same with and without the stamp: %.4f of its blocks differ", in, inside)
		}
		// Outside the stamp (and its anti-aliased edge) the pages agree.
		out := withStamp.Bounds()
		out.Max.Y = in.Min.Y - 8
		if mean, blocks := diff(unsigned, withStamp, out); mean > 0.01 || blocks > 0 {
			t.Errorf("above the stamp the signed page differs from the unsigned: mean %.3f, blocks %.4f", mean, blocks)
		}
	})
}

// save keeps a failing render where it can be looked at.
func save(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("KYSO_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, "render-"+strings.ReplaceAll(name, " ", "-")+".png")
	if err := os.WriteFile(p, b, 0o600); err == nil {
		t.Logf("render saved as %s", p)
	}
}

func TestPageCount(t *testing.T) {
	r := newRenderer(t)
	n, err := r.PageCount(context.Background(), pages(3))
	if err != nil || n != 3 {
		t.Errorf("PageCount = %d, %v; want 3", n, err)
	}
	if _, err := r.Page(context.Background(), pages(3), 4, 100); !errors.Is(err, render.ErrNoPage) {
		t.Errorf("page 4 of 3: %v, want ErrNoPage", err)
	}
	if _, err := r.Page(context.Background(), pages(3), 0, 100); !errors.Is(err, render.ErrNoPage) {
		t.Errorf("page 0: %v, want ErrNoPage", err)
	}
}

// pages is a PDF of n blank pages of A4.
func pages(n int) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	var kids []string
	for i := range n {
		kids = append(kids, fmt.Sprintf("%d 0 R", i+3))
		objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
	return testpdf.Objects(objs...)
}

// flate is a stream object holding data compressed with FlateDecode.
func flate(dict, data string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(data))
	w.Close()
	return fmt.Sprintf("<< %s /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", dict, b.Len(), b.Bytes())
}

// page is a one-page PDF whose page has the given MediaBox and content.
func page(mediaBox, content string) []byte {
	return testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox ["+mediaBox+"] /Contents 4 0 R >>",
		flate("", content))
}

// TestHostile feeds documents built to hang PDFium or eat memory, and
// asserts each ends in the error of the bound it meets, with the renderer
// working afterwards.
func TestHostile(t *testing.T) {
	r := newRenderer(t)
	ctx := context.Background()
	nested := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	cases := []struct {
		name string
		pdf  []byte
		want error
	}{
		{"over MaxPDFBytes", append(testpdf.Minimal(""), make([]byte, opts.MaxPDFBytes)...), render.ErrTooLarge},
		{"more pages than MaxPages", pages(opts.MaxPages + 1), render.ErrTooManyPages},
		{"a page tree that lies about its count", testpdf.Objects(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R 3 0 R] /Count 2147483647 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"), render.ErrTooManyPages},
		{"a page 14,400 times taller than wide", page("0 0 1 14400", ""), render.ErrTooManyPixels},
		{"not a PDF", []byte("%PDF-1.7\nthis is not a PDF at all\n%%EOF\n"), render.ErrUnreadable},
		{"empty", nil, render.ErrUnreadable},
		{"a hundred thousand nested arrays", testpdf.Objects(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Nested "+nested+" >>"), nil},
		{"a content stream of nested q", page("0 0 595 842", strings.Repeat("q ", 200_000)+"0 0 100 100 re f"), nil},
		// A million full-page fills, 20 KB compressed: minutes of work.
		{"a million fills", page("0 0 595 842", strings.Repeat("0 0 595 842 re f 1 1 0 rg 0 0 595 842 re f 0 0 1 rg ", 500_000)), render.ErrTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := r.Page(ctx, c.pdf, 1, 1000)
			elapsed := time.Since(start)
			t.Logf("%v after %v", err, elapsed.Round(time.Millisecond))
			switch {
			case c.want == nil && err != nil && !errors.Is(err, render.ErrUnreadable) && !errors.Is(err, render.ErrRender):
				// A document PDFium can read in part may render or
				// fail as unreadable; nothing else.
				t.Errorf("got %v, want a page or ErrUnreadable or ErrRender", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("got %v, want %v", err, c.want)
			}
			// Not a measure of speed: a call that ignored its Timeout
			// would run for minutes, past this bound.
			if elapsed > 3*opts.Timeout {
				t.Errorf("the call took %v, over three times the Timeout of %v", elapsed, opts.Timeout)
			}
		})
	}
	t.Run("still renders afterwards", func(t *testing.T) {
		if _, err := r.Page(ctx, testpdf.Minimal("after"), 1, 200); err != nil {
			t.Errorf("after the hostile documents: %v", err)
		}
	})
	t.Run("a width over MaxPixels", func(t *testing.T) {
		if _, err := r.Page(ctx, testpdf.Minimal(""), 1, opts.MaxPixels+1); !errors.Is(err, render.ErrTooManyPixels) {
			t.Errorf("got %v, want ErrTooManyPixels", err)
		}
	})
	t.Run("an ended context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := r.Page(ctx, testpdf.Minimal(""), 1, 100); !errors.Is(err, render.ErrTimeout) || !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want ErrTimeout and context.Canceled", err)
		}
	})
}

// BenchmarkPage renders testpdf's form (text and a filled field), 1190
// pixels wide (A4 at 144 dpi): instantiating a sandbox, opening the
// document, drawing and encoding the PNG.
func BenchmarkPage(b *testing.B) {
	r := newRenderer(b)
	pdf := testpdf.Form()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Page(context.Background(), pdf, 1, a4); err != nil {
			b.Fatal(err)
		}
	}
}

func TestClosed(t *testing.T) {
	r, err := render.New(context.Background(), &render.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PageCount(context.Background(), testpdf.Minimal("")); !errors.Is(err, render.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
