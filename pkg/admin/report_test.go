package admin_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestCampaignReportAPI: an officer reads the campaign's counts by
// province, ward and channel, as JSON and CSV, with each province's share
// of adults against the targets when kysod has the population table; the
// attacker's and the careless caller's requests are refused with a clear
// error and hostile text never comes back unescaped.
func TestCampaignReportAPI(t *testing.T) {
	ctx := context.Background()
	se := signingtest.New(t, nil)
	svc := se.Service
	pop, err := signing.ParsePopulation([]byte("province,adults,source\nHồ Chí Minh,2,test table\nHuế,100,test table\n"))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(admin.NewHandler(svc, nil).WithCampaign("Công ty Thử nghiệm", pop))
	t.Cleanup(ts.Close)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	portal, _ := svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test", signing.InCategory(store.CategoryPublicService))
	otok, ptok := clientToken(t, svc, officer), clientToken(t, svc, portal)
	for i, c := range []struct{ cccd, province, channel, staff, ward string }{
		{"079203007001", "Hồ Chí Minh", store.ChannelDesk, "staff-1", "Phường Sài Gòn"},
		{"079203007002", "Hồ Chí Minh", store.ChannelHousehold, "staff-2", "Phường Sài Gòn"},
		{"046203007003", "Huế", store.ChannelOnline, "", "Phường Thuận Hóa"},
	} {
		if _, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: c.cccd, Name: "Công dân " + string(rune('A'+i)), Province: c.province,
			PIN: "246802", Algorithm: hsm.ECDSAP256, Actor: "test", Channel: c.channel, StaffID: c.staff, Ward: c.ward}); err != nil {
			t.Fatal(err)
		}
	}
	// The days are Vietnam's: the clock's day there.
	today := se.Clock.Now().In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	get := func(token, query string) (*http.Response, []byte) {
		t.Helper()
		resp := httpedgetest.Send(t, http.DefaultClient, http.MethodGet, ts.URL+"/admin/v1/reports/campaign?"+query, token, "", nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		httpedgetest.Edge(t, resp)
		return resp, b
	}
	q := url.Values{"from": {today}, "to": {today}}
	resp, raw := get(otok, q.Encode())
	var rep signing.CampaignReport
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &rep) != nil {
		t.Fatalf("report: %d %s", resp.StatusCode, raw)
	}
	if len(rep.Counts) != 3 || rep.Total.Enrolments != 3 || rep.Total.Active != 3 || rep.Zone != "Asia/Ho_Chi_Minh" {
		t.Errorf("report: %s, want 3 rows, 3 enrolments, all active, Vietnam's zone", raw)
	}
	if len(rep.Provinces) != 2 || rep.Provinces[0].Province != "Huế" || rep.Provinces[0].Active != 1 || rep.Provinces[0].Met2025 ||
		rep.Provinces[1].Province != "Hồ Chí Minh" || rep.Provinces[1].Share != 1 || !rep.Provinces[1].Met2030 {
		t.Errorf("shares: %+v, want Huế 1/100 (short of 30%%), Hồ Chí Minh 2/2 (both targets met)", rep.Provinces)
	}
	if len(rep.Months) != 1 || rep.Months[0].Cumulative != 3 || rep.Months[0].ByChannel[store.ChannelOnline] != 1 || rep.Adults != 102 {
		t.Errorf("months: %+v adults %d, want one month of 3 (1 online) and 102 adults", rep.Months, rep.Adults)
	}
	// One province, one ward.
	q.Set("province", "Hồ Chí Minh")
	q.Set("ward", "Phường Sài Gòn")
	if _, raw := get(otok, q.Encode()); json.Unmarshal(raw, &rep) != nil || rep.Total.Enrolments != 2 || len(rep.Counts) != 2 {
		t.Errorf("one ward: %s, want its 2 enrolments", raw)
	}
	// CSV, as a spreadsheet opens it.
	q.Set("format", "csv")
	resp, raw = get(otok, q.Encode())
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if resp.StatusCode != http.StatusOK || err != nil || len(rows) != 3 || rows[0][0] != "province" || rows[1][0] != "Hồ Chí Minh" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("CSV: %d %q %s (%v)", resp.StatusCode, resp.Header.Get("Content-Type"), raw, err)
	}
	// The workbook, the PDF and the charts, each as its type.
	for _, c := range []struct{ format, chart, mediaType, magic string }{
		{"xlsx", "", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "PK\x03\x04"},
		{"pdf", "", "application/pdf", "%PDF-"},
		{"html", "", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"svg", "channel", "image/svg+xml", "<svg "},
		{"png", "", "image/png", "\x89PNG"},
	} {
		v := url.Values{"from": {today}, "to": {today}, "format": {c.format}}
		if c.chart != "" {
			v.Set("chart", c.chart)
		}
		resp, raw := get(otok, v.Encode())
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.mediaType || !strings.HasPrefix(string(raw), c.magic) ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), "."+c.format) {
			t.Errorf("%s: %d %q %q %q", c.format, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), raw[:min(len(raw), 8)])
		}
	}
	// A day before the enrolments counts none; so does a period in
	// another zone that ends before them.
	yesterday := se.Clock.Now().Add(-48 * time.Hour).Format(time.DateOnly)
	if _, raw := get(otok, url.Values{"from": {yesterday}, "to": {yesterday}}.Encode()); json.Unmarshal(raw, &rep) != nil ||
		rep.Total.Enrolments != 0 || rep.Counts == nil {
		t.Errorf("an empty period: %s, want no enrolments and an empty list", raw)
	}
	hostile := `<script>alert(1)</script>`
	for _, c := range []struct {
		name, token, query string
		status             int
		code, says         string
	}{
		{"no token", "", q.Encode(), http.StatusUnauthorized, "invalid_token", "scope enrol"},
		{"a portal's token", ptok, q.Encode(), http.StatusForbidden, "access_denied", "registration officers"},
		{"a forged token", "forged", q.Encode(), http.StatusUnauthorized, "invalid_token", ""},
		{"no dates", otok, "", http.StatusBadRequest, "invalid_request", "not a date"},
		{"a bad date", otok, "from=2026-02-30&to=2026-03-01", http.StatusBadRequest, "invalid_request", "not a date"},
		{"a hostile date", otok, url.Values{"from": {hostile}, "to": {today}}.Encode(), http.StatusBadRequest, "invalid_request", "not a date"},
		{"a huge date", otok, url.Values{"from": {strings.Repeat("9", 5000)}, "to": {today}}.Encode(), http.StatusBadRequest, "invalid_request", "not a date"},
		{"reversed", otok, "from=2026-03-02&to=2026-03-01", http.StatusBadRequest, "invalid_request", "start before its end"},
		{"a huge range", otok, "from=0001-01-01&to=9999-12-31", http.StatusBadRequest, "invalid_request", "five years"},
		{"a bad zone", otok, url.Values{"from": {today}, "to": {today}, "tz": {"Mars/" + hostile}}.Encode(), http.StatusBadRequest, "invalid_request", "time zone"},
		{"a hostile province", otok, url.Values{"from": {today}, "to": {today}, "province": {"Huế\u202e" + hostile}}.Encode(), http.StatusBadRequest, "invalid_request", "province"},
		{"a long ward", otok, url.Values{"from": {today}, "to": {today}, "ward": {strings.Repeat("P", 200)}}.Encode(), http.StatusBadRequest, "invalid_request", "128 bytes"},
		{"a bad format", otok, url.Values{"from": {today}, "to": {today}, "format": {"docx"}}.Encode(), http.StatusBadRequest, "invalid_request", "json, csv"},
		{"a bad chart", otok, url.Values{"from": {today}, "to": {today}, "format": {"svg"}, "chart": {"pie" + hostile}}.Encode(), http.StatusBadRequest, "invalid_request", "cumulative"},
		{"a chart of a table", otok, url.Values{"from": {today}, "to": {today}, "format": {"csv"}, "chart": {"area"}}.Encode(), http.StatusBadRequest, "invalid_request", "svg and png"},
		{"an unknown parameter", otok, "from=" + today + "&to=" + today + "&owner=x", http.StatusBadRequest, "invalid_request", "unknown parameter"},
		{"a repeated parameter", otok, "from=" + today + "&to=" + today + "&ward=a&ward=b", http.StatusBadRequest, "invalid_request", "given 2 times"},
	} {
		resp, raw := get(c.token, c.query)
		var e admin.Error
		if resp.StatusCode != c.status || json.Unmarshal(raw, &e) != nil || e.Error != c.code || !strings.Contains(e.Description, c.says) {
			t.Errorf("%s: %d %s, want %d %s %q", c.name, resp.StatusCode, raw, c.status, c.code, c.says)
		}
		if strings.Contains(string(raw), "<script>") {
			t.Errorf("%s: the answer holds the hostile text unescaped: %s", c.name, raw)
		}
	}
	resp = httpedgetest.Send(t, http.DefaultClient, http.MethodPost, ts.URL+"/admin/v1/reports/campaign?"+q.Encode(), otok, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
