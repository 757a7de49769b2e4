package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestBenchReport runs `kyso bench report` on a small generated campaign
// and checks that it counted what it generated and that every report
// ran; the times are reported, not asserted.
func TestBenchReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir, "--ca-alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	out, stderr, code := kyso(t, "bench", "report", "--data", dir, "--generate", "300", "--runs", "1", "--output", "json")
	if code != 0 {
		t.Fatalf("bench report: exit %d\n%s", code, stderr)
	}
	var res reportBench
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Enrolments != 300 || res.Generated == nil || res.Generated.Enrolments != 300 || res.Generated.AuditEvents < 900 {
		t.Errorf("counted %d enrolments of %+v", res.Enrolments, res.Generated)
	}
	if len(res.Rows) != 16 {
		t.Errorf("%d rows, want 4 counts and 12 formats", len(res.Rows))
	}
	for _, r := range res.Rows {
		if r.Err != "" || r.Size <= 0 || r.Median <= 0 {
			t.Errorf("row %+v", r)
		}
	}
	if _, _, code := kyso(t, "bench", "report", "--data", dir, "--runs", "0"); code != 2 {
		t.Errorf("--runs 0: exit %d, want 2", code)
	}
}

// TestBenchScale grows a database to two small sizes and checks that
// every path ran at each, and kysod started on it, and that a second run on the same database
// measures the size it holds without generating again.
func TestBenchScale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir, "--ca-alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	run := func(args ...string) scaleBench {
		t.Helper()
		out, stderr, code := kyso(t, append([]string{"bench", "scale", "--data", dir, "--ops", "3", "--kysod", kysodBinary(t), "--settle", "100ms", "--output", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("bench scale %v: exit %d\n%s", args, code, stderr)
		}
		var res scaleBench
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return res
	}
	res := run("--sizes", "100,300")
	if len(res.Sizes) != 2 || res.Sizes[1].Enrolments != 300 || res.Sizes[1].Generated.Enrolments != 200 {
		t.Fatalf("sizes %+v", res.Sizes)
	}
	again := run("--sizes", "100,300")
	if len(again.Sizes) != 1 || again.Sizes[0].Generated != nil || again.Sizes[0].Enrolments < 300 {
		t.Errorf("a second run over 300 enrolments: sizes %+v, want the database measured as it stands, without generating", again.Sizes)
	}
	for _, s := range append(res.Sizes, again.Sizes...) {
		if len(s.Rows) != 5 || s.FileBytes <= 0 {
			t.Errorf("size %d: %d rows, file %d bytes", s.Enrolments, len(s.Rows), s.FileBytes)
		}
		if k := s.Kysod; k.Err != "" || k.Seconds <= 0 || k.RSS <= 0 || k.RSSSettled <= 0 {
			t.Errorf("size %d: kysod's start %+v", s.Enrolments, k)
		}
		for _, r := range s.Rows {
			if r.Err != "" || r.N != 3 || r.P50 <= 0 || r.P99 < r.P50 {
				t.Errorf("size %d: row %+v", s.Enrolments, r)
			}
		}
	}
}
