package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestRegistrationAPI: officers list the pending registrations (hostile
// text the citizen typed comes back as JSON data, never a PIN or claim
// hash), show one, approve with evidence (once: of four officers at once
// one enrols, channel online; the answer carries no second factor) or
// refuse with a reason (never after an approval, nor an approval after
// a refusal); a portal's token, no token, an unknown registration, a bad
// body and another method are refused.
func TestRegistrationAPI(t *testing.T) {
	ctx := context.Background()
	svc := signingtest.New(t, nil).Service
	ts := httptest.NewServer(admin.NewHandler(svc, nil))
	t.Cleanup(ts.Close)
	otok, ptok, officerID := officerAndPortal(t, svc)
	hostile := `<img src=x onerror=alert(1)>"'&`
	a, err := svc.Register(ctx, &signing.RegisterRequest{CCCD: "079203008881", Name: "Phạm Thị Hoa", Province: "Hà Nội",
		Ward: hostile, Email: "hoa@example.vn", PIN: "246802", Consent: "Tôi đồng ý", Actor: "app:test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Register(ctx, &signing.RegisterRequest{CCCD: "079203008882", Name: "Đỗ Văn Bình", Province: "Huế",
		Phone: "0912345678", PIN: "246802", Consent: "Tôi đồng ý", Actor: "app:test"})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, token, path, body string) (int, []byte) {
		t.Helper()
		resp := httpedgetest.Send(t, http.DefaultClient, method, ts.URL+"/admin/v1/registrations"+path, token, body, nil)
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		httpedgetest.Edge(t, resp)
		return resp.StatusCode, out
	}
	for _, c := range []struct {
		name, method, token, path, body string
		status                          int
	}{
		{"no token", http.MethodGet, "", "", "", http.StatusUnauthorized},
		{"a portal's token", http.MethodGet, ptok, "", "", http.StatusForbidden},
		{"a portal approving", http.MethodPost, ptok, "/" + a.ID + "/approve", `{"evidence_kind":"cccd-card"}`, http.StatusForbidden},
		{"unknown registration", http.MethodGet, otok, "/no-such", "", http.StatusNotFound},
		{"approving an unknown one", http.MethodPost, otok, "/no-such/approve", `{"evidence_kind":"cccd-card"}`, http.StatusNotFound},
		{"no evidence", http.MethodPost, otok, "/" + a.ID + "/approve", `{}`, http.StatusBadRequest},
		{"unknown evidence", http.MethodPost, otok, "/" + a.ID + "/approve", `{"evidence_kind":"photo"}`, http.StatusBadRequest},
		{"an unknown field", http.MethodPost, otok, "/" + a.ID + "/approve", `{"evidence_kind":"cccd-card","pin":"1"}`, http.StatusBadRequest},
		{"no reason", http.MethodPost, otok, "/" + b.ID + "/refuse", `{"reason":""}`, http.StatusBadRequest},
		{"a bad status", http.MethodGet, otok, "?status=all", "", http.StatusBadRequest},
		{"a bad limit", http.MethodGet, otok, "?limit=0", "", http.StatusBadRequest},
		{"another method", http.MethodDelete, otok, "/" + a.ID, "", http.StatusMethodNotAllowed},
	} {
		if st, body := call(c.method, c.token, c.path, c.body); st != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, st, body, c.status)
		}
	}
	st, body := call(http.MethodGet, otok, "", "")
	var list struct{ Registrations []map[string]any }
	if err := json.Unmarshal(body, &list); st != http.StatusOK || err != nil || len(list.Registrations) != 2 {
		t.Fatalf("list: %d %s", st, body)
	}
	byID := map[string]map[string]any{}
	for _, r := range list.Registrations {
		byID[r["id"].(string)] = r
	}
	if byID[a.ID]["ward"] != hostile || strings.Contains(string(body), "<img") || strings.Contains(string(body), "argon2") {
		t.Errorf("the list shows the ward as %v; body %s", byID[a.ID]["ward"], body)
	}
	for _, k := range []string{"pin_hash", "claim_hash", "pin"} {
		if _, ok := byID[a.ID][k]; ok {
			t.Errorf("the list shows %s", k)
		}
	}

	// Four officers approve at once: one enrols.
	var wg sync.WaitGroup
	codes := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := call(http.MethodPost, otok, "/"+a.ID+"/approve", `{"evidence_kind":"cccd-card","evidence_ref":"video 12"}`)
			codes <- st
		}()
	}
	wg.Wait()
	close(codes)
	ok, conflict := 0, 0
	for c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			conflict++
		}
	}
	if ok != 1 || conflict != 3 {
		t.Fatalf("concurrent approvals: %d ok, %d conflicts", ok, conflict)
	}
	st, body = call(http.MethodGet, otok, "/"+a.ID, "")
	var got admin.Registration
	if err := json.Unmarshal(body, &got); st != http.StatusOK || err != nil || got.Status != store.RegistrationApproved ||
		got.CredentialID == "" || got.EvidenceRef != "video 12" || got.DecidedBy != "officer:"+officerID || strings.Contains(string(body), "otpauth") {
		t.Fatalf("approved registration: %d %s", st, body)
	}
	if rec, err := svc.EnrolmentRecord(ctx, got.CredentialID); err != nil || rec.Channel != store.ChannelOnline || rec.StaffID != "" {
		t.Errorf("enrolment record %+v, %v", rec, err)
	}
	if st, body := call(http.MethodPost, otok, "/"+a.ID+"/refuse", `{"reason":"late"}`); st != http.StatusConflict {
		t.Errorf("refusing an approved registration: %d %s", st, body)
	}
	if st, body := call(http.MethodPost, otok, "/"+b.ID+"/refuse", `{"reason":"Ảnh không khớp"}`); st != http.StatusOK ||
		!strings.Contains(string(body), `"status":"refused"`) {
		t.Fatalf("refuse: %d %s", st, body)
	}
	if st, body := call(http.MethodPost, otok, "/"+b.ID+"/approve", `{"evidence_kind":"cccd-card"}`); st != http.StatusConflict {
		t.Errorf("approving a refused registration: %d %s", st, body)
	}
	if st, body := call(http.MethodGet, otok, "?status=refused", ""); st != http.StatusOK || !strings.Contains(string(body), b.ID) {
		t.Errorf("refused list: %d %s", st, body)
	}
}
