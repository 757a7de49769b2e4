// Package clientaddr says which address a request came from: the TCP
// peer's, or — only when that peer is a proxy the operator trusts
// (kysod's trusted_proxies) — the client the proxy names in
// X-Forwarded-For. Every per-source rate limit, audit record and consent
// receipt takes the address from Of, so that behind a load balancer each
// citizen has their own and a header sent from anywhere else changes
// nothing.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// MaxHops bounds how many X-Forwarded-For entries Resolve reads, from the
// right: a chain of trusted proxies longer than this names no client, and
// a header of any size costs at most this much work.
const MaxHops = 16

// Trusted is the set of proxies whose X-Forwarded-For is believed. The
// zero value and nil trust none: every request's address is its peer's.
type Trusted struct {
	prefixes []netip.Prefix
}

// Parse makes the set from CIDR prefixes ("10.0.0.0/8", "2001:db8::/32")
// and single addresses ("192.0.2.7": a /32 or /128). It refuses what is
// neither, naming it.
func Parse(cidrs []string) (*Trusted, error) {
	t := &Trusted{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("clientaddr: trusted proxy %q is neither a CIDR prefix nor an address", c)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// Contains reports whether a is a trusted proxy's address.
func (t *Trusted) Contains(a netip.Addr) bool {
	if t == nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Len is how many prefixes t trusts.
func (t *Trusted) Len() int {
	if t == nil {
		return 0
	}
	return len(t.prefixes)
}

// Resolve is the client address of a request from peer (an IP address,
// with or without a port) carrying the X-Forwarded-For values xff (each
// header line as sent). A peer that is not trusted is the client, whatever
// the header says. Behind trusted proxies the client is the rightmost
// entry that is not itself a trusted proxy: each proxy appends the address
// it was reached from, so entries left of the nearest untrusted one are
// whatever the client chose to send and are ignored. An entry that is not
// an address where one is needed, a chain longer than MaxHops, or no
// header at all leave the peer as the client.
func (t *Trusted) Resolve(peer string, xff []string) string {
	p := host(peer)
	pa, err := netip.ParseAddr(p)
	if err != nil || !t.Contains(pa) {
		return p
	}
	client, hops := p, 0
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			if hops++; hops > MaxHops {
				return p
			}
			a, err := netip.ParseAddr(host(strings.TrimSpace(entry)))
			if err != nil {
				return p
			}
			client = a.Unmap().WithZone("").String()
			if !t.Contains(a) {
				return client
			}
		}
	}
	return client // every hop a trusted proxy: the farthest one
}

// host is addr without its port, if it has one ("192.0.2.1:443",
// "[2001:db8::1]:443").
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

type key struct{}

// Handler serves next with each request's client address (Resolve of its
// peer and X-Forwarded-For) recorded for Of. With no trusted proxy it
// records nothing: Of is then the peer's address.
func (t *Trusted) Handler(next http.Handler) http.Handler {
	if t.Len() == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := t.Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, a)))
	})
}

// Of is the address r came from: the client Handler resolved, or the TCP
// peer's IP address (without its port). Every per-source limit, audit
// record and receipt takes it from here.
func Of(r *http.Request) string {
	if a, ok := r.Context().Value(key{}).(string); ok {
		return a
	}
	return host(r.RemoteAddr)
}
