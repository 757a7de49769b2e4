package admin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/signing"

	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestHouseholdVisit: a field staff member's client (bound to them:
// kyso client create --officer --staff ID) enrols at a household in
// their ward: the record names them and channel household whatever the
// body says, and the answer carries no TOTP secret but a single-use claim
// link (its QR code decoded equals it) with which the citizen takes the
// factor once. Another ward, another staff member's name, another
// channel are refused; so is every request once the staff member is
// revoked, at once. The staff member's client reads its own enrolments
// only (another's is not found); an unbound officer reads every one.
func TestHouseholdVisit(t *testing.T) {
	ctx := context.Background()
	svc, se, ts := newStaffAPI(t)
	add := func(name string) *store.Staff {
		m, err := se.Svc.Add(ctx, "test", &staff.AddRequest{FullName: name, BirthYear: 1990, Position: "Cán bộ thu thập", Provider: "Kyso Việt Nam",
			Wards: []string{"26734"}, Photo: stafftest.Photo(t, "png"), Until: time.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lan, minh := add("Hồ Thị Lan"), add("Vũ Văn Minh")
	token := func(opt signing.ClientOption) string {
		c, err := svc.CreateClient(ctx, "Điện thoại cán bộ", "", "test", opt)
		if err != nil {
			t.Fatal(err)
		}
		tk, _, err := svc.ClientToken(ctx, c.ID, c.Secret, "")
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	lanTok, minhTok, deskTok := token(signing.AsStaffOfficer(lan.ID)), token(signing.AsStaffOfficer(minh.ID)), token(signing.AsOfficer())
	n := 0
	enrol := func(tok string, mod func(map[string]any)) (int, []byte) {
		t.Helper()
		n++
		body := map[string]any{"cccd": fmt.Sprintf("0792030070%02d", n), "name": "Đặng Thùy Trâm", "province": "Quảng Ngãi",
			"pin": "246802", "ward": "26734", "evidence_kind": "cccd-chip", "evidence_ref": "nfc"}
		if mod != nil {
			mod(body)
		}
		b, _ := json.Marshal(body)
		return call(t, "POST", ts.URL+"/admin/v1/enrolments", tok, "application/json", string(b))
	}
	st, raw := enrol(lanTok, nil)
	var en admin.Enrolment
	if st != http.StatusCreated || json.Unmarshal(raw, &en) != nil || en.OTPAuthURI != "" || en.QRPNG != "" || strings.Contains(string(raw), "otpauth://") {
		t.Fatalf("a household enrolment: %d %s", st, raw)
	}
	u, err := url.Parse(en.ClaimURL)
	if err != nil || !strings.HasPrefix(en.ClaimURL, "https://app.kyso.test/app/register/claim?ref=") || u.Fragment == "" {
		t.Fatalf("claim link %q", en.ClaimURL)
	}
	if got := stafftest.DecodeQR(t, decodeB64(t, en.ClaimQRPNG)); got != en.ClaimURL {
		t.Errorf("the claim QR code reads %q, want %q", got, en.ClaimURL)
	}
	rec, err := svc.EnrolmentRecord(ctx, en.CredentialID)
	if err != nil || rec.Channel != store.ChannelHousehold || rec.StaffID != lan.ID || rec.Ward != "26734" {
		t.Fatalf("the household enrolment's record: %+v %v", rec, err)
	}
	ref := u.Query().Get("ref")
	if _, err := svc.ClaimRegistration(ctx, ref, "wrong"+u.Fragment[5:], "app:x"); signing.KindOf(err) != signing.KindNotFound {
		t.Errorf("a claim with a wrong secret: %v", err)
	}
	c, err := svc.ClaimRegistration(ctx, ref, u.Fragment, "app:x")
	if err != nil || c.CredentialID != en.CredentialID || !strings.HasPrefix(c.TOTPURI, "otpauth://totp/") {
		t.Fatalf("the citizen's claim: %+v %v", c, err)
	}
	if _, err := svc.ClaimRegistration(ctx, ref, u.Fragment, "app:x"); signing.KindOf(err) != signing.KindConflict {
		t.Errorf("a second claim: %v", err)
	}

	for _, c := range []struct {
		name string
		mod  func(map[string]any)
		want string
	}{
		{"another ward", func(b map[string]any) { b["ward"] = "99999" }, "outside"},
		{"another staff member's name", func(b map[string]any) { b["staff_id"] = minh.ID }, "enrols as staff member"},
		{"another channel", func(b map[string]any) { b["channel"] = "event" }, "at a household"},
	} {
		if st, raw := enrol(lanTok, c.mod); st != http.StatusForbidden || !strings.Contains(string(raw), c.want) {
			t.Errorf("%s: %d %s", c.name, st, raw)
		}
	}
	get := func(tok, cred string) (int, []byte) {
		return call(t, "GET", ts.URL+"/admin/v1/enrolments/"+cred, tok, "", "")
	}
	if st, raw := get(lanTok, en.CredentialID); st != http.StatusOK || !strings.Contains(string(raw), `"channel":"household"`) {
		t.Errorf("the staff member's own enrolment: %d %s", st, raw)
	}
	if st, raw := get(minhTok, en.CredentialID); st != http.StatusNotFound {
		t.Errorf("another staff member's enrolment: %d %s", st, raw)
	}
	if st, raw := get(deskTok, en.CredentialID); st != http.StatusOK || !strings.Contains(string(raw), lan.ID) {
		t.Errorf("an unbound officer reading it: %d %s", st, raw)
	}
	if err := se.Svc.Revoke(ctx, "test", lan.ID, "left the provider"); err != nil {
		t.Fatal(err)
	}
	if st, raw := enrol(lanTok, nil); st != http.StatusForbidden || !strings.Contains(string(raw), "revoked") {
		t.Errorf("an enrolment after the revocation: %d %s", st, raw)
	}
	if st, raw := get(lanTok, en.CredentialID); st != http.StatusForbidden {
		t.Errorf("reading after the revocation: %d %s", st, raw)
	}
	// Each refusal of the staff member is audited in the registry.
	events, err := se.Store.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	refusals := map[string]int{}
	for _, ev := range events {
		if ev.Action == "staff.refuse" && ev.Outcome == "error" {
			refusals[ev.Subject]++
		}
	}
	if refusals[lan.ID] != 3 { // another ward, then the two after the revocation
		t.Errorf("staff.refuse events: %v, want 3 of %s", refusals, lan.ID)
	}
}

// decodeB64 decodes standard base64 or fails the test.
func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
