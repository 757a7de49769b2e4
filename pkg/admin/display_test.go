package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestEnrolRefusesLookAlikes is issue 13's review tried against the
// officers' API: a Cyrillic "а" inside a Vietnamese name, the PINs 000000
// and 123456, and text that would not show as it is. Each is a 400 that
// names the field; a Vietnamese name with a PIN of no pattern enrols.
func TestEnrolRefusesLookAlikes(t *testing.T) {
	svc, ts := newServer(t)
	tok := officerToken(t, svc)
	enrol := func(req admin.EnrolRequest) (int, admin.Error) {
		t.Helper()
		b, _ := json.Marshal(req)
		hr, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/v1/enrolments", bytes.NewReader(b))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e admin.Error
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e
	}
	base := admin.EnrolRequest{CCCD: "001203005001", Name: "Nguyễn Văn An", Province: "Hà Nội", PIN: "271828"}
	for i, c := range []struct {
		name string
		edit func(*admin.EnrolRequest)
		want string
	}{
		{"Cyrillic а in Văn", func(r *admin.EnrolRequest) { r.Name = "Nguyễn V\u0430n An" }, `name "Nguyễn Vаn An" mixes scripts: 'N' (U+004E) is Latin, 'а' (U+0430) is Cyrillic`},
		{"Greek ο", func(r *admin.EnrolRequest) { r.Name = "Tr\u03bfng An" }, "mixes scripts"},
		{"a wholly Cyrillic name", func(r *admin.EnrolRequest) { r.Name = "Иван Петров" }, "is a Cyrillic letter"},
		{"mathematical bold V", func(r *admin.EnrolRequest) { r.Name = "Nguyễn \U0001d415ăn An" }, "compatibility form"},
		{"escape in the name", func(r *admin.EnrolRequest) { r.Name = "An\x1b[2J" }, "name: control character U+001B at position 3 is not allowed"},
		{"right-to-left override in the name", func(r *admin.EnrolRequest) { r.Name = "An\u202eBình" }, "name: bidirectional control U+202E at position 3 is not allowed"},
		{"PIN 000000", func(r *admin.EnrolRequest) { r.PIN = "000000" }, "the PIN is too easy to guess: one digit repeated"},
		{"PIN 123456", func(r *admin.EnrolRequest) { r.PIN = "123456" }, "the PIN is too easy to guess: a run of ascending digits"},
		{"PIN 654321", func(r *admin.EnrolRequest) { r.PIN = "654321" }, "descending"},
		{"PIN of the CCCD", func(r *admin.EnrolRequest) { r.PIN = r.CCCD[6:] }, "CCCD"},
		{"PIN of the birth year", func(r *admin.EnrolRequest) { r.PIN = "01012003" }, "year of birth"},
		{"escape in the phone", func(r *admin.EnrolRequest) { r.Phone = "0912345678\x1b[2J" }, "phone: control character U+001B at position 11 is not allowed"},
		{"zero-width space in the phone", func(r *admin.EnrolRequest) { r.Phone = "0912\u200b345678" }, "phone: invisible character U+200B"},
		{"escape in the e-mail", func(r *admin.EnrolRequest) { r.Email = "an@example.vn\x1b[2J" }, "e-mail address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := base
			req.CCCD = fmt.Sprintf("0012030051%02d", i) // each case its own citizen
			c.edit(&req)
			status, e := enrol(req)
			if status != http.StatusBadRequest || e.Error != "invalid_request" || !strings.Contains(e.Description, c.want) {
				t.Errorf("HTTP %d %+v; want 400 with %q", status, e, c.want)
			}
		})
	}
	if status, e := enrol(base); status != http.StatusCreated {
		t.Errorf("a Vietnamese name with a PIN of no pattern: HTTP %d %+v", status, e)
	}
}

// officerToken registers a registration officer's client and returns a
// token of scope enrol.
func officerToken(t testing.TB, svc *signing.Service) string {
	t.Helper()
	ctx := context.Background()
	officer, err := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
