package owner_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestErrorTable: every error kind of the core has its status and code in
// kyso's own table, httpedge.Own, which the owners' and the officers' APIs
// both answer with (checked here once, for both).
func TestErrorTable(t *testing.T) {
	httpedgetest.Errors(t, httpedge.Own, map[signing.Kind]httpedge.Wire{
		signing.KindInternal:      {Status: 500, Code: "server_error"},
		signing.KindInvalid:       {Status: 400, Code: "invalid_request"},
		signing.KindNotFound:      {Status: 404, Code: "not_found"},
		signing.KindConflict:      {Status: 409, Code: "conflict"},
		signing.KindExpired:       {Status: 400, Code: "invalid_request"},
		signing.KindDenied:        {Status: 403, Code: "access_denied"},
		signing.KindLocked:        {Status: 429, Code: "account_locked"},
		signing.KindClientInvalid: {Status: 401, Code: "invalid_client"},
		signing.KindTokenInvalid:  {Status: 401, Code: "invalid_token"},
		signing.KindBusy:          {Status: 503, Code: "temporarily_unavailable"},
		signing.KindRateLimited:   {Status: 429, Code: "too_many_requests"},
	})
}

// send makes one request to the owners' API with header and an owner's
// token (if any), and returns the raw answer.
func (e *env) send(t testing.TB, method, path, token, body string, header http.Header) *http.Response {
	return httpedgetest.Send(t, e.srv.Client(), method, e.srv.URL+path, token, body, header)
}

// TestEdgeHeaders: every answer, refusals included, is no-store and has
// its own request ID, which error bodies repeat.
func TestEdgeHeaders(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, e.citizen)
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "/owner/v1/transactions", tok, "", 200},
		{"GET", "/owner/v1/transactions", "", "", 401},
		{"GET", "/owner/v1/transactions", "bm90LWEtdG9rZW4", "", 401},
		{"POST", "/owner/v1/login", "", `{"national_id":"079203001234","pin":"000000","otp":"000000"}`, 403},
		{"POST", "/owner/v1/login", "", `{"national_id":`, 400},
		{"POST", "/owner/v1/login", "", "{\"pad\":\"" + strings.Repeat("x", 20<<10) + "\"}", 413},
		{"DELETE", "/owner/v1/login", "", "", 405},
		{"GET", "/owner/v1/nothing", "", "", 404},
		{"POST", "/owner/v1/transactions/none/approve", tok, `{"pin":"135790","otp":"000000"}`, 404},
	} {
		resp := e.send(t, c.method, c.path, c.token, c.body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: HTTP %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		httpedgetest.Edge(t, resp)
	}
	httpedgetest.RequestIDs(t, func(t *testing.T, h http.Header) *http.Response {
		return e.send(t, "GET", "/owner/v1/transactions", "", "", h)
	})
}

// TestExpiredToken: an owner's token past its life is 401 invalid_token
// with the RFC 6750 challenge, as on every API that takes bearer tokens.
func TestExpiredToken(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, e.citizen)
	e.clock.Advance(time.Hour + time.Second)
	resp := e.send(t, "GET", "/owner/v1/transactions", tok, "", nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("an expired token: HTTP %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
