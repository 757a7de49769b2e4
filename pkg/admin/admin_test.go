package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// newServer serves the admin API over a throwaway CA.
func newServer(t testing.TB) (*signing.Service, *httptest.Server) {
	t.Helper()
	svc := signingtest.NewService(t, signingtest.NewPKI(t), signingtest.Config(nil))
	ts := httptest.NewServer(admin.NewHandler(svc, nil))
	t.Cleanup(ts.Close)
	return svc, ts
}

// TestEnrolAPI: an officer's client enrols a citizen over HTTP; a portal's
// token, no token, bad bodies and a second enrolment of the same person
// are refused.
func TestEnrolAPI(t *testing.T) {
	ctx := context.Background()
	svc, ts := newServer(t)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	portal, _ := svc.CreateClient(ctx, "Cổng", "", "test")
	otok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, signing.ScopeService); err == nil {
		t.Error("an officer's client got a signing token")
	}
	ptok, _, _ := svc.ClientToken(ctx, portal.ID, portal.Secret, "")
	if _, _, err := svc.ClientToken(ctx, portal.ID, portal.Secret, signing.ScopeEnrol); err == nil {
		t.Error("a portal got an enrolment token")
	}
	post := func(tok, ctype, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/v1/enrolments", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	body := `{"cccd":"079203007777","name":"Đặng Thùy Trâm","province":"Quảng Ngãi","pin":"246802"}`
	st, raw := post(otok, "application/json", body)
	var en admin.Enrolment
	if st != http.StatusCreated || json.Unmarshal(raw, &en) != nil || en.CredentialID == "" || en.NationalID != "CCCD:079203007777" || !strings.HasPrefix(en.OTPAuthURI, "otpauth://totp/") {
		t.Fatalf("enrol: %d %s", st, raw)
	}
	if png, err := base64.StdEncoding.DecodeString(en.QRPNG); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("QR code: %v", err)
	}
	// An officer's system enrols at a desk unless it says otherwise.
	if r, err := svc.EnrolmentRecord(ctx, en.CredentialID); err != nil || r.Channel != store.ChannelDesk || r.Province != "Quảng Ngãi" {
		t.Errorf("the enrolment's record: %+v, %v", r, err)
	}
	visit := `{"cccd":"079203007779","name":"Đặng Thùy Trâm","province":"Quảng Ngãi","pin":"246802","channel":"household",` +
		`"staff_id":"staff-9","ward":"Xã Nghĩa Hành","evidence_kind":"cccd-chip","evidence_ref":"051203007779","consent_at":"2026-01-02T03:04:05Z"}`
	st, raw = post(otok, "application/json", visit)
	var en2 admin.Enrolment
	if st != http.StatusCreated || json.Unmarshal(raw, &en2) != nil {
		t.Fatalf("a household visit's enrolment: %d %s", st, raw)
	}
	if r, err := svc.EnrolmentRecord(ctx, en2.CredentialID); err != nil || r.Channel != store.ChannelHousehold || r.StaffID != "staff-9" ||
		r.Ward != "Xã Nghĩa Hành" || r.EvidenceRef != "051203007779" || r.ConsentAt.Format(time.RFC3339) != "2026-01-02T03:04:05Z" {
		t.Errorf("the household visit's record: %+v, %v", r, err)
	}
	for _, c := range []struct {
		name, tok, ctype, body string
		status                 int
		code                   string
	}{
		{"again", otok, "application/json", body, http.StatusConflict, "conflict"},
		{"portal", ptok, "application/json", body, http.StatusForbidden, "access_denied"},
		{"no token", "", "application/json", body, http.StatusUnauthorized, "invalid_token"},
		{"text", otok, "text/plain", body, http.StatusUnsupportedMediaType, "invalid_request"},
		{"unknown field", otok, "application/json", `{"cccd":"079203007778","role":"admin"}`, http.StatusBadRequest, "invalid_request"},
		{"short PIN", otok, "application/json", `{"cccd":"079203007778","name":"A B","province":"Quảng Ngãi","pin":"12"}`, http.StatusBadRequest, "invalid_request"},
		{"too large", otok, "application/json", `{"name":"` + strings.Repeat("x", 20000) + `"}`, http.StatusRequestEntityTooLarge, "invalid_request"},
		{"the operator's channel", otok, "application/json", `{"cccd":"079203007778","name":"A B","province":"Quảng Ngãi","pin":"246802","channel":"operator"}`, http.StatusBadRequest, "invalid_request"},
		{"an unknown channel", otok, "application/json", `{"cccd":"079203007778","name":"A B","province":"Quảng Ngãi","pin":"246802","channel":"post"}`, http.StatusBadRequest, "invalid_request"},
		{"an image as evidence", otok, "application/json", `{"cccd":"079203007778","name":"A B","province":"Quảng Ngãi","pin":"246802","evidence_kind":"cccd-card","evidence_ref":"` + strings.Repeat("A", 300) + `"}`, http.StatusBadRequest, "invalid_request"},
	} {
		st, raw := post(c.tok, c.ctype, c.body)
		var e admin.Error
		if st != c.status || json.Unmarshal(raw, &e) != nil || e.Error != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, raw, c.status, c.code)
		}
	}
}

// TestBearerScheme: the enrolment API reads the Authorization header as
// httpedge.Bearer does: "bearer" and "BEARER" are "Bearer".
func TestBearerScheme(t *testing.T) {
	ctx := context.Background()
	svc, ts := newServer(t)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	tok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	// An empty enrolment: 400 once the token is accepted.
	httpedgetest.Bearer(t, tok, http.StatusBadRequest, func(t *testing.T, authorization string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/v1/enrolments", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	})
}
