package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// TestEdge: every answer of the officers' API is no-store with its own
// request ID, and an officer's token past its life is 401 invalid_token
// with the RFC 6750 challenge, as on every API that takes bearer tokens.
func TestEdge(t *testing.T) {
	ctx := context.Background()
	se := signingtest.New(t, nil)
	svc := se.Service
	ts := httptest.NewServer(admin.NewHandler(svc, nil))
	t.Cleanup(ts.Close)
	officer, _ := svc.CreateClient(ctx, "Bộ phận một cửa", "", "test", signing.AsOfficer())
	tok, _, err := svc.ClientToken(ctx, officer.ID, officer.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	send := func(t *testing.T, method, path, token, body string, h http.Header) *http.Response {
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", "application/json")
		return httpedgetest.Send(t, http.DefaultClient, method, ts.URL+path, token, body, h)
	}
	const path = "/admin/v1/enrolments"
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"POST", path, tok, `{"cccd":"079203007777","name":"Đặng Thùy Trâm","province":"Quảng Ngãi","pin":"246802"}`, 201},
		{"POST", path, tok, `{"cccd":"079203007777","name":"Đặng Thùy Trâm","province":"Quảng Ngãi","pin":"246802"}`, 409},
		{"POST", path, tok, `{"cccd":`, 400},
		{"POST", path, "", `{}`, 401},
		{"GET", path, "", "", 405},
		{"GET", "/admin/v1/nothing", "", "", 404},
	} {
		resp := send(t, c.method, c.path, c.token, c.body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: HTTP %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		httpedgetest.Edge(t, resp)
	}
	httpedgetest.RequestIDs(t, func(t *testing.T, h http.Header) *http.Response {
		return send(t, "POST", path, "", "{}", h)
	})
	se.Clock.Advance(time.Hour + time.Second)
	resp := send(t, "POST", path, tok, `{"cccd":"079203008888","name":"Lê Văn Tám","province":"Hà Nội","pin":"246802"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("an expired token: HTTP %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
