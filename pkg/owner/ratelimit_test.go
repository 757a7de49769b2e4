package owner_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// send posts body to h from source, through no network.
func send(h http.Handler, source, path, token string, body any) *httptest.ResponseRecorder {
	raw, _ := json.Marshal(body)
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	r.RemoteAddr = source + ":40000"
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestLoginFloodFromOneSource: login, approve and reject are limited per
// source address before any work (a login runs argon2id, even for an
// unknown national ID).
func TestLoginFloodFromOneSource(t *testing.T) {
	e := newEnv(t)
	h := owner.NewHandler(e.svc, &owner.Options{Limits: httpedgetest.SourceLimits()})
	// A national ID each: one unknown ID tried five times is locked, as an
	// owner would be (429 too), which is not what this test is about.
	var n atomic.Int64
	httpedgetest.RateLimited(t, http.StatusForbidden, func(t *testing.T, source string) (int, http.Header) {
		w := send(h, source, "/owner/v1/login", "", owner.LoginRequest{NationalID: fmt.Sprintf("0792039%05d", n.Add(1)), PIN: "135790", OTP: "000000"})
		return w.Code, w.Header()
	})
	h = owner.NewHandler(e.svc, &owner.Options{Limits: httpedgetest.SourceLimits()})
	httpedgetest.RateLimited(t, http.StatusUnauthorized, func(t *testing.T, source string) (int, http.Header) {
		w := send(h, source, "/owner/v1/transactions/x/approve", "bm90LWEtdG9rZW4", map[string]string{"pin": "135790", "otp": "000000"})
		return w.Code, w.Header()
	})
}

// TestLoginPerOwner: logins are limited per national ID, but only the
// owner's own (right) logins count: wrong attempts by someone else, from
// many addresses, do not empty the owner's bucket (they count towards the
// PIN lockout instead). Approvals are limited per owner.
func TestLoginPerOwner(t *testing.T) {
	e := newEnv(t)
	const burst = 2
	h := owner.NewHandler(e.svc, &owner.Options{Limits: &httpedge.Limits{Client: httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: burst}, nil)}})
	for i := range 3 {
		w := send(h, fmt.Sprintf("198.51.100.%d", i), "/owner/v1/login", "", owner.LoginRequest{NationalID: e.citizen.NationalID, PIN: "000000", OTP: "000000"})
		expect(t, "someone else's wrong login", w.Code, w.Body.Bytes(), http.StatusForbidden, "access_denied")
	}
	var tok string
	for i := range burst {
		w := send(h, "203.0.113.1", "/owner/v1/login", "", owner.LoginRequest{NationalID: e.citizen.NationalID, PIN: "135790", OTP: e.otp(t, e.citizen)})
		expect(t, fmt.Sprintf("the owner's login %d", i+1), w.Code, w.Body.Bytes(), http.StatusOK, "")
		var lr owner.LoginResponse
		json.Unmarshal(w.Body.Bytes(), &lr)
		tok = lr.AccessToken
	}
	w := send(h, "203.0.113.2", "/owner/v1/login", "", owner.LoginRequest{NationalID: e.citizen.NationalID, PIN: "135790", OTP: e.otp(t, e.citizen)})
	expect(t, "a login past the owner's burst", w.Code, w.Body.Bytes(), http.StatusTooManyRequests, "too_many_requests")
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("429 with Retry-After %q", w.Header().Get("Retry-After"))
	}
	// Another owner logs in regardless.
	w = send(h, "203.0.113.2", "/owner/v1/login", "", owner.LoginRequest{NationalID: e.neighbor.NationalID, PIN: "135790", OTP: e.otp(t, e.neighbor)})
	expect(t, "another owner's login", w.Code, w.Body.Bytes(), http.StatusOK, "")
	// Approvals: the owner's bucket, by owner ID.
	id := e.submit(t, e.citizen, "limit-1")
	for i := range burst + 1 {
		w := send(h, "203.0.113.3", "/owner/v1/transactions/"+id+"/approve", tok, map[string]string{"pin": "000000", "otp": "000000"})
		if i < burst && w.Code == http.StatusTooManyRequests {
			t.Fatalf("approve %d of a burst of %d: %d %s", i+1, burst, w.Code, w.Body)
		}
		if i == burst {
			expect(t, "approve past the owner's burst", w.Code, w.Body.Bytes(), http.StatusTooManyRequests, "too_many_requests")
		}
	}
}

// TestLoginBusy: when every place for argon2id stays taken for
// signing.Config.HashWait, a login is answered 503 temporarily_unavailable
// with Retry-After rather than waiting without end.
func TestLoginBusy(t *testing.T) {
	cfg := signingtest.Config(nil)
	cfg.Password = signing.PasswordParams{} // kysod's argon2id
	cfg.HashConcurrency, cfg.HashWait = 1, time.Millisecond
	svc := signingtest.NewService(t, signingtest.NewPKI(t), cfg)
	h := owner.NewHandler(svc, nil)
	const n = 12
	answers := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = send(h, "192.0.2.1", "/owner/v1/login", "", owner.LoginRequest{NationalID: "079203999999", PIN: "135790", OTP: "000000"})
		}()
	}
	close(start)
	wg.Wait()
	busy := 0
	for _, w := range answers {
		switch w.Code {
		case http.StatusServiceUnavailable:
			busy++
			expect(t, "busy login", w.Code, w.Body.Bytes(), http.StatusServiceUnavailable, "temporarily_unavailable")
			if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("503 with Retry-After %q", w.Header().Get("Retry-After"))
			}
		case http.StatusForbidden:
		default:
			t.Errorf("login: %d %s", w.Code, w.Body)
		}
	}
	if busy == 0 {
		t.Errorf("none of %d logins at once, one place and a 1ms wait, was refused as busy", n)
	}
}
