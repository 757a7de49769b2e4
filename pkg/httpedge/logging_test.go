package httpedge_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kyso-pki/kyso/pkg/httpedge"
)

// TestLogHandler: a line logged with a request's context carries the ID
// the request was answered with; one that names it already, once; one
// without a request, none.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(httpedge.LogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "kysod")
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(httpedge.RequestIDHeader, "portal-req-42")
	r := httpedge.Begin(w, req)
	log.WarnContext(r.Context(), "refused")
	log.WarnContext(r.Context(), "named", "request_id", httpedge.RequestID(r))
	log.Warn("no request")
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 || lines[0]["request_id"] != "portal-req-42" || lines[0]["service"] != "kysod" {
		t.Fatalf("lines %v", lines)
	}
	if n := bytes.Count(buf.Bytes(), []byte(`"request_id"`)); n != 2 {
		t.Errorf("request_id appears %d times, want 2 (once per request line)", n)
	}
	if _, ok := lines[2]["request_id"]; ok {
		t.Errorf("a line without a request has a request_id: %v", lines[2])
	}
}
