// Package httpedge is the HTTP edge shared by every API dialect kyso
// serves — CSC, the SmartCA-style dialect, the owner and admin APIs, the
// verify API: what each must read and write the same way, written once.
// Begin starts every answer (Cache-Control: no-store, X-Request-ID);
// Decode reads JSON bodies under a size limit; Bearer reads bearer
// credentials; Limits keeps rate limits; a Dialect renders errors: the
// signing core says what went wrong (signing.Kind), each dialect keeps
// only its table from kind to status and wire code (STYLE.md rules 10, 21).
package httpedge

import (
	"net/http"
	"strings"
)

// Bearer returns the access token of r's Authorization header in the
// "Bearer" scheme of RFC 6750 section 2.1. The scheme is matched without
// regard to case (RFC 9110 section 11.1: "bearer", "BEARER" are "Bearer")
// and is followed by one or more spaces and a token68 (RFC 9110 section
// 11.2: letters, digits, "-._~+/", then "=" padding only); nothing may
// follow the token. ok is false when there is no Authorization header,
// more than one, another scheme ("Basic …"), no token, or a token that
// is not a token68 — each a request without a usable bearer token.
func Bearer(r *http.Request) (token string, ok bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, rest, found := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	if !isToken68(token) {
		return "", false
	}
	return token, true
}

// isToken68 reports whether s is a token68 (RFC 9110 section 11.2):
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// ClientCertificate returns the DER of the TLS client certificate r's
// connection presented, or nil when it presented none (or is not TLS).
// Tokens bound to a certificate (RFC 8705 section 3) are checked against
// it.
func ClientCertificate(r *http.Request) []byte {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0].Raw
}
