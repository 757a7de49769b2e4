package owner_test

import (
	"net/http"
	"testing"
)

// TestWrongMethod: a known route asked with another method gets 405 and
// the methods it takes in Allow (RFC 9110 section 15.5.6); an unknown one
// 404. schemathesis's unsupported_method check found the 404s.
func TestWrongMethod(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path, allow string
		status              int
	}{
		{http.MethodGet, "/owner/v1/login", "POST", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/owner/v1/transactions", "GET", http.StatusMethodNotAllowed},
		{"TRACE", "/owner/v1/transactions/abc/approve", "POST", http.StatusMethodNotAllowed},
		{http.MethodPost, "/owner/v1/nope", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(c.method, e.srv.URL+c.path, nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s = %d, Allow %q, %s; want %d, Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"),
				resp.Header.Get("Content-Type"), c.status, c.allow)
		}
	}
}

// TestBodyNotObject: a body that is JSON but not an object — null above
// all, which decodes into nothing — is malformed, not an empty request.
func TestBodyNotObject(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, e.citizen)
	for _, body := range []string{"null", "[]", `"x"`, "1"} {
		status, raw := e.do(t, http.MethodPost, "/owner/v1/transactions/abc/reject", tok, "application/json", body)
		expect(t, "reject with "+body, status, raw, http.StatusBadRequest, "invalid_request")
	}
	status, raw := e.do(t, http.MethodPost, "/owner/v1/transactions/abc/reject", tok, "application/json", "{}")
	expect(t, "reject with {}", status, raw, http.StatusNotFound, "not_found")
}
