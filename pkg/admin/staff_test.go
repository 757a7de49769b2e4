package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
)

// TestStaffAPI: an officer's client registers, lists, shows, badges and
// revokes a staff member; the badge's QR code decodes to a token the
// registry accepts until the revocation, then refuses. No token, a
// portal's token, an oversized photo, a photo that is no image, hostile
// Unicode names, an unknown ID and a second revocation are refused; markup
// in a name comes back as JSON text. Every change is audited to the
// officer's client.
func TestStaffAPI(t *testing.T) {
	ctx := context.Background()
	svc, se, ts := newStaffAPI(t)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	portal, _ := svc.CreateClient(ctx, "Cổng", "", "test")
	otok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	ptok, _, _ := svc.ClientToken(ctx, portal.ID, portal.Secret, "")
	do := func(method, path, tok, body string) (int, []byte) {
		t.Helper()
		ctype := ""
		if body != "" {
			ctype = "application/json"
		}
		return call(t, method, ts.URL+path, tok, ctype, body)
	}
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	req := func(name string, photo []byte) string {
		b, _ := json.Marshal(map[string]any{"full_name": name, "birth_year": 1990, "position": "Cán bộ đăng ký",
			"provider": "Kyso Việt Nam", "wards": []string{"26734"}, "photo": base64.StdEncoding.EncodeToString(photo), "until": until})
		return string(b)
	}
	photo := stafftest.Photo(t, "png")
	markup := `<b onmouseover="x">Hồ Thị Lan</b>`
	st, raw := do("POST", "/admin/v1/staff", otok, req(markup, photo))
	var m admin.Staff
	if st != http.StatusCreated || json.Unmarshal(raw, &m) != nil || m.FullName != markup || m.PhotoType != "image/png" || m.Photo != "" {
		t.Fatalf("add: %d %s", st, raw)
	}
	if bytes.Contains(raw, []byte("<b")) {
		t.Errorf("markup in the JSON answer is not escaped: %s", raw)
	}

	for _, c := range []struct {
		name, method, path, tok, body string
		status                        int
		code                          string
	}{
		{"no token", "POST", "/admin/v1/staff", "", req("Lê Văn A", photo), http.StatusUnauthorized, "invalid_token"},
		{"portal adds", "POST", "/admin/v1/staff", ptok, req("Lê Văn A", photo), http.StatusForbidden, "access_denied"},
		{"portal lists", "GET", "/admin/v1/staff", ptok, "", http.StatusForbidden, "access_denied"},
		{"portal shows", "GET", "/admin/v1/staff/" + m.ID, ptok, "", http.StatusForbidden, "access_denied"},
		{"portal revokes", "POST", "/admin/v1/staff/" + m.ID + "/revoke", ptok, "{}", http.StatusForbidden, "access_denied"},
		{"portal badges", "POST", "/admin/v1/staff/" + m.ID + "/badge", ptok, "", http.StatusForbidden, "access_denied"},
		{"no token badges", "POST", "/admin/v1/staff/" + m.ID + "/badge", "", "", http.StatusUnauthorized, "invalid_token"},
		{"oversized photo", "POST", "/admin/v1/staff", otok, req("Lê Văn A", bytes.Repeat(photo, 200*1024/len(photo)+1)), http.StatusBadRequest, "invalid_request"},
		{"oversized body", "POST", "/admin/v1/staff", otok, req("Lê Văn A", make([]byte, 400<<10)), http.StatusRequestEntityTooLarge, "invalid_request"},
		{"not an image", "POST", "/admin/v1/staff", otok, req("Lê Văn A", []byte("%PDF-1.7 not a photo")), http.StatusBadRequest, "invalid_request"},
		{"photo not base64", "POST", "/admin/v1/staff", otok, strings.Replace(req("Lê Văn A", photo), `"photo":"`, `"photo":"!!`, 1), http.StatusBadRequest, "invalid_request"},
		{"bidi override", "POST", "/admin/v1/staff", otok, req("Lê \u202eVăn A", photo), http.StatusBadRequest, "invalid_request"},
		{"zero-width space", "POST", "/admin/v1/staff", otok, req("Lê\u200bVăn A", photo), http.StatusBadRequest, "invalid_request"},
		{"control character", "POST", "/admin/v1/staff", otok, req("Lê\u0007Văn A", photo), http.StatusBadRequest, "invalid_request"},
		{"unknown field", "POST", "/admin/v1/staff", otok, `{"full_name":"A","role":"admin"}`, http.StatusBadRequest, "invalid_request"},
		{"unknown ID", "GET", "/admin/v1/staff/staff-nobody", otok, "", http.StatusNotFound, "not_found"},
		{"badge of unknown ID", "POST", "/admin/v1/staff/staff-nobody/badge", otok, "", http.StatusNotFound, "not_found"},
	} {
		st, raw := do(c.method, c.path, c.tok, c.body)
		var e admin.Error
		if st != c.status || json.Unmarshal(raw, &e) != nil || e.Error != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, raw, c.status, c.code)
		}
	}

	st, raw = do("GET", "/admin/v1/staff", otok, "")
	var list struct{ Staff []admin.Staff }
	if st != 200 || json.Unmarshal(raw, &list) != nil || len(list.Staff) != 1 || list.Staff[0].ID != m.ID || list.Staff[0].Photo != "" {
		t.Fatalf("list (only the one registered): %d %s", st, raw)
	}
	st, raw = do("GET", "/admin/v1/staff/"+m.ID, otok, "")
	var shown admin.Staff
	if st != 200 || json.Unmarshal(raw, &shown) != nil || shown.Photo != base64.StdEncoding.EncodeToString(photo) {
		t.Fatalf("show: %d %.200s", st, raw)
	}
	st, raw = do("POST", "/admin/v1/staff/"+m.ID+"/badge", otok, "")
	var b admin.Badge
	if st != http.StatusCreated || json.Unmarshal(raw, &b) != nil {
		t.Fatalf("badge: %d %s", st, raw)
	}
	png, _ := base64.StdEncoding.DecodeString(b.QRPNG)
	u, err := url.Parse(stafftest.DecodeQR(t, png))
	if err != nil || u.String() != b.URL || u.Path != "/app/badge" {
		t.Fatalf("the badge's QR code says %v, want %s", u, b.URL)
	}
	if v, err := se.Svc.Check(ctx, u.Query().Get("t"), "26734"); err != nil || v.Status != staff.Valid {
		t.Fatalf("the badge checks %+v, %v", v, err)
	}
	if st, raw := do("POST", "/admin/v1/staff/"+m.ID+"/revoke", otok, `{"reason":"mất thẻ"}`); st != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", st, raw)
	}
	if v, _ := se.Svc.Check(ctx, u.Query().Get("t"), ""); v.Status != staff.Revoked {
		t.Fatalf("after revocation the badge checks %s", v.Status)
	}
	if st, raw := do("POST", "/admin/v1/staff/"+m.ID+"/revoke", otok, `{}`); st != http.StatusConflict {
		t.Fatalf("a second revocation: %d %s", st, raw)
	}
	events, _ := se.Store.ListAudit(ctx, 0, 100)
	var got []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "staff.") {
			got = append(got, e.Action+" "+e.Actor)
		}
	}
	want := "staff.add officer:" + officer.ID + ",staff.badge officer:" + officer.ID + ",staff.revoke officer:" + officer.ID
	if strings.Join(got, ",") != want {
		t.Fatalf("audit: %v, want %s", got, want)
	}
}

// newStaffAPI serves the officers' API with a staff registry whose links
// start at https://app.kyso.test.
func newStaffAPI(t *testing.T) (*signing.Service, *stafftest.Env, *httptest.Server) {
	t.Helper()
	svc := signingtest.NewService(t, signingtest.NewPKI(t), signingtest.Config(nil))
	se := stafftest.New(t, "https://app.kyso.test", time.Now)
	ts := httptest.NewServer(admin.NewHandler(svc, nil).WithStaff(se.Svc))
	t.Cleanup(ts.Close)
	return svc, se, ts
}

// TestEnrolChecksStaff: with the registry served, an enrolment naming a
// staff member goes through only while the registry authorises them for
// the ward: not for another ward, not an unknown ID, not once revoked.
func TestEnrolChecksStaff(t *testing.T) {
	ctx := context.Background()
	svc, se, ts := newStaffAPI(t)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	otok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := se.Svc.Add(ctx, "test", &staff.AddRequest{FullName: "Hồ Thị Lan", BirthYear: 1990, Position: "Cán bộ đăng ký", Provider: "Kyso Việt Nam",
		Wards: []string{"26734"}, Photo: stafftest.Photo(t, "png"), Until: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	enrol := func(staffID, ward string) (int, []byte) {
		t.Helper()
		n++
		b, _ := json.Marshal(map[string]any{"cccd": "07920300" + strings.Repeat("0", 3) + string(rune('0'+n)), "name": "Đặng Thùy Trâm",
			"province": "Quảng Ngãi", "pin": "246802", "channel": "event", "staff_id": staffID, "ward": ward})
		return call(t, "POST", ts.URL+"/admin/v1/enrolments", otok, "application/json", string(b))
	}
	if st, raw := enrol(m.ID, "26734"); st != http.StatusCreated {
		t.Fatalf("an authorised staff member in their ward: %d %s", st, raw)
	}
	for _, c := range []struct{ name, staffID, ward, want string }{
		{"another ward", m.ID, "99999", "outside"},
		{"an unknown staff member", "no-such-staff", "26734", "unknown"},
	} {
		if st, raw := enrol(c.staffID, c.ward); st != http.StatusForbidden || !strings.Contains(string(raw), c.want) {
			t.Errorf("%s: %d %s", c.name, st, raw)
		}
	}
	if err := se.Svc.Revoke(ctx, "test", m.ID, "lost badge"); err != nil {
		t.Fatal(err)
	}
	if st, raw := enrol(m.ID, "26734"); st != http.StatusForbidden || !strings.Contains(string(raw), "revoked") {
		t.Errorf("a revoked staff member: %d %s", st, raw)
	}
}
