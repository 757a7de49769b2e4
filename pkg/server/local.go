package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
)

// LocalClient returns an HTTP client that answers requests for baseURL's
// host — the URLs written into the CA's certificates — from p in process,
// and refuses any other. The daemon's own signing (B-LT validation data)
// fetches its OCSP responses and CRLs this way, whatever address the PKI
// listener is published at.
func (p *PKI) LocalClient(baseURL string) (*http.Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server: base URL %q is not absolute", baseURL)
	}
	return &http.Client{Transport: localTransport{host: u.Host, h: p}}, nil
}

type localTransport struct {
	host string
	h    http.Handler
}

func (t localTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.host {
		return nil, fmt.Errorf("server: %s is not this CA's PKI (%s)", r.URL.Host, t.host)
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
