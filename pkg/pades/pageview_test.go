package pades

import (
	"math"
	"testing"
)

// TestPageViewCorners: the displayed page's top left and bottom right
// corners land on the user-space corners a clockwise /Rotate puts there
// (worked out by hand for a box of 100 × 200 at (10, 20)), and Shown
// undoes StampAt.
func TestPageViewCorners(t *testing.T) {
	box := [4]float64{10, 20, 110, 220}
	for _, c := range []struct {
		rotate                 int
		topLeft, bottomRight   [2]float64
		displayedW, displayedH float64
	}{
		{0, [2]float64{10, 220}, [2]float64{110, 20}, 100, 200},
		{90, [2]float64{10, 20}, [2]float64{110, 220}, 200, 100},
		{180, [2]float64{110, 20}, [2]float64{10, 220}, 100, 200},
		{270, [2]float64{110, 220}, [2]float64{10, 20}, 200, 100},
	} {
		v := PageView{Box: box, Rotate: c.rotate}
		if x, y := v.UserPoint(0, 0); x != c.topLeft[0] || y != c.topLeft[1] {
			t.Errorf("/Rotate %d: the top left corner is (%g, %g), want %v", c.rotate, x, y, c.topLeft)
		}
		if x, y := v.UserPoint(1, 1); x != c.bottomRight[0] || y != c.bottomRight[1] {
			t.Errorf("/Rotate %d: the bottom right corner is (%g, %g), want %v", c.rotate, x, y, c.bottomRight)
		}
		if w, h := v.Size(); w != c.displayedW || h != c.displayedH {
			t.Errorf("/Rotate %d: displayed %g × %g", c.rotate, w, h)
		}
		r, err := v.StampAt(0.3, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		x, y := v.UserPoint(0.3, 0.6)
		if x < r[0] || x > r[0]+r[2] || y < r[1] || y > r[1]+r[3] || r[0] < box[0] || r[1] < box[1] || r[0]+r[2] > box[2] || r[1]+r[3] > box[3] {
			t.Errorf("/Rotate %d: stamp %v does not cover (%g, %g) within the box", c.rotate, r, x, y)
		}
		fx, fy, fw, fh := v.Shown([4]float64{r[0], r[1], r[0] + r[2], r[1] + r[3]})
		if fx > 0.3 || fx+fw < 0.3 || fy > 0.6 || fy+fh < 0.6 {
			t.Errorf("/Rotate %d: shown at (%g, %g) %g × %g, not over the point", c.rotate, fx, fy, fw, fh)
		}
		sw, sh := v.StampSize()
		if dw, dh := v.Size(); math.Abs(fw*dw-sw) > 1e-9 || math.Abs(fh*dh-sh) > 1e-9 {
			t.Errorf("/Rotate %d: shown %g × %g of the page, want a stamp of %g × %g points", c.rotate, fw, fh, sw, sh)
		}
	}
	v := PageView{Box: box}
	for _, p := range [][2]float64{{-0.01, 0.5}, {0.5, 1.01}, {math.NaN(), 0.5}, {0.5, math.Inf(1)}} {
		if _, err := v.StampAt(p[0], p[1]); err == nil {
			t.Errorf("a stamp at %v, off the page, was placed", p)
		}
	}
}
