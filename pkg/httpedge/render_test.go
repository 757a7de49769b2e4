package httpedge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestFail renders errors of every origin through one dialect: a
// signing.Error by its kind, a store sentinel reaching the edge (wrapped)
// by the kind signing.Public gives it — store.ErrInvalid a 400, not a 500
// — and anything else as a 500 that shows neither the error's text nor
// anything but the request ID, which the log line carries with the
// detail.
func TestFail(t *testing.T) {
	var logs bytes.Buffer
	d := &Dialect{Name: "test", Table: Own, Body: OAuthBody, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, c := range []struct {
		name   string
		err    error
		status int
		code   string
		header string
	}{
		{"invalid", &signing.Error{Kind: signing.KindInvalid, Description: "pin is required"}, 400, "invalid_request", ""},
		{"store invalid", fmt.Errorf("sqlite: inserting: %w", store.ErrInvalid), 400, "invalid_request", ""},
		{"store not found", fmt.Errorf("x: %w", store.ErrNotFound), 404, "not_found", ""},
		{"store conflict", store.ErrConflict, 409, "conflict", ""},
		{"store replay", store.ErrReplay, 409, "conflict", ""},
		{"token", &signing.Error{Kind: signing.KindTokenInvalid, Description: "expired"}, 401, "invalid_token", `WWW-Authenticate: Bearer realm="kyso", error="invalid_token"`},
		{"busy", &signing.Error{Kind: signing.KindBusy, Description: "busy"}, 503, "temporarily_unavailable", "Retry-After: 1"},
		{"locked", &signing.Error{Kind: signing.KindLocked, Description: "locked", RetryAfter: 14*time.Minute + 29500*time.Millisecond}, 429, "account_locked", "Retry-After: 870"},
		{"internal", errors.New("pq: password authentication failed for user kyso at 10.0.0.5"), 500, "server_error", ""},
		{"unmapped kind", &signing.Error{Kind: signing.Kind(99), Description: "secret detail"}, 500, "server_error", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			w := httptest.NewRecorder()
			r := Begin(w, httptest.NewRequest(http.MethodPost, "/x", nil))
			d.Fail(w, r, c.err)
			var b ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || w.Code != c.status || b.Error != c.code {
				t.Fatalf("HTTP %d %s, want %d %s", w.Code, w.Body, c.status, c.code)
			}
			id := w.Header().Get(RequestIDHeader)
			if b.RequestID != id || id == "" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("request ID %q, header %q, Cache-Control %q", b.RequestID, id, w.Header().Get("Cache-Control"))
			}
			if name, value, ok := strings.Cut(c.header, ": "); ok && w.Header().Get(name) != value {
				t.Errorf("%s: %q, want %q", name, w.Header().Get(name), value)
			}
			if c.status == 500 {
				if b.Description != "internal error" {
					t.Errorf("a server error shows %q", b.Description)
				}
				if !strings.Contains(logs.String(), id) || !strings.Contains(logs.String(), "level=ERROR") {
					t.Errorf("the log does not have the error under its request ID: %s", logs.String())
				}
			}
		})
	}
}

// TestBegin: a sane incoming request ID is kept, anything else replaced,
// and every request without one gets its own.
func TestBegin(t *testing.T) {
	seen := map[string]bool{}
	for _, in := range []string{"", "", "", strings.Repeat("a", 65), "a b", "x\x00", "ý"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if in != "" {
			r.Header.Set(RequestIDHeader, in)
		}
		w := httptest.NewRecorder()
		id := RequestID(Begin(w, r))
		if id == in || len(id) != 32 || seen[id] || w.Header().Get(RequestIDHeader) != id {
			t.Errorf("incoming %q: request ID %q (header %q)", in, id, w.Header().Get(RequestIDHeader))
		}
		seen[id] = true
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(RequestIDHeader, "lb-7f3a.2:x_y")
	if id := RequestID(Begin(httptest.NewRecorder(), r)); id != "lb-7f3a.2:x_y" {
		t.Errorf("a sane request ID became %q", id)
	}
}
