package signing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestParsePopulation: the population table is read strictly — its
// header, positive counts, each province once, displayable text, bounded
// size.
func TestParsePopulation(t *testing.T) {
	for _, c := range []struct{ name, csv, says string }{
		{"no header", "Huế,10,x\n", "header"},
		{"no rows", "province,adults,source\n", "header"},
		{"a zero", "province,adults,source\nHuế,0,x\n", "positive"},
		{"a word", "province,adults,source\nHuế,many,x\n", "positive"},
		{"twice", "province,adults,source\nHuế,1,x\nHuế,2,x\n", "twice"},
		{"a control character", "province,adults,source\nHu\x1be,1,x\n", "province"},
		{"too big", "province,adults,source\n" + strings.Repeat("a", signing.MaxPopulationFile), "bytes"},
	} {
		if _, err := signing.ParsePopulation([]byte(c.csv)); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}

// TestCampaignReportMonths: a period of several months is counted month
// by month in Vietnam's time — the series the charts draw, cumulative —
// and the months' rows add up to the period's; a reversed period is
// refused rather than counted as empty.
func TestCampaignReportMonths(t *testing.T) {
	ctx := context.Background()
	se := signingtest.New(t, nil)
	// 2026-01-31 17:30 UTC is already 1 February in Vietnam.
	se.Clock.Set(time.Date(2026, 1, 31, 17, 30, 0, 0, time.UTC))
	enrol := func(cccd string) {
		t.Helper()
		if _, err := se.Service.Enrol(ctx, &signing.EnrolRequest{CCCD: cccd, Name: "Lê Thị Tháng", Province: "Huế", PIN: "246802",
			Algorithm: hsm.ECDSAP256, Actor: "test", Channel: store.ChannelOnline, Ward: "Phường Thuận Hóa"}); err != nil {
			t.Fatal(err)
		}
	}
	enrol("046203008001")
	se.Clock.Advance(45 * 24 * time.Hour) // mid-March
	enrol("046203008002")
	enrol("046203008003")
	rep, err := se.Service.CampaignReport(ctx, &signing.ReportQuery{From: "2026-01-01", To: "2026-03-31"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range rep.Months {
		got = append(got, fmt.Sprintf("%s:%d/%d", m.Month, m.Enrolments, m.Cumulative))
	}
	if strings.Join(got, " ") != "2026-01:0/0 2026-02:1/1 2026-03:2/3" {
		t.Errorf("months %v, want January empty (the first enrolment is February's in Vietnam), February 1, March 2", got)
	}
	if len(rep.Counts) != 1 || rep.Counts[0].Enrolments != 3 || rep.Total.Active != 3 {
		t.Errorf("rows %+v total %+v, want one row of 3, all active", rep.Counts, rep.Total)
	}
	if _, err := se.Service.CampaignReport(ctx, &signing.ReportQuery{From: "2026-03-31", To: "2026-01-01"}); err == nil || !strings.Contains(err.Error(), "start before its end") {
		t.Errorf("a reversed period: %v", err)
	}
}
