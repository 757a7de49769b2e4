package httpedgetest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Errors checks a dialect's table from error kind to status and code
// against want, kind by kind over every signing.Kind — so that a kind
// added to the core without a row in a dialect's test fails here — and
// the rules every kyso API keeps whatever its dialect: an invalid request
// is 400, a bad bearer token or client credential 401 (RFC 6750 section
// 3.1, RFC 6749 section 5.2), a rate limit 429 (RFC 6585), busy 503, an
// internal error 500.
func Errors(t *testing.T, table, want map[signing.Kind]httpedge.Wire) {
	t.Helper()
	every := map[signing.Kind]int{
		signing.KindInvalid:       http.StatusBadRequest,
		signing.KindTokenInvalid:  http.StatusUnauthorized,
		signing.KindClientInvalid: http.StatusUnauthorized,
		signing.KindRateLimited:   http.StatusTooManyRequests,
		signing.KindBusy:          http.StatusServiceUnavailable,
		signing.KindInternal:      http.StatusInternalServerError,
	}
	for _, k := range signing.Kinds() {
		w, ok := want[k]
		if !ok {
			t.Errorf("kind %s: the test does not say how the dialect answers it", k)
			continue
		}
		if got, ok := table[k]; !ok || got != w {
			t.Errorf("kind %s: the table says %+v (present: %v), want %+v", k, got, ok, w)
		}
		if s, ok := every[k]; ok && w.Status != s {
			t.Errorf("kind %s: HTTP %d, but every kyso API answers it %d", k, w.Status, s)
		}
		if w.Status < 400 || w.Status > 599 {
			t.Errorf("kind %s: HTTP %d is not an error", k, w.Status)
		}
	}
	if len(table) != len(signing.Kinds()) {
		t.Errorf("the table has %d rows for %d kinds", len(table), len(signing.Kinds()))
	}
}

// Edge checks what every answer of every API carries: Cache-Control
// no-store (tokens, SADs, transactions are never cached) and an
// X-Request-ID, equal to the body's request_id when the body has one.
// It returns the request ID.
func Edge(t testing.TB, resp *http.Response) string {
	t.Helper()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s %s: HTTP %d with Cache-Control %q, want no-store", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, cc)
	}
	id := resp.Header.Get(httpedge.RequestIDHeader)
	if id == "" {
		t.Errorf("%s %s: HTTP %d without %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, httpedge.RequestIDHeader)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var v struct {
		RequestID *string `json:"request_id"`
		Message   string  `json:"message"`
	}
	if resp.StatusCode >= 400 && json.Unmarshal(body, &v) == nil {
		switch {
		case v.RequestID != nil && *v.RequestID != id:
			t.Errorf("%s %s: HTTP %d: body's request_id %q, header's %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, *v.RequestID, id)
		case v.RequestID == nil && resp.StatusCode == http.StatusInternalServerError && !strings.Contains(v.Message, id):
			t.Errorf("%s %s: HTTP 500 without its request ID: %s", resp.Request.Method, resp.Request.URL.Path, body)
		}
	}
	return id
}

// RequestIDs sends requests through send, which sets header on one
// request and returns its answer, and checks that an answer always has a
// request ID, a different one for each request sent without one, the
// caller's own when it is sane, and a fresh one in place of an insane
// one (too long, or with characters a log line must not hold).
func RequestIDs(t *testing.T, send func(t *testing.T, header http.Header) *http.Response) {
	t.Helper()
	seen := map[string]bool{}
	for range 3 {
		id := Edge(t, send(t, http.Header{}))
		if seen[id] {
			t.Errorf("request ID %q given to two requests", id)
		}
		seen[id] = true
	}
	if id := Edge(t, send(t, http.Header{httpedge.RequestIDHeader: {"portal-42.a_b:c"}})); id != "portal-42.a_b:c" {
		t.Errorf("a sane X-Request-ID came back as %q", id)
	}
	for _, bad := range []string{strings.Repeat("x", 65), "a b", "a;b", "ý", "<x>"} {
		if id := Edge(t, send(t, http.Header{httpedge.RequestIDHeader: {bad}})); id == bad || id == "" || seen[id] {
			t.Errorf("X-Request-ID %q came back as %q", bad, id)
		}
	}
}

// Send makes one request to url with header, a JSON body (if any) and a
// bearer token (if any), through client, and returns the raw answer: the
// one way the dialects' edge tests send what they check.
func Send(t testing.TB, client *http.Client, method, url, token, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
