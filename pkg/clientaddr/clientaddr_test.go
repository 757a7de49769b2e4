package clientaddr_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/clientaddr"
)

// TestResolve: the client address of a request, as an attacker would
// try it: a header from an untrusted peer changes nothing; behind a
// trusted proxy the rightmost untrusted entry is the client, whatever
// the client wrote to its left; garbage, an endless chain and several
// header lines are bounded and never trusted further than the proxies.
func TestResolve(t *testing.T) {
	tr, err := clientaddr.Parse([]string{"10.0.0.0/8", "192.0.2.7", " 2001:db8:feed::/48 "})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("10.1.1.1, ", clientaddr.MaxHops+1) + "10.1.1.2"
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no header", "198.51.100.1:5000", nil, "198.51.100.1"},
		{"spoofed from an untrusted peer", "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"spoofed from a peer just outside the trusted prefix", "11.0.0.1:1", []string{"203.0.113.9"}, "11.0.0.1"},
		{"a peer that is no address", "10.0.0.1.5:1", []string{"203.0.113.9"}, "10.0.0.1.5"},
		{"a trusted proxy", "10.0.0.5:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a trusted single address", "192.0.2.7:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a trusted proxy without a header", "10.0.0.5:443", nil, "10.0.0.5"},
		{"a spoofed leftmost entry", "10.0.0.5:443", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted hops", "10.0.0.5:443", []string{"6.6.6.6, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"two header lines", "10.0.0.5:443", []string{"6.6.6.6", "203.0.113.9"}, "203.0.113.9"},
		{"every hop trusted", "10.0.0.5:443", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"garbage at the right", "10.0.0.5:443", []string{"203.0.113.9, <script>"}, "10.0.0.5"},
		{"garbage left of the client", "10.0.0.5:443", []string{"<script>, 203.0.113.9"}, "203.0.113.9"},
		{"a chain longer than MaxHops", "10.0.0.5:443", []string{long}, "10.0.0.5"},
		{"an entry with a port", "10.0.0.5:443", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"IPv6 behind an IPv6 proxy", "[2001:db8:feed::1]:443", []string{"2001:db8:1::7"}, "2001:db8:1::7"},
		{"IPv4-mapped", "[::ffff:10.0.0.5]:443", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
	} {
		if got := tr.Resolve(c.peer, c.xff); got != c.want {
			t.Errorf("%s: Resolve(%q, %q) = %q, want %q", c.name, c.peer, c.xff, got, c.want)
		}
	}
	var none *clientaddr.Trusted
	if got := none.Resolve("10.0.0.5:443", []string{"203.0.113.9"}); got != "10.0.0.5" {
		t.Errorf("no trusted proxies: %q", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", ""} {
		if _, err := clientaddr.Parse([]string{bad}); err == nil || !strings.Contains(err.Error(), "trusted proxy") {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}

// TestHandler: Of is what Handler resolved, and the peer's address without
// a trusted proxy or outside Handler.
func TestHandler(t *testing.T) {
	tr, err := clientaddr.Parse([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientaddr.Of(r) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr, got = "10.0.0.5:443", ""
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "203.0.113.9" {
		t.Errorf("behind a trusted proxy: %q", got)
	}
	r.RemoteAddr = "198.51.100.1:5000"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "198.51.100.1" {
		t.Errorf("an untrusted peer: %q", got)
	}
	if got := clientaddr.Of(r); got != "198.51.100.1" {
		t.Errorf("outside the handler: %q", got)
	}
	var empty *clientaddr.Trusted
	empty.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientaddr.Of(r) })).ServeHTTP(httptest.NewRecorder(), r)
	if got != "198.51.100.1" {
		t.Errorf("no trusted proxies: %q", got)
	}
}
