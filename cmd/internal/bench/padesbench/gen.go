package padesbench

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Size is one input document of the bench.
type Size struct {
	// Name is how it is given to --sizes: "1page", "10MB", "100MB".
	Name string `json:"name"`
	// Target is the file size aimed at, in bytes; zero for the one-page
	// document, which is as small as a one-page letter is.
	Target int64 `json:"target_bytes"`
}

// DefaultSizes are the three documents of the issue.
var DefaultSizes = []Size{{Name: "1page"}, {Name: "10MB", Target: 10 << 20}, {Name: "100MB", Target: 100 << 20}}

// ParseSizes parses a comma-separated list of sizes: "1page", or N followed
// by KB or MB (binary units: 10MB is 10 MiB).
func ParseSizes(s string) ([]Size, error) {
	var out []Size
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, "1page") {
			out = append(out, Size{Name: "1page"})
			continue
		}
		num, shift := f, 0
		switch u := strings.ToUpper(f); {
		case strings.HasSuffix(u, "MB"):
			num, shift = f[:len(f)-2], 20
		case strings.HasSuffix(u, "KB"):
			num, shift = f[:len(f)-2], 10
		default:
			return nil, fmt.Errorf("padesbench: size %q is not 1page, NKB or NMB", f)
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 1 || n > 4<<10 {
			return nil, fmt.Errorf("padesbench: size %q is not 1page, NKB or NMB (1 ≤ N ≤ 4096)", f)
		}
		if n<<shift < 64<<10 {
			return nil, fmt.Errorf("padesbench: size %q is smaller than one scanned page (64KB); use 1page", f)
		}
		out = append(out, Size{Name: f, Target: n << shift})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("padesbench: no size in %q", s)
	}
	return out, nil
}

// Generation parameters of the scanned-page documents: A4 at 150 dpi,
// grey, JPEG quality 75 — a scanner's defaults — in a few page variants.
const (
	scanWidth, scanHeight = 1240, 1754
	scanQuality           = 75
	scanVariants          = 4
)

// WritePDF writes the document of size z to path, deterministically (the
// same bytes every run) and as producers lay it out: a classic
// cross-reference table, a page tree, a Type 1 font, compressed content
// streams and an /Info dictionary. The one-page document is a letter of
// text; larger ones are scanned pages — each a JPEG image XObject
// (DCTDecode) drawn full page under a line of text — as many as reach the
// target size. It returns the file's size.
func WritePDF(path string, z Size) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("padesbench: %w", err)
	}
	n, err := writePDF(f, z)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("padesbench: writing %s: %w", path, err)
	}
	return n, nil
}

// countWriter counts what goes through it, for the object offsets.
type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writePDF(out io.Writer, z Size) (int64, error) {
	bw := bufio.NewWriterSize(out, 1<<20)
	w := &countWriter{w: bw}
	var offsets []int64
	// obj writes object number len(offsets)+1, whose body is head followed,
	// for a stream, by data.
	obj := func(head string, data []byte) int {
		offsets = append(offsets, w.n)
		num := len(offsets)
		if data == nil {
			fmt.Fprintf(w, "%d 0 obj\n%s\nendobj\n", num, head)
		} else {
			fmt.Fprintf(w, "%d 0 obj\n%s\nstream\n", num, head)
			w.Write(data)
			io.WriteString(w, "\nendstream\nendobj\n")
		}
		return num
	}
	io.WriteString(w, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

	var scans [][]byte
	pages := 1
	if z.Target > 0 {
		var err error
		if scans, err = scanJPEGs(); err != nil {
			return 0, err
		}
		var avg int64
		for _, s := range scans {
			avg += int64(len(s))
		}
		avg /= int64(len(scans))
		pages = int((z.Target + avg/2) / (avg + 400)) // ~400 bytes of page, content and dictionaries
		pages = max(pages, 1)
	}

	// Objects 1–4 are the catalog, the page tree, the font and /Info; pages
	// follow, each as page, content stream and (scans) image.
	const catalog, pageTree, font, info = 1, 2, 3, 4
	firstPage := 5
	per := 2
	if scans != nil {
		per = 3
	}
	kids := make([]string, pages)
	for i := range kids {
		kids[i] = fmt.Sprintf("%d 0 R", firstPage+i*per)
	}
	obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /PageLayout /OneColumn >>", pageTree), nil)
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595.28 841.89] >>", strings.Join(kids, " "), pages), nil)
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", nil)
	obj("<< /Title (kyso bench: "+z.Name+") /Producer (kyso padesbench) /CreationDate (D:20250101000000+07'00') >>", nil)
	for i := range pages {
		page := firstPage + i*per
		if scans == nil {
			content := flate(letter())
			obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pageTree, page+1, font), nil)
			obj(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", len(content)), content)
			continue
		}
		content := flate(fmt.Appendf(nil, "q 595.28 0 0 841.89 0 0 cm /Im1 Do Q\nBT /F1 8 Tf 36 20 Td (Scanned page %d of %d) Tj ET\n", i+1, pages))
		scan := scans[i%len(scans)]
		obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >> >>", pageTree, page+1, font, page+2), nil)
		obj(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", len(content)), content)
		obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>", scanWidth, scanHeight, len(scan)), scan)
	}
	xref := w.n
	fmt.Fprintf(w, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(w, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(w, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<6b79736f62656e6368%014x> <6b79736f62656e6368%014x>] >>\nstartxref\n%d\n%%%%EOF\n",
		len(offsets)+1, catalog, info, z.Target, z.Target, xref)
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return w.n, nil
}

// letter is the content stream of the one-page document: a page of text.
func letter() []byte {
	var b bytes.Buffer
	b.WriteString("BT /F1 11 Tf 14 TL 72 770 Td\n(CONG HOA XA HOI CHU NGHIA VIET NAM) Tj T*\n(Doc lap - Tu do - Hanh phuc) Tj T* T*\n(TO KHAI DANG KY) Tj T* T*\n")
	for i := range 40 {
		fmt.Fprintf(&b, "(%02d. Noi dung van ban mau de ky so: ho ten, so CCCD, dia chi, ngay thang nam.) Tj T*\n", i+1)
	}
	b.WriteString("ET\n")
	return b.Bytes()
}

func flate(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// scanJPEGs makes the page variants: a light page with darker text-like
// bands and sensor noise, so the JPEGs are as large as real scans are.
func scanJPEGs() ([][]byte, error) {
	out := make([][]byte, scanVariants)
	for v := range out {
		rng := rand.New(rand.NewPCG(0x6b79736f, uint64(v)))
		img := image.NewGray(image.Rect(0, 0, scanWidth, scanHeight))
		for y := range scanHeight {
			line := (y/24)%2 == 0 && y > 150 && y < scanHeight-150
			for x := range scanWidth {
				base := 235
				if line && x > 120 && x < scanWidth-120 && rng.IntN(3) == 0 {
					base = 60
				}
				p := base + rng.IntN(41) - 20
				img.Pix[y*img.Stride+x] = uint8(min(max(p, 0), 255))
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: scanQuality}); err != nil {
			return nil, err
		}
		out[v] = b.Bytes()
	}
	return out, nil
}
