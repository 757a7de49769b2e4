package csc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
)

// call sends a request to h from source, through no network.
func call(h http.Handler, source, path, ctype, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.RemoteAddr = source + ":40000"
	r.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func tokenForm(id, secret string) string {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
}

const form = "application/x-www-form-urlencoded"

// TestTokenFloodFromOneSource: oauth2/token and auth/login flooded with
// unknown clients from one address answer 429 with Retry-After past the
// per-source burst; another address is still answered.
func TestTokenFloodFromOneSource(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	h := csc.NewHandler(e.svc, &csc.Options{Limits: httpedgetest.SourceLimits()})
	httpedgetest.RateLimited(t, http.StatusUnauthorized, func(t *testing.T, source string) (int, http.Header) {
		w := call(h, source, "/csc/v2/oauth2/token", form, tokenForm("nosuchclient", "x"))
		return w.Code, w.Header()
	})
	h = csc.NewHandler(e.svc, &csc.Options{Limits: httpedgetest.SourceLimits()})
	httpedgetest.RateLimited(t, http.StatusUnauthorized, func(t *testing.T, source string) (int, http.Header) {
		w := call(h, source, "/csc/v2/auth/login", "application/json", "", "Authorization", "Basic "+basic("nosuchclient", "x"))
		return w.Code, w.Header()
	})
	h = csc.NewHandler(e.svc, &csc.Options{Limits: httpedgetest.SourceLimits()})
	httpedgetest.RateLimited(t, http.StatusUnauthorized, func(t *testing.T, source string) (int, http.Header) {
		w := call(h, source, "/csc/v2/credentials/authorize", "application/json", "{}", "Authorization", "Bearer bm90LWEtdG9rZW4")
		return w.Code, w.Header()
	})
}

// TestTokenPerClient: a client's own token requests are limited per
// client, from any address, with a 429 in CSC form and Retry-After; wrong
// secrets sent under its client_id from many addresses, as an attacker
// would to lock it out, do not empty its bucket; and credentials/authorize
// counts against the same client's bucket.
func TestTokenPerClient(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	const burst = 3
	lim := &httpedge.Limits{Client: httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: burst}, nil)}
	h := csc.NewHandler(e.svc, &csc.Options{Limits: lim})
	id, secret := e.client.ClientID, e.client.ClientSecret
	for i := range 50 {
		if w := call(h, fmt.Sprintf("198.51.100.%d", i), "/csc/v2/oauth2/token", form, tokenForm(id, "wrong-"+secret)); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d under the client's ID: HTTP %d %s, want 401", i+1, w.Code, w.Body)
		}
	}
	var tok string
	for i := range burst {
		w := call(h, fmt.Sprintf("203.0.113.%d", i), "/csc/v2/oauth2/token", form, tokenForm(id, secret))
		if w.Code != http.StatusOK {
			t.Fatalf("the client's token request %d of %d after 50 wrong secrets under its ID: HTTP %d %s", i+1, burst, w.Code, w.Body)
		}
		var tr csc.TokenResponse
		json.Unmarshal(w.Body.Bytes(), &tr)
		tok = tr.AccessToken
	}
	w := call(h, "203.0.113.99", "/csc/v2/oauth2/token", form, tokenForm(id, secret))
	var ce csc.Error
	json.Unmarshal(w.Body.Bytes(), &ce)
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != http.StatusTooManyRequests || ce.Error != "too_many_requests" || err != nil || s < 1 {
		t.Fatalf("token request past the client's burst: HTTP %d %s, Retry-After %q; want 429 too_many_requests and whole seconds", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	w = call(h, "203.0.113.100", "/csc/v2/credentials/authorize", "application/json", "{}", "Authorization", "Bearer "+tok)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("authorize past the client's burst: HTTP %d %s", w.Code, w.Body)
	}
	// The Go client tells its caller how long to wait.
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, err := (&csc.Client{BaseURL: srv.URL + "/csc/v2", ClientID: id, ClientSecret: secret, HTTPClient: srv.Client()}).Token(t.Context())
	var ae *csc.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.RetryAfter < time.Second {
		t.Fatalf("csc.Client past the client's burst: %v", err)
	}
	// Another client is not limited by the first one's requests.
	other, err := e.svc.CreateClient(t.Context(), "Cổng khác", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if w := call(h, "203.0.113.99", "/csc/v2/oauth2/token", form, tokenForm(other.ID, other.Secret)); w.Code != http.StatusOK {
		t.Fatalf("another client: HTTP %d %s", w.Code, w.Body)
	}
}

func basic(id, secret string) string {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(id, secret)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
