package main

import (
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReportCampaign: two citizens enrolled through two channels in two
// wards show in the day's report, as text, JSON and CSV; a bad day or a
// period ending before it starts is a usage error.
func TestReportCampaign(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	for _, c := range [][]string{
		{"--cccd", "079203005551", "--channel", "desk", "--staff", "staff-1", "--ward", "Phường Bến Thành", "--evidence", "cccd-chip:079203005551"},
		{"--cccd", "079203005552", "--channel", "household", "--staff", "staff-2", "--ward", "Xã Bình Chánh"},
	} {
		args := append([]string{"enroll", "--data", dir, "--name", "Trần Văn Thử", "--province", "Hồ Chí Minh", "--pin", "135791"}, c...)
		if _, stderr, code := kyso(t, args...); code != 0 {
			t.Fatalf("enroll: %s", stderr)
		}
	}
	today := time.Now().In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	stdout, stderr, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--output", "csv")
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV %q: %v", stdout, err)
	}
	want := map[string]bool{"Hồ Chí Minh,Phường Bến Thành,desk,1,1,0,0,0": true, "Hồ Chí Minh,Xã Bình Chánh,household,1,1,0,0,0": true}
	for _, r := range rows[1:] {
		if !want[strings.Join(r, ",")] {
			t.Errorf("row %v", r)
		}
	}
	stdout, _, code = kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--ward", "Xã Bình Chánh")
	if code != 0 || !strings.Contains(stdout, "household") || strings.Contains(stdout, "Bến Thành") || !strings.Contains(stdout, "TOTAL") {
		t.Errorf("one ward, as text: %q", stdout)
	}
	if stdout, _, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--output", "json"); code != 0 || !strings.Contains(stdout, `"channel": "desk"`) {
		t.Errorf("JSON: %q", stdout)
	}
	for _, bad := range [][]string{{"--from", "2026-13-01", "--to", today}, {"--from", today}, {"--from", today, "--to", today, "--output", "xlsx"}} {
		if _, stderr, code := kyso(t, append([]string{"report", "campaign", "--data", dir}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d: %s", bad, code, stderr)
		}
	}
	if _, stderr, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", "2020-01-01"); code != 1 || !strings.Contains(stderr, "start before its end") {
		t.Errorf("a backwards period: exit %d: %s", code, stderr)
	}
}
