package campaign

import (
	"fmt"
	"io"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/text/unicode/norm"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/stamp"
)

// Options name the report's author, for the PDF and HTML reports.
type Options struct {
	// Provider is the signature provider's name, printed under the title.
	Provider string
}

// A4 in points, and the page's margin.
const (
	pageW, pageH = 595.28, 841.89
	margin       = 40.0
)

// PDF writes the periodic report to the department: the period's
// totals, the share of adults against the targets (with a population
// table), the three charts and the counts by area and channel, on A4
// pages, text as Unicode text (DejaVu Sans, embedded) so that it is
// found and copied as written. The provider then seals it (kyso sign pdf
// --level B-LTA with the organisation's key).
func PDF(w io.Writer, rep *signing.CampaignReport, o *Options) error {
	if o == nil {
		o = &Options{}
	}
	doc := fpdf.New("P", "pt", "A4", "")
	doc.SetMargins(margin, margin, margin)
	doc.SetAutoPageBreak(true, margin+20)
	doc.AddUTF8FontFromBytes("DejaVu", "", stamp.DejaVuSansTTF())
	title := "Báo cáo cấp chữ ký số của chiến dịch / Campaign report"
	doc.SetTitle(title, true)
	doc.SetSubject(fmt.Sprintf("%s – %s", rep.From, rep.To), true)
	doc.SetCreator("kyso", true)
	if o.Provider != "" {
		doc.SetAuthor(short(o.Provider, 200), true)
	}
	doc.SetCreationDate(rep.At)
	doc.SetModificationDate(rep.At)
	doc.SetCompression(true)
	doc.AliasNbPages("{nb}")
	doc.SetFooterFunc(func() {
		doc.SetY(-margin)
		doc.SetFont("DejaVu", "", 8)
		doc.SetTextColor(0x55, 0x55, 0x55)
		doc.CellFormat(0, 10, fmt.Sprintf("kyso — Trang / Page %d/{nb}", doc.PageNo()), "", 0, "C", false, 0, "")
	})
	doc.AddPage()
	p := &page{doc: doc}
	p.line(16, norm.NFC.String("BÁO CÁO KẾT QUẢ CẤP CHỮ KÝ SỐ"))
	p.line(11, "Campaign report: digital signatures issued")
	if o.Provider != "" {
		p.line(11, "Đơn vị / Provider: "+short(o.Provider, 120))
	}
	p.line(10, fmt.Sprintf("Kỳ báo cáo / Period: %s – %s (%s)", rep.From, rep.To, rep.Zone))
	p.line(10, "Trạng thái tính đến / State as of: "+rep.At.UTC().Format("2006-01-02 15:04:05")+" UTC")
	doc.Ln(8)
	t := rep.Total
	p.table([]float64{300, 215}, []string{"Chỉ tiêu / Measure", "Số lượng / Count"}, [][]string{
		{"Đã cấp trong kỳ / Enrolled in the period", count(t.Enrolments)},
		{"Đang hoạt động / Active", count(t.Active)},
		{"Hết hạn / Expired", count(t.Expired)},
		{"Đã thu hồi / Revoked", count(t.Revoked)},
		{"Tạm dừng / Suspended", count(t.Suspended)},
	}, 1)
	if len(rep.Provinces) > 0 {
		doc.Ln(8)
		p.line(11, "Tỷ lệ người trưởng thành có chữ ký số / Share of adults holding an active signature")
		rows := make([][]string, 0, len(rep.Provinces))
		for _, s := range rep.Provinces {
			rows = append(rows, []string{short(s.Province, 40), count(s.Active), count(s.Adults), fmt.Sprintf("%.2f%%", s.Share*100), met(s.Met2025), met(s.Met2030)})
		}
		p.table([]float64{130, 75, 90, 60, 80, 80}, []string{"Tỉnh / Province", "Hoạt động", "Người TT / Adults", "Tỷ lệ", "30% (2025)", "70% (2030)"}, rows, 1)
		for _, s := range rep.Sources() {
			p.line(8, "Nguồn dân số / Population source: "+short(s, 200))
		}
	}
	scale := (pageW - 2*margin) / Width
	for _, chart := range Charts {
		if doc.GetY()+Height*scale > pageH-margin-20 {
			doc.AddPage()
		}
		doc.Ln(10)
		c := &pdfCanvas{doc: doc, x: margin, y: doc.GetY(), s: scale}
		if err := drawOn(c, rep, chart, 0, 0); err != nil {
			return err
		}
		doc.SetY(c.y + Height*scale)
	}
	doc.AddPage()
	p.line(11, "Số liệu chi tiết theo địa bàn và kênh / Counts by area and channel")
	rows := make([][]string, 0, len(rep.Counts))
	for _, c := range rep.Counts {
		rows = append(rows, []string{short(c.Province, 24), short(or(c.Ward, "—"), 28), channelNames[c.Channel], count(c.Enrolments), count(c.Active),
			count(c.Expired), count(c.Revoked), count(c.Suspended)})
	}
	p.table([]float64{80, 100, 95, 50, 50, 45, 45, 50}, []string{"Tỉnh", "Phường, xã", "Kênh", "Đã cấp", "Hoạt động", "Hết hạn", "Thu hồi", "Tạm dừng"}, rows, 3)
	doc.Ln(12)
	p.line(9, "Báo cáo do kyso lập và được ký số bằng con dấu điện tử của tổ chức cung cấp dịch vụ.")
	p.line(9, "Made by kyso and sealed with the provider's organisation seal.")
	if err := doc.Error(); err != nil {
		return fmt.Errorf("campaign: the PDF report: %w", err)
	}
	return doc.Output(w)
}

// met says whether a target is met.
func met(ok bool) string {
	if ok {
		return "đạt / met"
	}
	return "chưa / not yet"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// page writes lines and tables on the report's pages.
type page struct{ doc *fpdf.Fpdf }

// line writes a line of text of size points.
func (p *page) line(size float64, s string) {
	p.doc.SetFont("DejaVu", "", size)
	p.doc.SetTextColor(0x1f, 0x29, 0x37)
	p.doc.MultiCell(0, size*1.4, norm.NFC.String(s), "", "L", false)
}

// table writes a table with a header row, repeated on each new page;
// the columns from numFrom on are right-aligned.
func (p *page) table(widths []float64, head []string, rows [][]string, numFrom int) {
	d := p.doc
	header := func() {
		d.SetFont("DejaVu", "", 8)
		d.SetFillColor(0xe5, 0xe7, 0xeb)
		for i, h := range head {
			d.CellFormat(widths[i], 16, norm.NFC.String(h), "1", 0, "L", true, 0, "")
		}
		d.Ln(-1)
	}
	header()
	_, pageBottom := d.GetPageSize()
	_, _, _, bottom := d.GetMargins()
	for _, r := range rows {
		if d.GetY()+14 > pageBottom-bottom-20 {
			d.AddPage()
			header()
		}
		d.SetFont("DejaVu", "", 8)
		for i, c := range r {
			align := "L"
			if i >= numFrom {
				align = "R"
			}
			d.CellFormat(widths[i], 14, norm.NFC.String(c), "1", 0, align, false, 0, "")
		}
		d.Ln(-1)
	}
}

// pdfCanvas draws a chart on a PDF page at (x, y), scaled by s.
type pdfCanvas struct {
	doc     *fpdf.Fpdf
	x, y, s float64
}

func (c *pdfCanvas) line(x1, y1, x2, y2, width float64, col rgb, dashed bool) {
	c.doc.SetDrawColor(int(col.r), int(col.g), int(col.b))
	c.doc.SetLineWidth(width * c.s)
	if dashed {
		c.doc.SetDashPattern([]float64{6 * c.s, 4 * c.s}, 0)
	}
	c.doc.Line(c.x+x1*c.s, c.y+y1*c.s, c.x+x2*c.s, c.y+y2*c.s)
	if dashed {
		c.doc.SetDashPattern(nil, 0)
	}
}

func (c *pdfCanvas) rect(x, y, w, h float64, col rgb) {
	if w <= 0 || h <= 0 {
		return
	}
	c.doc.SetFillColor(int(col.r), int(col.g), int(col.b))
	c.doc.Rect(c.x+x*c.s, c.y+y*c.s, w*c.s, h*c.s, "F")
}

func (c *pdfCanvas) text(x, y, size float64, anchor int, col rgb, s string) {
	s = norm.NFC.String(s)
	c.doc.SetFont("DejaVu", "", size*c.s)
	c.doc.SetTextColor(int(col.r), int(col.g), int(col.b))
	w := c.doc.GetStringWidth(s)
	px := c.x + x*c.s
	switch anchor {
	case middle:
		px -= w / 2
	case end:
		px -= w
	}
	c.doc.Text(px, c.y+y*c.s, s)
}
