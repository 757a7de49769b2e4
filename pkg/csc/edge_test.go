package csc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestErrorTable: every error kind of the core has its status and CSC
// error code (CSC API v2 section 10.1, RFC 6749 section 5.2, RFC 6750
// section 3.1).
func TestErrorTable(t *testing.T) {
	httpedgetest.Errors(t, csc.Errors, map[signing.Kind]httpedge.Wire{
		signing.KindInternal:      {Status: 500, Code: "server_error"},
		signing.KindInvalid:       {Status: 400, Code: "invalid_request"},
		signing.KindNotFound:      {Status: 400, Code: "invalid_request"},
		signing.KindConflict:      {Status: 400, Code: "invalid_request"},
		signing.KindExpired:       {Status: 400, Code: "invalid_request"},
		signing.KindDenied:        {Status: 403, Code: "access_denied"},
		signing.KindLocked:        {Status: 429, Code: "account_locked"},
		signing.KindClientInvalid: {Status: 401, Code: "invalid_client"},
		signing.KindTokenInvalid:  {Status: 401, Code: "invalid_token"},
		signing.KindBusy:          {Status: 503, Code: "temporarily_unavailable"},
		signing.KindRateLimited:   {Status: 429, Code: "too_many_requests"},
	})
}

// send makes one request to the CSC API with header and a bearer token
// (if any).
func (e *env) send(t testing.TB, method, path, token, body string, header http.Header) *http.Response {
	return httpedgetest.Send(t, e.ts.Client(), method, e.ts.URL+"/csc/v2/"+path, token, body, header)
}

// TestEdgeHeaders: every answer, refusals included, is no-store and has
// its own request ID, which error bodies repeat.
func TestEdgeHeaders(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	tok, err := e.client.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "info", "", "", 200},
		{"POST", "credentials/list", tok, "{}", 200},
		{"POST", "credentials/list", "", "{}", 401},
		{"POST", "credentials/list", "bm90LWEtdG9rZW4", "{}", 401},
		{"POST", "credentials/info", tok, `{"credentialID":"nope"}`, 400},
		{"POST", "credentials/info", tok, `{"credentialID":`, 400},
		{"POST", "oauth2/token", "", "", 400},
		{"POST", "auth/login", "", "", 401},
		{"GET", "credentials/list", "", "", 405},
		{"POST", "nothing", "", "", 404},
	} {
		resp := e.send(t, c.method, c.path, c.token, c.body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: HTTP %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		httpedgetest.Edge(t, resp)
	}
	httpedgetest.RequestIDs(t, func(t *testing.T, h http.Header) *http.Response {
		return e.send(t, "POST", "credentials/list", "", "{}", h)
	})
}

// TestExpiredToken: a token past its life is 401 invalid_token with the
// RFC 6750 challenge, as on every API that takes bearer tokens.
func TestExpiredToken(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	tok, err := e.client.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour + time.Second)
	resp := e.send(t, "POST", "credentials/list", tok, "{}", nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("an expired token: HTTP %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
