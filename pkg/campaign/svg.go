package campaign

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// SVG writes chart as a standalone SVG document: text as text (found
// and copied as written), no script, no external reference.
func SVG(w io.Writer, rep *signing.CampaignReport, chart string) error {
	s := &svg{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="%s" height="%s" role="img" font-family="DejaVu Sans, Verdana, sans-serif">`,
		n(Width), n(Height), n(Width), n(Height))
	s.b.WriteString("<title>")
	xml.EscapeText(&s.b, []byte(Title(chart, rep)))
	s.b.WriteString("</title>")
	if err := drawOn(s, rep, chart, 0, 0); err != nil {
		return err
	}
	s.b.WriteString("</svg>\n")
	_, err := w.Write(s.b.Bytes())
	return err
}

// svg is the SVG canvas.
type svg struct{ b bytes.Buffer }

func (s *svg) line(x1, y1, x2, y2, width float64, c rgb, dashed bool) {
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`, n(x1), n(y1), n(x2), n(y2), c.hex(), n(width), dash)
}

func (s *svg) rect(x, y, w, h float64, c rgb) {
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, n(x), n(y), n(w), n(h), c.hex())
}

func (s *svg) text(x, y, size float64, anchor int, c rgb, t string) {
	a := [...]string{start: "start", middle: "middle", end: "end"}[anchor]
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" font-size="%s" text-anchor="%s" fill="%s">`, n(x), n(y), n(size), a, c.hex())
	xml.EscapeText(&s.b, []byte(t))
	s.b.WriteString("</text>")
}

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// n writes a coordinate with at most two decimals.
func n(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}
