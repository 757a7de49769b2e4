package smartca_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

// callFrom sends a SmartCA call to h from source, through no network.
func callFrom(t testing.TB, h http.Handler, source, path string, body map[string]any) *httptest.ResponseRecorder {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	r.RemoteAddr = source + ":40000"
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestStatusPollCostsNoArgon2: a portal polls a transaction's status every
// few seconds, each poll with sp_id and sp_password. With kysod's argon2id
// parameters, each poll cost 19 MiB (issue 13); it must cost no argon2id,
// for the right password, a wrong one and an unknown sp_id alike.
func TestStatusPollCostsNoArgon2(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	// kysod's parameters, over the same database.
	cfg := signingtest.Config(e.clock)
	cfg.Password = signing.PasswordParams{}
	svc := signingtest.NewService(t, e.p, cfg)
	h := smartca.NewHandler(svc, &smartca.Options{Now: e.clock.Now})
	cl, err := svc.CreateClient(t.Context(), "Cổng Dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	w := callFrom(t, h, "192.0.2.1", "/smartca/v1/signatures/sign", map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret,
		"user_id": "079203001234", "transaction_id": "poll-1", "transaction_desc": "Đăng ký khai sinh", "sign_files": []any{file("a.pdf", "a")}})
	var d smartca.SignData
	checkEnvelope(t, w.Code, w.Body.Bytes(), http.StatusOK, &d)
	path := "/smartca/v1/signatures/sign/" + d.TranCode + "/status"
	for _, c := range []struct {
		name, id, secret string
		want             int
	}{
		{"right password", cl.ID, cl.Secret, http.StatusOK},
		{"wrong password", cl.ID, "wrong-" + cl.Secret, http.StatusUnauthorized},
		{"unknown sp_id", "nosuchportal", cl.Secret, http.StatusUnauthorized},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w := callFrom(t, h, "192.0.2.1", path, map[string]any{"sp_id": c.id, "sp_password": c.secret})
		runtime.ReadMemStats(&after)
		if w.Code != c.want {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, w.Code, w.Body, c.want)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
			t.Errorf("%s: a status poll allocated %d bytes: an argon2id evaluation", c.name, n)
		}
	}
}

// TestSmartCAFloodFromOneSource: every SmartCA call is limited per source
// address before its body is read.
func TestSmartCAFloodFromOneSource(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	h := smartca.NewHandler(e.svc, &smartca.Options{Now: e.clock.Now, Limits: httpedgetest.SourceLimits()})
	httpedgetest.RateLimited(t, http.StatusUnauthorized, func(t *testing.T, source string) (int, http.Header) {
		w := callFrom(t, h, source, "/smartca/v1/signatures/sign/nope/status", map[string]any{"sp_id": "nosuchportal", "sp_password": "x"})
		return w.Code, w.Header()
	})
}

// TestSmartCAPerClient: status polls count against the portal's own
// bucket whatever address they come from, answered 429 in the envelope
// with Retry-After past it; another portal is not held back.
func TestSmartCAPerClient(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	const burst = 3
	h := smartca.NewHandler(e.svc, &smartca.Options{Now: e.clock.Now,
		Limits: &httpedge.Limits{Client: httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: burst}, nil)}})
	code := e.submit(t, e.other, "limit-1", file("a.pdf", "a"))
	path := "/smartca/v1/signatures/sign/" + code + "/status"
	for i := range burst {
		w := callFrom(t, h, fmt.Sprintf("198.51.100.%d", i), path, map[string]any{"sp_id": e.other.id, "sp_password": e.other.secret})
		checkEnvelope(t, w.Code, w.Body.Bytes(), http.StatusOK, nil)
	}
	w := callFrom(t, h, "198.51.100.99", path, map[string]any{"sp_id": e.other.id, "sp_password": e.other.secret})
	checkEnvelope(t, w.Code, w.Body.Bytes(), http.StatusTooManyRequests, nil)
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("429 with Retry-After %q", w.Header().Get("Retry-After"))
	}
	w = callFrom(t, h, "198.51.100.99", "/smartca/v1/signatures/sign/"+code+"/status", map[string]any{"sp_id": e.portal.id, "sp_password": e.portal.secret})
	if w.Code == http.StatusTooManyRequests {
		t.Errorf("another portal was held back by the first one's polls: %s", w.Body)
	}
}
