// Package httpedgetest is the behavioural suite every kyso API runs
// against its own handler, so that each reads the HTTP edge's inputs as
// package httpedge does.
package httpedgetest

import (
	"net/http"
	"testing"
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
