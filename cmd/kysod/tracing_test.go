package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// traceparent makes a caller's W3C traceparent, sampled, with fresh IDs.
func traceparent() (header, traceID, spanID string) {
	b := make([]byte, 24)
	rand.Read(b)
	traceID, spanID = hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])
	return "00-" + traceID + "-" + spanID + "-01", traceID, spanID
}

// TestTracingOff: with tracing off — OTEL_SDK_DISABLED=true, though an
// OTLP endpoint is set — kysod says so, exports nothing to a receiver
// counting every request, ignores the caller's traceparent and logs no
// trace_id.
func TestTracingOff(t *testing.T) {
	kysod, _ := binaries(t)
	var got atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer receiver.Close()
	d := startKysod(t, kysod, filepath.Join(t.TempDir(), "data"), "KYSO_LOG_LEVEL=debug", "OTEL_SDK_DISABLED=true", "OTEL_EXPORTER_OTLP_ENDPOINT="+receiver.URL, "OTEL_BSP_SCHEDULE_DELAY=10")
	if !strings.Contains(d.out.String(), "tracing         off") {
		t.Errorf("kysod does not say tracing is off:\n%s", d.out.String())
	}
	root := filepath.Join(t.TempDir(), "root.pem")
	fetchPEM(t, "http://"+d.pk+"/ca/root.crt", root)
	tp, _, _ := traceparent()
	req, _ := http.NewRequest(http.MethodPost, "https://"+d.https+"/csc/v2/signatures/signHash", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 40))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", tp)
	req.Header.Set("X-Request-ID", "untraced-1")
	resp, err := httpsClient(root).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(200 * time.Millisecond)
	d.stop(t)
	if n := got.Load(); n != 0 {
		t.Errorf("tracing off, yet %d requests reached the OTLP endpoint", n)
	}
	if !strings.Contains(d.logged(), `"request_id":"untraced-1"`) || strings.Contains(d.logged(), "trace_id") {
		t.Errorf("tracing off: want the refusal's log line, with no trace:\n%s", d.logged())
	}
}
