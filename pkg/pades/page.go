package pades

import (
	"fmt"
	"math"
	"strconv"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

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
