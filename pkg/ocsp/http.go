package ocsp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ServeHTTP answers an OCSP request sent over HTTP as RFC 6960 appendix A.1
// describes: GET {url}/{url-encoded base64 of the DER OCSPRequest} or POST
// with Content-Type application/ocsp-request and the DER as body.
//
// The request may sit under any path prefix ("/ocsp/MFYw…"): the first path
// suffix that is base64 of a DER SEQUENCE is taken. Mount the responder where
// the router does not clean paths — base64 may contain "//", which
// http.ServeMux would redirect — for example behind http.StripPrefix or as
// the server's whole handler.
//
// Responses follow RFC 5019 section 6: Content-Type application/ocsp-response,
// and for cacheable responses Last-Modified (thisUpdate), Expires
// (nextUpdate), ETag, and Cache-Control max-age until the responder would
// re-sign, public, no-transform, must-revalidate. Responses to requests with
// a nonce, and unsuccessful ones, are sent with Cache-Control no-store.
// Unsuccessful OCSP statuses (RFC 6960 section 2.3) travel in HTTP 200
// responses, as clients expect; only other methods (405) and POST bodies over
// Config.MaxRequestBytes (413) get HTTP errors.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var der []byte
	switch req.Method {
	case http.MethodGet:
		der = r.decodeGET(req.URL.Path)
	case http.MethodPost:
		body, err := r.readBody(w, req)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeOCSP(w, http.StatusRequestEntityTooLarge, errorResponse(statusMalformedRequest), "no-store")
				return
			}
			writeOCSP(w, http.StatusOK, errorResponse(statusMalformedRequest), "no-store")
			return
		}
		der = body
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "ocsp: method not allowed; use GET or POST (RFC 6960 appendix A.1)", http.StatusMethodNotAllowed)
		return
	}
	if der == nil {
		writeOCSP(w, http.StatusOK, errorResponse(statusMalformedRequest), "no-store")
		return
	}

	rep := r.respond(req.Context(), der)
	e := rep.cached
	if e == nil {
		writeOCSP(w, http.StatusOK, rep.der, "no-store")
		return
	}
	// The header values were formatted when the answer was signed; the
	// keys are canonical already, so they are set without Header.Set's
	// canonicalisation. Each slice's capacity is its length: a later
	// Add copies instead of writing into the entry.
	h := w.Header()
	h["Last-Modified"] = e.hdr[0:1:1]
	h["Expires"] = e.hdr[1:2:2]
	h["Etag"] = e.hdr[2:3:3]
	maxAge := max(int64(e.refreshAt.Sub(r.now())/time.Second), 0)
	var buf [80]byte
	cc := append(strconv.AppendInt(append(buf[:0], "max-age="...), maxAge, 10), ", public, no-transform, must-revalidate"...)
	h["Cache-Control"] = []string{string(cc)}
	if req.Method == http.MethodGet && etagMatch(req.Header.Get("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = contentType
	h["Content-Length"] = e.hdr[3:4:4]
	w.WriteHeader(http.StatusOK)
	w.Write(e.der)
}

// contentType is the Content-Type of every answer (RFC 6960 appendix A.1).
// Its capacity is its length: a later Add copies it.
var contentType = []string{"application/ocsp-response"}[:1:1]

// readBody reads a POST request's body, at most r.maxReq octets: when the
// client sent Content-Length, into one buffer of that size.
func (r *Responder) readBody(w http.ResponseWriter, req *http.Request) ([]byte, error) {
	n := req.ContentLength
	if n < 0 || n > r.maxReq {
		return io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxReq))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(req.Body, body); err != nil {
		return nil, err
	}
	// net/http's server ends the body at Content-Length; another
	// http.Handler's caller might not.
	var one [1]byte
	if m, _ := req.Body.Read(one[:]); m != 0 {
		return io.ReadAll(http.MaxBytesReader(w, io.NopCloser(io.MultiReader(bytes.NewReader(append(body, one[0])), req.Body)), r.maxReq))
	}
	return body, nil
}

func writeOCSP(w http.ResponseWriter, code int, der []byte, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	h.Set("Content-Length", strconv.Itoa(len(der)))
	h.Set("Cache-Control", cacheControl)
	w.WriteHeader(code)
	w.Write(der)
}

// etagMatch reports whether an If-None-Match header names etag (RFC 9110
// section 13.1.2, weak comparison).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// decodeGET finds the base64 OCSPRequest at the end of a GET path (RFC 6960
// appendix A.1) and returns its DER, or nil. The path is already
// percent-decoded, so "/" inside the base64 may look like a path separator;
// each suffix after a "/" is tried, leftmost (longest) first.
func (r *Responder) decodeGET(path string) []byte {
	if int64(len(path)) > r.maxReq*4/3+4096 {
		return nil
	}
	p := path
	for {
		p = strings.TrimLeft(p, "/")
		if der := decodeBase64(p); der != nil {
			s := cryptobyte.String(der)
			var seq cryptobyte.String
			if s.ReadASN1(&seq, asn1.SEQUENCE) && s.Empty() && int64(len(der)) <= r.maxReq {
				return der
			}
		}
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return nil
		}
		p = p[i+1:]
	}
}

// decodeBase64 accepts standard base64 with or without padding, and the
// URL-safe alphabet some clients use.
func decodeBase64(s string) []byte {
	if s == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if der, err := enc.DecodeString(s); err == nil {
			return der
		}
	}
	return nil
}
