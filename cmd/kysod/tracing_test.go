package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
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

// TestTracingSamplerIgnoresCaller: the caller's sampled flag does not
// decide. With sample_ratio 0, a request carrying a sampled traceparent
// exports nothing; with 1, the same request is exported (so the receiver
// counts what it should), and an unsampled traceparent is traced too.
func TestTracingSamplerIgnoresCaller(t *testing.T) {
	var got atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			got.Add(1)
		}
	}))
	defer receiver.Close()
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	h := httpedge.Measure("csc", "other", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct {
		ratio   float64
		flags   string
		exports bool
	}{{0, "01", false}, {1, "01", true}, {1, "00", true}} {
		got.Store(0)
		stop, err := startTracing(context.Background(), tracingSettings{endpoint: receiver.URL + "/v1/traces", service: "kysod", ratio: c.ratio}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		tp, _, _ := traceparent()
		req := httptest.NewRequest(http.MethodPost, "/csc/v2/info", nil)
		req.Header.Set("traceparent", tp[:len(tp)-2]+c.flags)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if err := stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if exported := got.Load() > 0; exported != c.exports {
			t.Errorf("sample_ratio %v, caller's flags %s: exported %v, want %v", c.ratio, c.flags, exported, c.exports)
		}
	}
}
