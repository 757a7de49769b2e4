package campaign

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
	"golang.org/x/text/unicode/norm"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/stamp"
)

// pngScale is the PNG's pixels per chart unit: twice the CSS size, sharp
// on a phone's screen and in print.
const pngScale = 2

// PNG writes chart as a PNG image of 2 × Width by 2 × Height pixels.
func PNG(w io.Writer, rep *signing.CampaignReport, chart string) error {
	f, err := dejaVu()
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, Width*pngScale, Height*pngScale))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	r := &raster{img: img, font: f, faces: map[float64]font.Face{}}
	defer r.close()
	if err := drawOn(r, rep, chart, 0, 0); err != nil {
		return err
	}
	return png.Encode(w, img)
}

// dejaVu parses the embedded DejaVu Sans once.
var dejaVu = sync.OnceValues(func() (*opentype.Font, error) {
	f, err := opentype.Parse(stamp.DejaVuSansTTF())
	if err != nil {
		return nil, fmt.Errorf("campaign: the embedded font: %w", err)
	}
	return f, nil
})

// raster is the PNG canvas.
type raster struct {
	img   *image.RGBA
	font  *opentype.Font
	faces map[float64]font.Face
}

func (r *raster) close() {
	for _, f := range r.faces {
		f.Close()
	}
}

// fill fills the polygon pts (chart units) with c.
func (r *raster) fill(c rgb, pts ...[2]float64) {
	b := r.img.Bounds()
	z := vector.NewRasterizer(b.Dx(), b.Dy())
	for i, p := range pts {
		x, y := float32(p[0]*pngScale), float32(p[1]*pngScale)
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
	z.Draw(r.img, b, image.NewUniform(color.RGBA{c.r, c.g, c.b, 0xff}), image.Point{})
}

func (r *raster) rect(x, y, w, h float64, c rgb) {
	if w <= 0 || h <= 0 {
		return
	}
	r.fill(c, [2]float64{x, y}, [2]float64{x + w, y}, [2]float64{x + w, y + h}, [2]float64{x, y + h})
}

func (r *raster) line(x1, y1, x2, y2, width float64, c rgb, dashed bool) {
	length := math.Hypot(x2-x1, y2-y1)
	if length == 0 {
		return
	}
	segs := [][2]float64{{0, length}}
	if dashed {
		segs = nil
		for s := 0.0; s < length; s += 10 {
			segs = append(segs, [2]float64{s, min(s+6, length)})
		}
	}
	ux, uy := (x2-x1)/length, (y2-y1)/length
	nx, ny := -uy*width/2, ux*width/2
	for _, s := range segs {
		ax, ay := x1+ux*s[0], y1+uy*s[0]
		bx, by := x1+ux*s[1], y1+uy*s[1]
		r.fill(c, [2]float64{ax + nx, ay + ny}, [2]float64{bx + nx, by + ny}, [2]float64{bx - nx, by - ny}, [2]float64{ax - nx, ay - ny})
	}
}

func (r *raster) text(x, y, size float64, anchor int, c rgb, s string) {
	face, ok := r.faces[size]
	if !ok {
		var err error
		if face, err = opentype.NewFace(r.font, &opentype.FaceOptions{Size: size * pngScale, DPI: 72, Hinting: font.HintingFull}); err != nil {
			return
		}
		r.faces[size] = face
	}
	s = norm.NFC.String(s)
	d := &font.Drawer{Dst: r.img, Src: image.NewUniform(color.RGBA{c.r, c.g, c.b, 0xff}), Face: face}
	w := d.MeasureString(s)
	px := fixed.I(int(x * pngScale))
	switch anchor {
	case middle:
		px -= w / 2
	case end:
		px -= w
	}
	d.Dot = fixed.Point26_6{X: px, Y: fixed.I(int(y * pngScale))}
	d.DrawString(s)
}
