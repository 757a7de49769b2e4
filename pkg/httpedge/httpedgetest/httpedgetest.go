// Package httpedgetest is the behavioural suite every kyso API runs
// against its own handler, so that each reads the HTTP edge's inputs as
// package httpedge does.
package httpedgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/kyso-pki/kyso/pkg/display"
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
