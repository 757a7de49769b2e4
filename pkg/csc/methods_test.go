package csc_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
)

// TestWrongHTTPMethod: a known CSC method asked with another HTTP method
// gets 405 and an Allow header (RFC 9110 section 15.5.6), an unknown one
// 404; and a body that is JSON but not an object — null above all, which
// revoke would take for no body and revoke the caller's own token — is
// malformed. schemathesis (unsupported_method, negative_data_rejection)
// found both.
func TestWrongHTTPMethod(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	tok, err := e.client.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, c := range []struct {
		method, path, allow string
		status              int
	}{
		{"TRACE", "/csc/v2/info", "GET, POST", http.StatusMethodNotAllowed},
		{http.MethodGet, "/csc/v2/credentials/list", "POST", http.StatusMethodNotAllowed},
		{http.MethodPut, "/csc/v2/oauth2/token", "POST", http.StatusMethodNotAllowed},
		{http.MethodPost, "/csc/v2/signatures/signPolling", "", http.StatusNotFound},
	} {
		resp, body := do(c.method, c.path, "")
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow || !strings.Contains(body, `"invalid_request"`) {
			t.Errorf("%s %s = %d, Allow %q, %s; want %d, Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), body, c.status, c.allow)
		}
	}
	for _, body := range []string{"null", " null", "[]", `"token"`, "0"} {
		if resp, got := do(http.MethodPost, "/csc/v2/auth/revoke", body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "not a JSON object") {
			t.Errorf("revoke with %s = %d %s, want 400", body, resp.StatusCode, got)
		}
	}
	// The token survived them all.
	if resp, body := do(http.MethodPost, "/csc/v2/credentials/info", ` {"credentialID":"`+e.cred.CredentialID+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("credentials/info after the bad revokes: %d %s", resp.StatusCode, body)
	}
}
