package pades

import (
	"bytes"
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

// PageView is how a page shows in a viewer: Box, its visible area in
// default user space (pdf.Reader.PageBox: the CropBox clipped to the
// MediaBox), turned clockwise by Rotate (0, 90, 180 or 270), as pkg/render
// draws it. It converts between a point on the page as displayed — in
// fractions of its displayed width and height from the top left corner,
// as a tap on the page's image gives — and the default user space the
// stamp's Visible.Rect is in.
type PageView struct {
	Box    [4]float64
	Rotate int
}

// PageViews reads the view of every page of the PDF held in doc.
func PageViews(doc []byte, limits *pdf.Limits) ([]PageView, error) {
	rd, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), limits)
	if err != nil {
		return nil, err
	}
	pages, err := rd.Pages()
	if err != nil {
		return nil, err
	}
	out := make([]PageView, len(pages))
	for i, p := range pages {
		if out[i].Box, err = rd.PageBox(p); err != nil {
			return nil, fmt.Errorf("pades: page %d: %w", i+1, err)
		}
		out[i].Rotate = p.Rotate
	}
	return out, nil
}

// turned reports whether the page shows turned a quarter.
func (v PageView) turned() bool { return v.Rotate == 90 || v.Rotate == 270 }

// Size is the page's width and height as displayed, in points.
func (v PageView) Size() (w, h float64) {
	w, h = v.Box[2]-v.Box[0], v.Box[3]-v.Box[1]
	if v.turned() {
		w, h = h, w
	}
	return w, h
}

// UserPoint converts the displayed point (fx, fy) — fractions of the
// displayed width and height from the top left corner — to default user
// space. /Rotate turns the page clockwise for display, so the displayed
// top left corner is the box's upper left (0), lower left (90), lower
// right (180) or upper right (270).
func (v PageView) UserPoint(fx, fy float64) (x, y float64) {
	b := v.Box
	w, h := b[2]-b[0], b[3]-b[1]
	switch v.Rotate {
	case 90:
		return b[0] + fy*w, b[1] + fx*h
	case 180:
		return b[2] - fx*w, b[1] + fy*h
	case 270:
		return b[2] - fy*w, b[3] - fx*h
	default:
		return b[0] + fx*w, b[3] - fy*h
	}
}

// Shown converts a rectangle in default user space (llx, lly, urx, ury)
// to the displayed page: its top left corner and size, in fractions of
// the displayed width and height.
func (v PageView) Shown(r [4]float64) (fx, fy, fw, fh float64) {
	b := v.Box
	w, h := b[2]-b[0], b[3]-b[1]
	// The displayed point of a user-space one, inverting UserPoint.
	at := func(x, y float64) (float64, float64) {
		switch v.Rotate {
		case 90:
			return (y - b[1]) / h, (x - b[0]) / w
		case 180:
			return (b[2] - x) / w, (y - b[1]) / h
		case 270:
			return (b[3] - y) / h, (b[2] - x) / w
		default:
			return (x - b[0]) / w, (b[3] - y) / h
		}
	}
	x0, y0 := at(r[0], r[1])
	x1, y1 := at(r[2], r[3])
	return min(x0, x1), min(y0, y1), math.Abs(x1 - x0), math.Abs(y1 - y0)
}

// StampSize is the size, in points as displayed, of a stamp placed with
// StampAt: DefaultStampWidth × DefaultStampHeight, smaller on a page too
// small for it (as the default place's).
func (v PageView) StampSize() (w, h float64) {
	pw, ph := v.Size()
	w, h = DefaultStampWidth, DefaultStampHeight
	if pw < w+2*stampMargin || ph < h+2*stampMargin {
		m := math.Min(pw, ph) * 0.05
		w, h = math.Min(w, pw-2*m), math.Min(h, ph-2*m)
	}
	return w, h
}

// StampAt is the Visible.Rect (x, y, width, height in default user
// space) of a stamp of StampSize centred on the displayed point (fx, fy),
// moved as little as needed to lie within the page's visible area; it
// still covers the point. A point off the page (or not a number) is an
// error: a stamp is put on the page or nowhere.
func (v PageView) StampAt(fx, fy float64) ([4]float64, error) {
	if !(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1) {
		return [4]float64{}, visibleErr("the point (%g, %g) is not on the page: each must be a fraction from 0 to 1", fx, fy)
	}
	sw, sh := v.StampSize()
	if v.turned() {
		sw, sh = sh, sw
	}
	x, y := v.UserPoint(fx, fy)
	b := v.Box
	llx := min(max(x-sw/2, b[0]), b[2]-sw)
	lly := min(max(y-sh/2, b[1]), b[3]-sh)
	return [4]float64{llx, lly, sw, sh}, nil
}

// CornerPoint is the displayed point StampAt takes to put the stamp in a
// corner of the page as displayed, stampMargin from its edges (less on a
// small page): top is the top or the bottom, left the left or the right.
func (v PageView) CornerPoint(top, left bool) (fx, fy float64) {
	pw, ph := v.Size()
	sw, sh := v.StampSize()
	m := math.Min(stampMargin, math.Min(pw-sw, ph-sh)/2)
	fx, fy = (m+sw/2)/pw, (m+sh/2)/ph
	if !left {
		fx = 1 - fx
	}
	if !top {
		fy = 1 - fy
	}
	return fx, fy
}
