package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestRegistrationCommands: `kyso registration list|show|approve|refuse`
// on a data directory: the pending list (hidden characters the citizen
// typed written visibly), an approval with evidence that enrols (channel
// online) and refuses a second approval, a refusal with its reason, and
// clear errors for a missing flag or an unknown registration; a reissue
// of the claim link (the old secret claims nothing, the new one does).
func TestRegistrationCommands(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	svc, o := openService(t, dir)
	a, err := svc.Register(ctx, &signing.RegisterRequest{CCCD: "079203006661", Name: "Võ Thị Sáu", Province: "Hồ Chí Minh",
		Ward: "Phường 1\x1b[2J", Phone: "0901234567", PIN: "271828", Consent: "Tôi đồng ý", Actor: "app:test"})
	if err == nil {
		t.Fatal("a ward with an escape sequence was registered")
	}
	a, err = svc.Register(ctx, &signing.RegisterRequest{CCCD: "079203006661", Name: "Võ Thị Sáu", Province: "Hồ Chí Minh",
		Ward: "<b>Phường 1</b>", Phone: "0901234567", PIN: "271828", Consent: "Tôi đồng ý", Actor: "app:test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Register(ctx, &signing.RegisterRequest{CCCD: "079203006662", Name: "Lý Tự Trọng", Province: "Hà Tĩnh",
		Email: "trong@example.vn", PIN: "271828", Consent: "Tôi đồng ý", Actor: "app:test"})
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := kyso(t, "registration", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, a.ID) || !strings.Contains(out, b.ID) || !strings.Contains(out, "<b>Phường 1</b>") {
		t.Fatalf("registration list: %d %s%s", code, out, stderr)
	}
	if _, stderr, code := kyso(t, "registration", "approve", a.ID, "--data", dir); code != 2 || !strings.Contains(stderr, "--evidence-kind") {
		t.Errorf("approve without evidence: %d %s", code, stderr)
	}
	out, stderr, code = kyso(t, "registration", "approve", a.ID, "--evidence-kind", "cccd-chip", "--evidence-ref", "nfc 7", "--data", dir, "--output", "json")
	var r admin.Registration
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Status != store.RegistrationApproved || r.CredentialID == "" ||
		!strings.HasPrefix(r.DecidedBy, "cli:") || strings.Contains(out, "otpauth") {
		t.Fatalf("registration approve: %d %s%s", code, out, stderr)
	}
	if _, stderr, code := kyso(t, "registration", "approve", a.ID, "--evidence-kind", "cccd-chip", "--data", dir); code == 0 || !strings.Contains(stderr, "approved, not pending") {
		t.Errorf("a second approval: %d %s", code, stderr)
	}
	if out, stderr, code := kyso(t, "registration", "refuse", b.ID, "--reason", "Ảnh không khớp", "--data", dir); code != 0 || !strings.Contains(out, "refused") {
		t.Errorf("registration refuse: %d %s%s", code, out, stderr)
	}
	if out, _, code := kyso(t, "registration", "show", b.ID, "--data", dir); code != 0 || !strings.Contains(out, "reason Ảnh không khớp") {
		t.Errorf("registration show: %d %s", code, out)
	}
	if _, stderr, code := kyso(t, "registration", "show", "no-such", "--data", dir); code == 0 || !strings.Contains(stderr, "no such registration") {
		t.Errorf("an unknown registration: %d %s", code, stderr)
	}
	// The citizen lost the claim link: a new one, the old dead.
	out, stderr, code = kyso(t, "registration", "reissue", a.ID, "--app-url", "https://app.kyso.test", "--data", dir, "--output", "json")
	var re admin.Reissued
	if code != 0 || json.Unmarshal([]byte(out), &re) != nil || re.ClaimSecret == "" || re.ClaimSecret == a.ClaimSecret ||
		re.ClaimURL != "https://app.kyso.test/app/register/claim?ref="+a.ID+"#"+re.ClaimSecret {
		t.Fatalf("registration reissue: %d %s%s", code, out, stderr)
	}
	if out, stderr, code := kyso(t, "registration", "reissue", b.ID, "--data", dir); code == 0 || !strings.Contains(stderr, "refused") {
		t.Errorf("reissuing a refused registration's link: %d %s%s", code, out, stderr)
	}
	svc, o = openService(t, dir)
	defer o.Close()
	if rec, err := svc.EnrolmentRecord(ctx, r.CredentialID); err != nil || rec.Channel != store.ChannelOnline || rec.EvidenceRef != "nfc 7" {
		t.Errorf("enrolment record %+v, %v", rec, err)
	}
	if _, err := svc.ClaimRegistration(ctx, a.ID, a.ClaimSecret, "app:x"); !errors.Is(err, signing.ErrClaimReplaced) {
		t.Errorf("a claim with the replaced secret: %v", err)
	}
	if _, err := svc.ClaimRegistration(ctx, a.ID, re.ClaimSecret, "app:x"); err != nil {
		t.Errorf("a claim with the reissued secret: %v", err)
	}
}

// TestClientBoundToStaff: `kyso client create --officer --staff ID` binds
// an officer's client to a staff member the registry holds; --staff
// without --officer, and an unknown staff member, are refused.
func TestClientBoundToStaff(t *testing.T) {
	dir, data, run := initData(t)
	photo := filepath.Join(dir, "anh.jpg")
	if err := os.WriteFile(photo, stafftest.Photo(t, "jpeg"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := run(0, "staff", "add", "--data", data, "--name", "Võ Thị Sáu", "--birth-year", "1991", "--position", "Nhân viên thực địa",
		"--provider", "Kyso Việt Nam", "--photo", photo, "--ward", "26734", "--until", time.Now().AddDate(0, 3, 0).UTC().Format(time.DateOnly), "--output", "json")
	var m admin.Staff
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	run(2, "client", "create", "--data", data, "--name", "Điện thoại", "--staff", m.ID)
	if _, stderr := run(1, "client", "create", "--data", data, "--name", "Điện thoại", "--officer", "--staff", "staff-none"); !strings.Contains(stderr, "not found") {
		t.Errorf("an unknown staff member: %s", stderr)
	}
	out, _ = run(0, "client", "create", "--data", data, "--name", "Điện thoại của Sáu", "--officer", "--staff", m.ID, "--output", "json")
	var cl map[string]string
	if err := json.Unmarshal([]byte(out), &cl); err != nil {
		t.Fatal(err)
	}
	svc, o := openService(t, data)
	defer o.Close()
	c, err := svc.Client(context.Background(), cl["client_id"])
	if err != nil || c.StaffID != m.ID || c.Role != store.RoleOfficer {
		t.Errorf("the client: %+v %v", c, err)
	}
}
