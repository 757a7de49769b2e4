package campaign

import (
	"fmt"
	"io"
	"slices"

	"github.com/xuri/excelize/v2"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Sheet names of the workbook.
const (
	SheetCounts = "Số liệu"      // counts by province, ward and channel
	SheetMonths = "Theo tháng"   // the months, by channel, cumulative
	SheetShares = "Tỷ lệ dân số" // shares of adults against the targets
)

// XLSX writes the report as a workbook: the counts by area and channel,
// the months (by channel, cumulative, with a line chart of the
// cumulative count) and, with a population table, the shares of adults
// against the targets. Numbers are numbers, so that a spreadsheet sums
// them; text from the data is written as text, never as a formula.
func XLSX(w io.Writer, rep *signing.CampaignReport) error {
	f := excelize.NewFile()
	defer f.Close()
	f.SetDocProps(&excelize.DocProperties{Title: "Báo cáo cấp chữ ký số / Campaign report " + rep.From + " – " + rep.To, Creator: "kyso"})
	if err := f.SetSheetName("Sheet1", SheetCounts); err != nil {
		return err
	}
	head, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E5E7EB"}}})
	if err != nil {
		return err
	}
	sw := &sheetWriter{f: f, head: head}
	sw.rows(SheetCounts, []any{"Tỉnh / Province", "Phường, xã / Ward", "Kênh / Channel", "Đã cấp / Enrolled", "Hoạt động / Active",
		"Hết hạn / Expired", "Thu hồi / Revoked", "Tạm dừng / Suspended"}, func(add func(...any)) {
		for _, c := range rep.Counts {
			add(c.Province, c.Ward, c.Channel, c.Enrolments, c.Active, c.Expired, c.Revoked, c.Suspended)
		}
		t := rep.Total
		add("Tổng / Total", "", "", t.Enrolments, t.Active, t.Expired, t.Revoked, t.Suspended)
	})
	channels := []string{store.ChannelDesk, store.ChannelEvent, store.ChannelHousehold, store.ChannelOnline, store.ChannelOperator}
	if _, err := f.NewSheet(SheetMonths); err != nil {
		return err
	}
	mhead := []any{"Tháng / Month"}
	for _, ch := range channels {
		mhead = append(mhead, channelNames[ch])
	}
	mhead = append(mhead, "Trong tháng / In the month", "Tích lũy / Cumulative")
	sw.rows(SheetMonths, mhead, func(add func(...any)) {
		for _, m := range rep.Months {
			row := []any{m.Month}
			for _, ch := range channels {
				row = append(row, m.ByChannel[ch])
			}
			add(append(row, m.Enrolments, m.Cumulative)...)
		}
	})
	if len(rep.Months) > 0 {
		col, _ := excelize.ColumnNumberToName(len(mhead))
		last := len(rep.Months) + 1
		if err := f.AddChart(SheetMonths, "A"+fmt.Sprint(last+3), &excelize.Chart{Type: excelize.Line,
			Series: []excelize.ChartSeries{{Name: fmt.Sprintf("'%s'!$%s$1", SheetMonths, col),
				Categories: fmt.Sprintf("'%s'!$A$2:$A$%d", SheetMonths, last),
				Values:     fmt.Sprintf("'%s'!$%s$2:$%s$%d", SheetMonths, col, col, last)}},
			Title: excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Chữ ký số đã cấp, tích lũy / Signatures issued, cumulative"}}}}); err != nil {
			return fmt.Errorf("campaign: the workbook's chart: %w", err)
		}
	}
	if len(rep.Provinces) > 0 {
		if _, err := f.NewSheet(SheetShares); err != nil {
			return err
		}
		sw.rows(SheetShares, []any{"Tỉnh / Province", "Hoạt động / Active", "Người trưởng thành / Adults", "Tỷ lệ / Share",
			"Mục tiêu 30% (2025)", "Mục tiêu 70% (2030)", "Nguồn / Source"}, func(add func(...any)) {
			for _, s := range rep.Provinces {
				add(s.Province, s.Active, s.Adults, s.Share, met(s.Met2025), met(s.Met2030), s.Source)
			}
		})
		pct, err := f.NewStyle(&excelize.Style{NumFmt: 10}) // 0.00%
		if err != nil {
			return err
		}
		f.SetCellStyle(SheetShares, "D2", fmt.Sprintf("D%d", len(rep.Provinces)+1), pct)
	}
	if sw.err != nil {
		return fmt.Errorf("campaign: the workbook: %w", sw.err)
	}
	_, err = f.WriteTo(w)
	return err
}

// sheetWriter writes rows of values to a workbook, keeping the first
// error.
type sheetWriter struct {
	f    *excelize.File
	head int
	err  error
}

// rows writes head (styled) then the rows fill adds.
func (s *sheetWriter) rows(sheet string, head []any, fill func(add func(...any))) {
	n := 1
	add := func(vals ...any) {
		if s.err != nil {
			return
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		// Strings are set as strings: one that starts with "=" stays
		// text, never a formula a spreadsheet would run.
		row := slices.Clone(vals)
		if err := s.f.SetSheetRow(sheet, cell, &row); err != nil {
			s.err = err
		}
		n++
	}
	add(head...)
	last, _ := excelize.CoordinatesToCellName(len(head), 1)
	if s.err == nil {
		s.err = s.f.SetCellStyle(sheet, "A1", last, s.head)
	}
	fill(add)
	if s.err == nil {
		s.err = s.f.SetColWidth(sheet, "A", "Z", 18)
	}
}
