package main

import (
	"net"
	"net/url"
)

// developmentBaseURL is the base URL a development CA writes into its
// certificates when kysod serves the PKI routes at addr (host:port): that
// address, with an unspecified host (empty, 0.0.0.0, ::) made 127.0.0.1,
// so that the OCSP, CRL and CA-certificate URLs answer on this machine.
func developmentBaseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// servesBaseURL reports whether the PKI listener at addr answers base's
// URLs, as far as this machine can tell: a base URL naming a loopback host
// must name addr's port, on a listener that accepts loopback connections.
// Any other host is taken to reach kysod by a route of its own (a reverse
// proxy, a published name), which kysod cannot check.
func servesBaseURL(base, addr string) bool {
	u, err := url.Parse(base)
	if err != nil || !isLoopback(u.Hostname()) {
		return true
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	host, lport, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return lport == port && (host == "" || isLoopback(host) || ip != nil && ip.IsUnspecified())
}

// baseURLHost is base's host:port, as --http would take it.
func baseURLHost(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return u.Host
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
