package admin_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestUsageAPI: an officer reads the signatures counted per citizen and
// per portal; every officer sees the same counts (officers are the
// provider's staff, not a portal's); no token, a portal's token, an
// expired token, malformed or unbounded periods and unknown or repeated
// parameters are refused with a clear error, and hostile text comes back
// escaped.
func TestUsageAPI(t *testing.T) {
	ctx := context.Background()
	se := signingtest.New(t, nil)
	svc := se.Service
	ts := httptest.NewServer(admin.NewHandler(svc, nil))
	t.Cleanup(ts.Close)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	officer2, _ := svc.CreateClient(ctx, "Bộ phận một cửa Huế", "", "test", signing.AsOfficer())
	pub, _ := svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test", signing.InCategory(store.CategoryPublicService))
	com, _ := svc.CreateClient(ctx, "Ứng dụng hợp đồng", "", "test")
	otok, otok2, ptok := clientToken(t, svc, officer), clientToken(t, svc, officer2), clientToken(t, svc, pub)
	en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203006666", Name: "Đặng Thùy Trâm", Province: "Quảng Ngãi", PIN: "246802",
		Algorithm: hsm.ECDSAP256, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i, client := range []string{pub.ID, pub.ID, com.ID} {
		d := sha256.Sum256([]byte{byte(i)})
		tx, _, err := svc.Submit(ctx, &signing.SubmitRequest{ClientID: client, ClientRef: string(rune('a' + i)), NationalID: en.NationalID,
			Documents: []signing.Document{{DocID: "d.pdf", Hash: d[:]}}})
		if err != nil {
			t.Fatal(err)
		}
		se.Clock.Advance(30 * time.Second)
		if _, err := svc.Approve(ctx, en.OwnerID, tx.ID, "246802", se.Code(t, en)); err != nil {
			t.Fatal(err)
		}
	}
	today := se.Clock.Now().UTC().Format(time.DateOnly)
	get := func(token, query string) (int, []byte) {
		t.Helper()
		resp := httpedgetest.Send(t, http.DefaultClient, http.MethodGet, ts.URL+"/admin/v1/usage?"+query, token, "", nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		httpedgetest.Edge(t, resp)
		return resp.StatusCode, b
	}
	q := url.Values{"from": {today}, "to": {today}, "cccd": {"079203006666"}}.Encode()
	st, raw := get(otok, q)
	var u signing.Usage
	if st != http.StatusOK || json.Unmarshal(raw, &u) != nil || len(u.Citizens) != 1 || len(u.Portals) != 2 ||
		u.Citizens[0].ByCategory[store.CategoryPublicService] != (signing.UsageCount{Free: 2}) ||
		u.Citizens[0].ByCategory[store.CategoryCommercial] != (signing.UsageCount{Metered: 1}) {
		t.Fatalf("usage: %d %s", st, raw)
	}
	if st, raw2 := get(otok2, q); st != http.StatusOK || string(raw2) != string(raw) {
		t.Errorf("another officer: %d %s, want the same counts", st, raw2)
	}
	hostile := `<script>alert(1)</script>`
	for _, c := range []struct {
		name, token, query string
		status             int
		code, says         string
	}{
		{"no token", "", q, http.StatusUnauthorized, "invalid_token", "scope enrol"},
		{"a portal's token", ptok, q, http.StatusForbidden, "access_denied", "registration officers"},
		{"a forged token", "forged", q, http.StatusUnauthorized, "invalid_token", ""},
		{"no dates", otok, "", http.StatusBadRequest, "invalid_request", "not a date"},
		{"a bad date", otok, "from=2026-02-30&to=2026-03-01", http.StatusBadRequest, "invalid_request", "not a date"},
		{"a hostile date", otok, url.Values{"from": {hostile}, "to": {today}}.Encode(), http.StatusBadRequest, "invalid_request", "not a date"},
		{"a huge date", otok, url.Values{"from": {strings.Repeat("9", 5000)}, "to": {today}}.Encode(), http.StatusBadRequest, "invalid_request", "not a date"},
		{"reversed", otok, "from=2026-03-02&to=2026-03-01", http.StatusBadRequest, "invalid_request", "before it starts"},
		{"a huge range", otok, "from=0001-01-01&to=9999-12-31", http.StatusBadRequest, "invalid_request", "longer than 366 days"},
		{"367 days", otok, "from=2025-01-01&to=2026-01-02", http.StatusBadRequest, "invalid_request", "longer than 366 days"},
		{"a bad CCCD", otok, "from=" + today + "&to=" + today + "&cccd=1%27%20OR%201=1", http.StatusBadRequest, "invalid_request", "cccd"},
		{"an unknown CCCD", otok, "from=" + today + "&to=" + today + "&cccd=079203000001", http.StatusNotFound, "not_found", "no citizen"},
		{"an unknown client", otok, "from=" + today + "&to=" + today + "&client=nobody", http.StatusNotFound, "not_found", "no such client"},
		{"an unknown parameter", otok, "from=" + today + "&to=" + today + "&owner=x", http.StatusBadRequest, "invalid_request", "unknown parameter"},
		{"a repeated parameter", otok, "from=" + today + "&to=" + today + "&cccd=079203006666&cccd=079203000001", http.StatusBadRequest, "invalid_request", "given 2 times"},
	} {
		st, raw := get(c.token, c.query)
		var e admin.Error
		if st != c.status || json.Unmarshal(raw, &e) != nil || e.Error != c.code || !strings.Contains(e.Description, c.says) {
			t.Errorf("%s: %d %s, want %d %s %q", c.name, st, raw, c.status, c.code, c.says)
		}
		if strings.Contains(string(raw), "<script>") {
			t.Errorf("%s: the answer holds the hostile text unescaped: %s", c.name, raw)
		}
	}
	resp := httpedgetest.Send(t, http.DefaultClient, http.MethodPost, ts.URL+"/admin/v1/usage?"+q, otok, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// An officer's token past its life reads nothing.
	se.Clock.Advance(time.Hour + time.Second)
	if st, raw := get(otok, q); st != http.StatusUnauthorized {
		t.Errorf("an expired token: %d %s", st, raw)
	}
}

// clientToken is an access token of client c's.
func clientToken(t *testing.T, svc *signing.Service, c *signing.ClientCredentials) string {
	t.Helper()
	tk, _, err := svc.ClientToken(context.Background(), c.ID, c.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}
