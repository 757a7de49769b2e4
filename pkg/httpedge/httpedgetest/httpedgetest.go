// Package httpedgetest is the behavioural suite every kyso API runs
// against its own handler, so that each reads the HTTP edge's inputs as
// package httpedge does.
package httpedgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
)

// Bearer sends one request per Authorization header below (send gets ""
// for a request without one) and checks that the API accepts token in the
// Bearer scheme whatever the scheme's case (RFC 9110 section 11.1) and
// with several spaces — the request then gets status accepted — and
// answers 401 to another scheme, to the scheme without a token, and to no
// header at all. send returns the HTTP status of the answer.
func Bearer(t *testing.T, token string, accepted int, send func(t *testing.T, authorization string) int) {
	t.Helper()
	for _, c := range []struct {
		name, header string
		want         int
	}{
		{"Bearer", "Bearer " + token, accepted},
		{"bearer, lower case", "bearer " + token, accepted},
		{"BEARER, upper case", "BEARER " + token, accepted},
		{"several spaces", "Bearer   " + token, accepted},
		{"no header", "", http.StatusUnauthorized},
		{"Basic", "Basic a3lzbzpreXNv", http.StatusUnauthorized},
		{"Basic with the token", "Basic " + token, http.StatusUnauthorized},
		{"scheme without a token", "Bearer", http.StatusUnauthorized},
		{"scheme and a space", "Bearer ", http.StatusUnauthorized},
		{"unknown token", "Bearer bm90LWEtdG9rZW4", http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := send(t, c.header); got != c.want {
				t.Errorf("Authorization: %q answered HTTP %d, want %d", c.header, got, c.want)
			}
		})
	}
}

// Answer checks an API's answer to a request a fuzzer made up: never a
// server error, always one JSON object, and no string in it (member
// names included) that display.Text refuses — whatever an API says may
// reach someone's screen, so it never carries a control, bidirectional
// or invisible character, even one the request sent. data names the
// members that are data rather than text, such as "answer.certificate"
// (a PEM certificate, in lines): their values are not checked.
func Answer(t testing.TB, status int, body []byte, data ...string) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	if status == http.StatusNoContent && len(body) == 0 {
		return
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("HTTP %d, not a JSON object: %v: %q", status, err, body)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case string:
			if slices.Contains(data, path) {
				return
			}
			if err := display.Text(path, x); err != nil {
				t.Fatalf("HTTP %d: %v: %q", status, err, body)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case map[string]any:
			for k, e := range x {
				if err := display.Text(path+" member name", k); err != nil {
					t.Fatalf("HTTP %d: %v: %q", status, err, body)
				}
				walk(path+"."+k, e)
			}
		}
	}
	walk("answer", v)
}

// SourceBurst is the per-source burst RateLimited expects the API under
// test to have been given: SourceLimits' Source limiter.
const SourceBurst = 5

// SourceLimits returns limits with a per-source burst of SourceBurst that
// refills too slowly to matter during a test (one token in 1000 s), and
// no per-client limit: what RateLimited's API is to be built with.
func SourceLimits() *httpedge.Limits {
	return &httpedge.Limits{Source: httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: SourceBurst}, nil)}
}

// RateLimited floods one of an API's limited routes from one source
// address, as an attacker would, and checks the per-source limit: the
// first SourceBurst requests get their usual answer (status served), the
// following ones 429 with a Retry-After of whole seconds, at least one
// (RFC 6585 section 4, RFC 9110 section 10.2.3), and a request from
// another source address still gets its usual answer. The API is built
// with SourceLimits(); send sends one request from the IP address source
// (as the request's RemoteAddr) and returns the answer's status and
// header.
func RateLimited(t *testing.T, served int, send func(t *testing.T, source string) (int, http.Header)) {
	t.Helper()
	const flooder, other = "198.51.100.66", "203.0.113.7"
	for i := range SourceBurst + 10 {
		status, h := send(t, flooder)
		switch {
		case i < SourceBurst && status != served:
			t.Fatalf("request %d of a burst of %d: HTTP %d, want %d", i+1, SourceBurst, status, served)
		case i >= SourceBurst && status != http.StatusTooManyRequests:
			t.Fatalf("request %d, past the burst of %d: HTTP %d, want 429", i+1, SourceBurst, status)
		case i >= SourceBurst:
			if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("429 with Retry-After %q, want whole seconds ≥ 1", h.Get("Retry-After"))
			}
		}
	}
	if status, _ := send(t, other); status != served {
		t.Fatalf("another source address after the flood: HTTP %d, want %d", status, served)
	}
}
