package campaign_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/campaign"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// hostile is a ward's name written to attack each format: markup for
// SVG, a formula for a spreadsheet.
const hostile = `<script>alert(1)</script>&=HYPERLINK("http://evil")`

// report is a year of a campaign in two provinces, with a population
// table: Huế past 30%, Hồ Chí Minh short of it.
func report() *signing.CampaignReport {
	r := &signing.CampaignReport{From: "2026-01-01", To: "2026-12-31", Zone: "Asia/Ho_Chi_Minh",
		At: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Adults: 3000}
	var cum int64
	for m := 1; m <= 12; m++ {
		n := int64(m * 20)
		cum += n
		r.Months = append(r.Months, signing.MonthCount{Month: time.Date(2026, time.Month(m), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"),
			Enrolments: n, ByChannel: map[string]int64{store.ChannelDesk: n / 2, store.ChannelOnline: n - n/2}, Cumulative: cum})
	}
	r.Counts = []*store.EnrolmentCount{
		{Province: "Huế", Ward: "Phường Thuận Hóa", Channel: store.ChannelDesk, Enrolments: 390, Active: 380, Revoked: 10},
		{Province: "Huế", Ward: hostile, Channel: store.ChannelOnline, Enrolments: 390, Active: 385, Expired: 5},
		{Province: "Hồ Chí Minh", Ward: "Phường Sài Gòn", Channel: store.ChannelHousehold, Enrolments: 780, Active: 770, Suspended: 10},
	}
	for _, c := range r.Counts {
		r.Total.Enrolments += c.Enrolments
		r.Total.Active += c.Active
		r.Total.Expired += c.Expired
		r.Total.Revoked += c.Revoked
		r.Total.Suspended += c.Suspended
	}
	r.Provinces = []signing.ProvinceShare{
		{Province: "Huế", Active: 765, Adults: 1000, Share: 0.765, Met2025: true, Met2030: true, Source: "Cục Thống kê 2025"},
		{Province: "Hồ Chí Minh", Active: 770, Adults: 2000, Share: 0.385, Met2025: true, Source: "Cục Thống kê 2025"},
	}
	return r
}

// TestSVG: each chart is a well-formed SVG image the Nu checker finds
// clean, with its Vietnamese text as text, the targets drawn when there
// are adults to count, and a hostile name escaped.
func TestSVG(t *testing.T) {
	dir := t.TempDir()
	rep := report()
	var files []string
	for _, chart := range campaign.Charts {
		var b bytes.Buffer
		if err := campaign.SVG(&b, rep, chart); err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
		var text strings.Builder
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: not well-formed XML: %v", chart, err)
			}
			if cd, ok := tok.(xml.CharData); ok {
				text.Write(cd)
			}
		}
		if !strings.Contains(text.String(), campaign.Title(chart, rep)) {
			t.Errorf("%s: no title in %s", chart, text.String())
		}
		if strings.Contains(b.String(), "<script") {
			t.Errorf("%s: the hostile name is unescaped", chart)
		}
		f := filepath.Join(dir, chart+".svg")
		os.WriteFile(f, b.Bytes(), 0o600)
		os.WriteFile(filepath.Join(testenv.Artifacts(t), "campaign-"+chart+".svg"), b.Bytes(), 0o600)
		files = append(files, f)
		switch chart {
		case campaign.Cumulative:
			if !strings.Contains(text.String(), "Mục tiêu 30% (2025)") || !strings.Contains(text.String(), "Mục tiêu 70% (2030)") ||
				!strings.Contains(text.String(), "1.560 (52.00%)") || !strings.Contains(text.String(), "80%") {
				t.Errorf("cumulative: no targets, no total of 1.560 (52%% of 3.000 adults) or no 80%% line: %s", text.String())
			}
		case campaign.Area:
			if !strings.Contains(text.String(), "Hồ Chí Minh") || !strings.Contains(text.String(), "780") {
				t.Errorf("area: %s", text.String())
			}
		}
	}
	testenv.CheckSVG(t, files...)
	// Without a population table the cumulative chart counts, with no
	// targets.
	rep.Adults = 0
	var b bytes.Buffer
	campaign.SVG(&b, rep, campaign.Cumulative)
	if strings.Contains(b.String(), "Mục tiêu") || !strings.Contains(b.String(), "Tổng / Total: 1.560<") {
		t.Errorf("cumulative without adults: %s", b.String())
	}
	if err := campaign.SVG(io.Discard, rep, "pie"); err == nil {
		t.Error("an unknown chart was drawn")
	}
}

// TestPNG: each chart is a PNG of twice its size with the bars and line
// in their colours.
func TestPNG(t *testing.T) {
	for _, chart := range campaign.Charts {
		var b bytes.Buffer
		if err := campaign.PNG(&b, report(), chart); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(testenv.Artifacts(t), "campaign-"+chart+".png"), b.Bytes(), 0o600)
		img, err := png.Decode(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("%s: %v", chart, err)
		}
		if img.Bounds() != image.Rect(0, 0, 2*campaign.Width, 2*campaign.Height) {
			t.Errorf("%s: %v", chart, img.Bounds())
		}
		// The bars (blue or green) and the text (dark) are there.
		var coloured, dark int
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				switch {
				case r>>8 < 0x40 && g>>8 < 0x50 && b>>8 < 0x60:
					dark++
				case b>>8 > 0xc0 && r>>8 < 0x40, g>>8 > 0x70 && r>>8 < 0x30 && b>>8 < 0x50:
					coloured++
				}
			}
		}
		if coloured < 2000 || dark < 500 {
			t.Errorf("%s: %d coloured and %d dark pixels: nothing drawn?", chart, coloured, dark)
		}
	}
}

// TestXLSX: openpyxl — a reader nobody here wrote — opens the workbook
// and finds the sheets, the counts as numbers, the month series, the
// shares, and the hostile name as text, never a formula.
func TestXLSX(t *testing.T) {
	var b bytes.Buffer
	if err := campaign.XLSX(&b, report()); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "report.xlsx")
	os.WriteFile(f, b.Bytes(), 0o600)
	os.WriteFile(filepath.Join(testenv.Artifacts(t), "campaign.xlsx"), b.Bytes(), 0o600)
	script := `import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {}
for ws in wb.worksheets:
    out[ws.title] = [[c.value for c in row] for row in ws.iter_rows()]
    out[ws.title + ":types"] = [[c.data_type for c in row] for row in ws.iter_rows()]
    out[ws.title + ":charts"] = len(ws._charts)
print(json.dumps(out, default=str))`
	out, errOut, err := testenv.Run(exec.Command(testenv.PyHankoPython(t), "-c", script, f))
	if err != nil {
		t.Fatalf("openpyxl: %v\n%s", err, errOut)
	}
	var wb map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &wb); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var counts, months, shares [][]any
	var types [][]string
	json.Unmarshal(wb[campaign.SheetCounts], &counts)
	json.Unmarshal(wb[campaign.SheetCounts+":types"], &types)
	json.Unmarshal(wb[campaign.SheetMonths], &months)
	json.Unmarshal(wb[campaign.SheetShares], &shares)
	if len(counts) != 5 || counts[1][0] != "Huế" || counts[1][3] != float64(390) || types[1][3] != "n" || counts[4][0] != "Tổng / Total" || counts[4][3] != float64(1560) {
		t.Errorf("counts: %v %v", counts, types)
	}
	if counts[2][1] != hostile || types[2][1] != "s" {
		t.Errorf("the hostile ward: %v (%v), want the text as a string", counts[2][1], types[2][1])
	}
	if len(months) != 13 || months[12][0] != "2026-12" || months[12][len(months[12])-1] != float64(1560) {
		t.Errorf("months: %v", months)
	}
	var charts int
	json.Unmarshal(wb[campaign.SheetMonths+":charts"], &charts)
	if charts != 1 {
		t.Errorf("the months' sheet has %d charts, want the cumulative line", charts)
	}
	if len(shares) != 3 || shares[1][0] != "Huế" || shares[1][3] != 0.765 || shares[2][4] != "đạt / met" || shares[2][5] != "chưa / not yet" {
		t.Errorf("shares: %v", shares)
	}
}

// TestPDF: the report is a PDF qpdf finds clean, whose text — Vietnamese
// included — poppler's pdftotext reads back: the totals, the shares, the
// charts' titles and the rows of every area.
func TestPDF(t *testing.T) {
	var b bytes.Buffer
	if err := campaign.PDF(&b, report(), &campaign.Options{Provider: "Công ty Chữ ký số Thử nghiệm"}); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "report.pdf")
	os.WriteFile(f, b.Bytes(), 0o600)
	os.WriteFile(filepath.Join(testenv.Artifacts(t), "campaign.pdf"), b.Bytes(), 0o600)
	testenv.CheckQpdf(t, f)
	text, errOut, err := testenv.Run(exec.Command(testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils"), "-enc", "UTF-8", f, "-"))
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, errOut)
	}
	for _, want := range []string{"BÁO CÁO KẾT QUẢ CẤP CHỮ KÝ SỐ", "Công ty Chữ ký số Thử nghiệm", "2026-01-01 – 2026-12-31", "1.560",
		"76.50%", "Theo kênh đăng ký", "Phường Thuận Hóa", "Hồ Chí Minh", "Trang / Page 1/"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
}
