package main

import (
	"encoding/csv"
	"os"
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
	// Against the adults of a population table: 2 active of 5 adults,
	// 40%: the 2025 target met, the 2030 one not.
	pop := filepath.Join(t.TempDir(), "adults.csv")
	if err := os.WriteFile(pop, []byte("province,adults,source\nHồ Chí Minh,5,test table\nHuế,10,test table\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--population", pop)
	if code != 0 || !strings.Contains(stdout, "40.00%") || !strings.Contains(stdout, "đạt (met)") || !strings.Contains(stdout, "chưa đạt (30.00% short)") ||
		!strings.Contains(stdout, "test table") {
		t.Errorf("against the population: exit %d %q %s", code, stdout, stderr)
	}
	os.WriteFile(pop, []byte("province,adults,source\nHồ Chí Minh,-5,x\n"), 0o600)
	if _, stderr, code := kyso(t, "report", "campaign", "--data", dir, "--from", today, "--to", today, "--population", pop); code != 2 || !strings.Contains(stderr, "positive") {
		t.Errorf("a negative population: exit %d: %s", code, stderr)
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
