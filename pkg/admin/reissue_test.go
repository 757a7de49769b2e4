package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestClaimReissue: a household visit's claim link ends after
// VisitClaimLifetime (an expired one claims nothing); the staff member
// who enrolled, or an unbound officer, reissues it: a new secret and link
// (its QR code decodes to it), the old secret dead (replaced: it claims
// nothing, and the one before is not found at all). Another staff
// member's client does not find it; a portal, no token, an unknown
// registration, a body with fields and another method are refused; a
// claimed registration is not reissued. A self-registration's secret is
// reissued while it waits, and the new one claims after the approval.
// Every reissue is audited.
func TestClaimReissue(t *testing.T) {
	ctx := context.Background()
	env := signingtest.New(t, nil)
	svc, clock := env.Service, env.Clock
	se := stafftest.New(t, "https://app.kyso.test", clock.Now)
	ts := httptest.NewServer(admin.NewHandler(svc, nil).WithStaff(se.Svc))
	t.Cleanup(ts.Close)
	add := func(name string) *store.Staff {
		m, err := se.Svc.Add(ctx, "test", &staff.AddRequest{FullName: name, BirthYear: 1990, Position: "Cán bộ thu thập", Provider: "Kyso Việt Nam",
			Wards: []string{"26734"}, Photo: stafftest.Photo(t, "png"), Until: clock.Now().Add(90 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lan, minh := add("Hồ Thị Lan"), add("Vũ Văn Minh")
	var clients []*signing.ClientCredentials
	var lanTok, minhTok, deskTok, portalTok string
	tokens := func() { // anew: a token lasts an hour, the test spans days
		for i, p := range []*string{&lanTok, &minhTok, &deskTok, &portalTok} {
			tk, _, err := svc.ClientToken(ctx, clients[i].ID, clients[i].Secret, "")
			if err != nil {
				t.Fatal(err)
			}
			*p = tk
		}
	}
	for _, opts := range [][]signing.ClientOption{{signing.AsStaffOfficer(lan.ID)}, {signing.AsStaffOfficer(minh.ID)}, {signing.AsOfficer()}, nil} {
		c, err := svc.CreateClient(ctx, "Điện thoại cán bộ", "", "test", opts...)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	tokens()
	b, _ := json.Marshal(map[string]any{"cccd": "079203007301", "name": "Đặng Thùy Trâm", "province": "Quảng Ngãi",
		"pin": "246802", "ward": "26734", "evidence_kind": "cccd-chip", "evidence_ref": "nfc"})
	st, raw := call(t, "POST", ts.URL+"/admin/v1/enrolments", lanTok, "application/json", string(b))
	var en admin.Enrolment
	if st != http.StatusCreated || json.Unmarshal(raw, &en) != nil {
		t.Fatalf("a household enrolment: %d %s", st, raw)
	}
	u, err := url.Parse(en.ClaimURL)
	if err != nil {
		t.Fatal(err)
	}
	ref, first := u.Query().Get("ref"), u.Fragment
	reissue := func(tok, id, body string) (int, *admin.Reissued, []byte) {
		t.Helper()
		st, raw := call(t, "POST", ts.URL+"/admin/v1/registrations/"+id+"/reissue", tok, "application/json", body)
		var out admin.Reissued
		if st == http.StatusOK {
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
		}
		return st, &out, raw
	}
	for _, c := range []struct {
		name, tok, id, body string
		want                int
	}{
		{"no token", "", ref, "", http.StatusUnauthorized},
		{"a portal", portalTok, ref, "", http.StatusForbidden},
		{"another staff member's client", minhTok, ref, "", http.StatusNotFound},
		{"an unknown registration", deskTok, "no-such", "", http.StatusNotFound},
		{"a body with a field", lanTok, ref, `{"claim_secret":"mine"}`, http.StatusBadRequest},
	} {
		if st, _, raw := reissue(c.tok, c.id, c.body); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, raw, c.want)
		}
	}
	if st, _ := call(t, "GET", ts.URL+"/admin/v1/registrations/"+ref+"/reissue", deskTok, "", ""); st != http.StatusMethodNotAllowed {
		t.Errorf("GET reissue: %d", st)
	}
	// The link ends after seven days.
	clock.Advance(signing.DefaultVisitClaimLifetime + time.Second)
	tokens()
	if _, err := svc.ClaimRegistration(ctx, ref, first, "app:x"); !errors.Is(err, signing.ErrClaimExpired) || signing.KindOf(err) != signing.KindExpired {
		t.Fatalf("a claim with an expired link: %v", err)
	}
	st, second, raw := reissue(lanTok, ref, "")
	if st != http.StatusOK || second.ClaimSecret == "" || second.ClaimSecret == first ||
		!strings.HasSuffix(second.ClaimURL, "#"+second.ClaimSecret) || !strings.Contains(second.ClaimURL, "ref="+ref) ||
		!second.ExpiresAt.Equal(clock.Now().Add(signing.DefaultVisitClaimLifetime)) {
		t.Fatalf("the staff member's reissue: %d %s", st, raw)
	}
	if got := stafftest.DecodeQR(t, decodeB64(t, second.ClaimQRPNG)); got != second.ClaimURL {
		t.Errorf("the reissued QR code reads %q, want %q", got, second.ClaimURL)
	}
	if _, err := svc.ClaimRegistration(ctx, ref, first, "app:x"); !errors.Is(err, signing.ErrClaimReplaced) {
		t.Fatalf("a claim with the replaced secret: %v", err)
	}
	// An unbound officer reissues again: the second dies, the first is
	// now unknown.
	st, third, raw := reissue(deskTok, ref, "{}")
	if st != http.StatusOK || third.ClaimSecret == second.ClaimSecret {
		t.Fatalf("the desk's reissue: %d %s", st, raw)
	}
	if _, err := svc.ClaimRegistration(ctx, ref, second.ClaimSecret, "app:x"); !errors.Is(err, signing.ErrClaimReplaced) {
		t.Fatalf("a claim with the second, replaced secret: %v", err)
	}
	if _, err := svc.ClaimRegistration(ctx, ref, first, "app:x"); signing.KindOf(err) != signing.KindNotFound {
		t.Fatalf("a claim with the first secret after two reissues: %v", err)
	}
	c, err := svc.ClaimRegistration(ctx, ref, third.ClaimSecret, "app:x")
	if err != nil || c.CredentialID != en.CredentialID {
		t.Fatalf("the claim with the new secret: %+v %v", c, err)
	}
	if st, _, raw := reissue(deskTok, ref, ""); st != http.StatusConflict {
		t.Errorf("reissuing a claimed registration: %d %s", st, raw)
	}

	// A self-registration, waiting for an officer: the citizen lost the
	// secret; the bound staff member does not find it, the desk reissues.
	reg, err := svc.Register(ctx, &signing.RegisterRequest{CCCD: "079203007302", Name: "Phạm Thị Hoa", Province: "Hà Nội",
		Email: "hoa@example.vn", PIN: "246802", Consent: "Tôi đồng ý", Actor: "app:test"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, raw := reissue(lanTok, reg.ID, ""); st != http.StatusNotFound {
		t.Errorf("a staff member reissuing a self-registration: %d %s", st, raw)
	}
	st, fresh, raw := reissue(deskTok, reg.ID, "")
	if d := fresh.ExpiresAt.Sub(reg.ExpiresAt); st != http.StatusOK || d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("reissuing a pending registration: %d %s (registration ends %s)", st, raw, reg.ExpiresAt)
	}
	if _, err := svc.RegistrationStatus(ctx, reg.ID, reg.ClaimSecret); !errors.Is(err, signing.ErrClaimReplaced) {
		t.Fatalf("the status with the replaced secret: %v", err)
	}
	if _, err := svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: reg.ID, Actor: "officer:o1", EvidenceKind: signing.EvidenceVNeID}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ClaimRegistration(ctx, reg.ID, reg.ClaimSecret, "app:x"); err == nil {
		t.Fatal("the replaced secret claimed after the approval")
	}
	if _, err := svc.ClaimRegistration(ctx, reg.ID, fresh.ClaimSecret, "app:x"); err != nil {
		t.Fatalf("the reissued secret's claim: %v", err)
	}
	es, err := env.PKI.Store.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var reissues []string
	for _, e := range es {
		if e.Action == "registration.reissue" {
			reissues = append(reissues, e.Outcome)
		}
	}
	if fmt.Sprint(reissues) != "[ok ok ok]" {
		t.Errorf("reissues audited: %v, want three ok", reissues)
	}
}
