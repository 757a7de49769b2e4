package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
)

// TestStaffCommands: `kyso staff add|list|show|badge|revoke` on a data
// directory: the badge's PNG decodes to the check page's URL; a photo that
// is no image and a hostile name are refused with exit status 2; after a
// revocation no badge is made.
func TestStaffCommands(t *testing.T) {
	dir, data, run := initData(t)
	photo := filepath.Join(dir, "anh.jpg")
	if err := os.WriteFile(photo, stafftest.Photo(t, "jpeg"), 0o600); err != nil {
		t.Fatal(err)
	}
	until := time.Now().AddDate(0, 3, 0).UTC().Format(time.DateOnly)
	out, _ := run(0, "staff", "add", "--data", data, "--name", "Võ Thị Sáu", "--birth-year", "1991", "--position", "Nhân viên thực địa",
		"--provider", "Kyso Việt Nam", "--photo", photo, "--ward", "26734,26737", "--until", until, "--output", "json")
	var m admin.Staff
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.FullName != "Võ Thị Sáu" || m.PhotoType != "image/jpeg" || strings.Join(m.Wards, ",") != "26734,26737" {
		t.Fatalf("staff add: %v %s", err, out)
	}
	notImage := filepath.Join(dir, "anh.txt")
	os.WriteFile(notImage, []byte("not a photo"), 0o600)
	run(2, "staff", "add", "--data", data, "--name", "A", "--birth-year", "1991", "--position", "P", "--provider", "K", "--photo", notImage, "--until", until)
	run(2, "staff", "add", "--data", data, "--name", "Võ\u202eThị", "--birth-year", "1991", "--position", "P", "--provider", "K", "--photo", photo, "--until", until)

	if out, _ := run(0, "staff", "list", "--data", data); !strings.Contains(out, m.ID) || !strings.Contains(out, "Võ Thị Sáu") || strings.Count(out, "staff-") != 1 {
		t.Fatalf("staff list: %s", out)
	}
	saved := filepath.Join(dir, "saved.jpg")
	if out, _ := run(0, "staff", "show", m.ID, "--data", data, "--photo-out", saved); !strings.Contains(out, "authorised") {
		t.Fatalf("staff show: %s", out)
	}
	if b, _ := os.ReadFile(saved); len(b) == 0 {
		t.Fatal("staff show --photo-out wrote nothing")
	}
	png := filepath.Join(dir, "badge.png")
	out, _ = run(0, "staff", "badge", m.ID, "--data", data, "--app-url", "https://kyso.example.vn", "--out", png)
	b, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	text := stafftest.DecodeQR(t, b)
	u, err := url.Parse(text)
	if err != nil || !strings.HasPrefix(out, text+"\n") || u.Host != "kyso.example.vn" || u.Path != "/app/badge" || u.Query().Get("t") == "" {
		t.Fatalf("the badge's QR code says %q; the command printed %s", text, out)
	}
	run(0, "staff", "revoke", m.ID, "--data", data, "--reason", "nghỉ việc")
	if out, _ := run(0, "staff", "show", m.ID, "--data", data); !strings.Contains(out, "REVOKED") {
		t.Fatalf("staff show after revoke: %s", out)
	}
	run(2, "staff", "badge", m.ID, "--data", data, "--app-url", "https://kyso.example.vn", "--out", png)
	run(1, "staff", "revoke", m.ID, "--data", data)
	run(1, "staff", "show", "staff-nobody", "--data", data)
}
