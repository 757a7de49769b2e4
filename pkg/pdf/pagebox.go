package pdf

import (
	"fmt"
	"math"
)

// Rect reads a rectangle (§7.9.5): four numbers, normalised so that the
// first corner is the lower left (llx, lly, urx, ury).
func (rd *Reader) Rect(obj Object) ([4]float64, error) {
	var r [4]float64
	o, err := rd.Get(obj)
	if err != nil {
		return r, err
	}
	a, ok := o.(Array)
	if !ok || len(a) != 4 {
		return r, fmt.Errorf("not a rectangle: %w", ErrMalformed)
	}
	for i, e := range a {
		v, err := rd.Get(e)
		if err != nil {
			return r, err
		}
		switch n := v.(type) {
		case Int:
			r[i] = float64(n)
		case Real:
			r[i] = float64(n)
		default:
			return r, fmt.Errorf("a rectangle holds a %T: %w", v, ErrMalformed)
		}
		if math.IsNaN(r[i]) || math.IsInf(r[i], 0) {
			return r, fmt.Errorf("a rectangle holds %v: %w", r[i], ErrMalformed)
		}
	}
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}, nil
}

// PageBox returns the page's visible area in its default user space
// (llx, lly, urx, ury): its CropBox clipped to its MediaBox (ISO 32000-2
// §14.11.2), what a viewer — PDFium, pkg/render — draws before /Rotate
// turns it. A page without a MediaBox is taken as US Letter, as viewers
// do; an unreadable CropBox is ignored, as they do.
func (rd *Reader) PageBox(p Page) ([4]float64, error) {
	box := [4]float64{0, 0, 612, 792}
	if p.MediaBox != nil {
		b, err := rd.Rect(p.MediaBox)
		if err != nil {
			return box, fmt.Errorf("pdf: the page's /MediaBox: %w", err)
		}
		box = b
	}
	if p.CropBox != nil {
		if c, err := rd.Rect(p.CropBox); err == nil {
			box = [4]float64{max(box[0], c[0]), max(box[1], c[1]), min(box[2], c[2]), min(box[3], c[3])}
		}
	}
	if box[2] <= box[0] || box[3] <= box[1] {
		return box, fmt.Errorf("pdf: the page's visible area %v is empty: %w", box, ErrMalformed)
	}
	return box, nil
}
