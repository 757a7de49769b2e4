// Package campaign turns the campaign's count (signing.CampaignReport)
// into what the city's department receives: charts (SVG and PNG), a
// workbook (XLSX) and a PDF report for the provider to seal.
//
// One drawing of each chart is made on a small canvas with three
// backends — SVG text, a PNG raster and a PDF page — so the three show
// the same thing. Text is Vietnamese first with English after a slash,
// drawn with DejaVu Sans (embedded by pkg/stamp); every name from the
// data (a province, a ward) is bounded and escaped by its backend.
package campaign

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// The charts.
const (
	// Cumulative: enrolments since the period's start, month by month;
	// with a population table, as the share of adults against the 30%
	// and 70% targets.
	Cumulative = "cumulative"
	// Channel: the period's enrolments by channel.
	Channel = "channel"
	// Area: the period's enrolments by province, or by ward when the
	// report covers one province.
	Area = "area"
)

// Charts lists the charts, in the order a report shows them.
var Charts = []string{Cumulative, Channel, Area}

// Width and Height are a chart's size, in CSS pixels for SVG and PNG
// and points for PDF.
const (
	Width  = 640.0
	Height = 360.0
)

// maxBars bounds the bars of the area chart; the rest are summed as
// "Khác / Other".
const maxBars = 12

// maxLabel bounds a label drawn from the data, in characters.
const maxLabel = 28

// rgb is a colour.
type rgb struct{ r, g, b uint8 }

var (
	black  = rgb{0x1f, 0x29, 0x37}
	grey   = rgb{0xd1, 0xd5, 0xdb}
	blue   = rgb{0x1d, 0x4e, 0xd8}
	orange = rgb{0xc2, 0x41, 0x0c}
	green  = rgb{0x15, 0x80, 0x3d}
)

// Anchors of text.
const (
	start = iota
	middle
	end
)

// canvas is what a chart is drawn on: y grows downwards, text is placed
// by its baseline.
type canvas interface {
	line(x1, y1, x2, y2, width float64, c rgb, dashed bool)
	rect(x, y, w, h float64, c rgb)
	text(x, y, size float64, anchor int, c rgb, s string)
}

// channelNames are the channels as the charts name them.
var channelNames = map[string]string{
	store.ChannelDesk:      "Một cửa / Desk",
	store.ChannelEvent:     "Sự kiện / Event",
	store.ChannelHousehold: "Tận nhà / Household",
	store.ChannelOnline:    "Trực tuyến / Online",
	store.ChannelOperator:  "Nhà cung cấp / Operator",
}

// Title returns a chart's title.
func Title(chart string, rep *signing.CampaignReport) string {
	switch chart {
	case Cumulative:
		if rep.Adults > 0 {
			return "Tỷ lệ người trưởng thành có chữ ký số (tích lũy) / Share of adults, cumulative"
		}
		return "Chữ ký số đã cấp, tích lũy / Signatures issued, cumulative"
	case Channel:
		return "Theo kênh đăng ký / By channel"
	case Area:
		if len(provinces(rep)) == 1 {
			return "Theo phường, xã / By ward"
		}
		return "Theo tỉnh, thành phố / By province"
	}
	return chart
}

// drawOn draws chart on c in the box at (x, y) of Width × Height.
func drawOn(c canvas, rep *signing.CampaignReport, chart string, x, y float64) error {
	c.rect(x, y, Width, Height, rgb{0xff, 0xff, 0xff})
	c.text(x+Width/2, y+24, 13, middle, black, Title(chart, rep))
	p := plot{c: c, x: x + 64, y: y + 44, w: Width - 84, h: Height - 44 - 56}
	switch chart {
	case Cumulative:
		p.cumulative(rep)
	case Channel:
		var bars []bar
		total := map[string]int64{}
		for _, r := range rep.Counts {
			total[r.Channel] += r.Enrolments
		}
		for _, ch := range []string{store.ChannelDesk, store.ChannelEvent, store.ChannelHousehold, store.ChannelOnline, store.ChannelOperator} {
			if total[ch] > 0 || ch != store.ChannelOperator {
				bars = append(bars, bar{channelNames[ch], total[ch]})
			}
		}
		p.bars(bars, blue)
	case Area:
		p.bars(areaBars(rep), green)
	default:
		return fmt.Errorf("campaign: no chart %q: %s", chart, strings.Join(Charts, ", "))
	}
	return nil
}

// provinces returns the provinces a report counts.
func provinces(rep *signing.CampaignReport) []string {
	var ps []string
	for _, r := range rep.Counts {
		if !slices.Contains(ps, r.Province) {
			ps = append(ps, r.Province)
		}
	}
	return ps
}

// bar is one bar of a bar chart.
type bar struct {
	label string
	n     int64
}

// areaBars are the enrolments by province, or by ward in a one-province
// report, the largest first, at most maxBars of them.
func areaBars(rep *signing.CampaignReport) []bar {
	byWard := len(provinces(rep)) == 1
	sum := map[string]int64{}
	for _, r := range rep.Counts {
		k := r.Province
		if byWard {
			k = r.Ward
			if k == "" {
				k = "(không rõ / unknown)"
			}
		}
		sum[k] += r.Enrolments
	}
	bars := make([]bar, 0, len(sum))
	for k, n := range sum {
		bars = append(bars, bar{k, n})
	}
	sort.Slice(bars, func(i, j int) bool {
		if bars[i].n != bars[j].n {
			return bars[i].n > bars[j].n
		}
		return bars[i].label < bars[j].label
	})
	if len(bars) > maxBars {
		var rest int64
		for _, b := range bars[maxBars-1:] {
			rest += b.n
		}
		bars = append(bars[:maxBars-1], bar{"Khác / Other", rest})
	}
	return bars
}

// plot is a chart's plotting area on a canvas.
type plot struct {
	c          canvas
	x, y, w, h float64
}

// axis draws the value axis from 0 to top with its grid and labels.
func (p *plot) axis(top float64, label func(float64) string) {
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		yy := p.y + p.h - p.h*float64(i)/4
		p.c.line(p.x, yy, p.x+p.w, yy, 0.5, grey, false)
		p.c.text(p.x-6, yy+4, 10, end, black, label(v))
	}
	p.c.line(p.x, p.y+p.h, p.x+p.w, p.y+p.h, 1, black, false)
}

// cumulative draws the cumulative line, as a share of adults against the
// targets when the report has them.
func (p *plot) cumulative(rep *signing.CampaignReport) {
	ms := rep.Months
	vals := make([]float64, len(ms))
	var top float64
	for i, m := range ms {
		vals[i] = float64(m.Cumulative)
		if rep.Adults > 0 {
			vals[i] /= float64(rep.Adults)
		}
		top = max(top, vals[i])
	}
	label := func(v float64) string { return count(int64(math.Round(v))) }
	if rep.Adults > 0 {
		// Up to a whole 20%, the 70% target always in sight.
		top = math.Ceil(max(top*1.05, signing.Target2030*1.05)*5) / 5
		label = func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) }
	} else {
		top = niceTop(top)
	}
	p.axis(top, label)
	step := p.w / float64(max(len(ms), 1))
	every := max(1, (len(ms)+7)/8)
	for i, m := range ms {
		if i%every == 0 {
			p.c.text(p.x+step*(float64(i)+0.5), p.y+p.h+16, 10, middle, black, m.Month[5:]+"/"+m.Month[:4])
		}
	}
	if rep.Adults > 0 {
		for _, t := range []struct {
			v    float64
			c    rgb
			name string
		}{{signing.Target2025, orange, "Mục tiêu 30% (2025) / target"}, {signing.Target2030, green, "Mục tiêu 70% (2030) / target"}} {
			yy := p.y + p.h - p.h*t.v/top
			p.c.line(p.x, yy, p.x+p.w, yy, 1.5, t.c, true)
			p.c.text(p.x+4, yy-5, 10, start, t.c, t.name)
		}
	}
	var px, py float64
	for i, v := range vals {
		x, y := p.x+step*(float64(i)+0.5), p.y+p.h-p.h*v/top
		if i > 0 {
			p.c.line(px, py, x, y, 2.5, blue, false)
		}
		p.c.rect(x-3, y-3, 6, 6, blue)
		px, py = x, y
	}
	if len(ms) > 0 {
		last := ms[len(ms)-1].Cumulative
		s := count(last)
		if rep.Adults > 0 {
			s += fmt.Sprintf(" (%.2f%%)", vals[len(vals)-1]*100)
		}
		p.c.text(p.x, p.y+p.h+40, 11, start, black, "Tổng / Total: "+s)
	}
}

// bars draws a bar chart of bs.
func (p *plot) bars(bs []bar, c rgb) {
	var top float64
	for _, b := range bs {
		top = max(top, float64(b.n))
	}
	top = niceTop(top)
	p.axis(top, func(v float64) string { return count(int64(math.Round(v))) })
	if len(bs) == 0 {
		p.c.text(p.x+p.w/2, p.y+p.h/2, 12, middle, black, "Không có đăng ký trong kỳ / No enrolments in the period")
		return
	}
	step := p.w / float64(len(bs))
	for i, b := range bs {
		hh := p.h * float64(b.n) / top
		x := p.x + step*float64(i)
		p.c.rect(x+step*0.15, p.y+p.h-hh, step*0.7, hh, c)
		p.c.text(x+step/2, p.y+p.h-hh-4, 10, middle, black, count(b.n))
		// Two lines of label under each bar: the Vietnamese name, then
		// the English one (or the rest of a long name).
		vi, en, _ := strings.Cut(b.label, " / ")
		size := min(10, step/float64(max(utf8.RuneCountInString(vi), 1))*1.8)
		p.c.text(x+step/2, p.y+p.h+14, size, middle, black, short(vi, maxLabel))
		if en != "" {
			p.c.text(x+step/2, p.y+p.h+26, size, middle, black, short(en, maxLabel))
		}
	}
}

// niceTop rounds v up to 1, 2 or 5 times a power of ten (at least 4, so
// the axis has whole numbers).
func niceTop(v float64) float64 {
	if v < 4 {
		return 4
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 4, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

// count writes n with dots between thousands, as Vietnamese does.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// short cuts s to n characters, an ellipsis last.
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
