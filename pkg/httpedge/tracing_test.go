package httpedge_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kyso-pki/kyso/pkg/httpedge"
)

// TestMeasureTraces: with a tracer provider and the W3C propagator
// installed (as kysod does when tracing is on), Measure makes one server
// span per request, named by the route pattern the API's mux chose, not
// the path with its ID; it continues the caller's traceparent; the
// request's log lines name its trace_id and span_id beside request_id;
// and no attribute holds the path's ID or the query's token.
func TestMeasureTraces(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	var logs bytes.Buffer
	log := slog.New(httpedge.LogHandler(slog.NewJSONHandler(&logs, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tx/{id}", func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "handled")
		w.WriteHeader(http.StatusAccepted)
	})
	h := httpedge.Measure("smartca", "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpedge.Serve(mux, w, httpedge.Begin(w, r))
	}))
	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest(http.MethodPost, "/tx/tx-0794-secret?access_token=tok-0794", nil)
	req.Header.Set("traceparent", "00-"+caller+"-00f067aa0ba902b7-01")
	req.Header.Set(httpedge.RequestIDHeader, "portal-req-7")
	h.ServeHTTP(httptest.NewRecorder(), req)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "POST /tx/{id}" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want \"POST /tx/{id}\", server", s.Name(), s.SpanKind())
	}
	if s.SpanContext().TraceID().String() != caller || s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Errorf("span in trace %s under %s: the caller's traceparent was not continued", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
		if strings.Contains(a.Value.Emit(), "secret") || strings.Contains(a.Value.Emit(), "tok-0794") {
			t.Errorf("attribute %s = %q holds the path's ID or the query's token", a.Key, a.Value.Emit())
		}
	}
	if attrs["http.route"] != "POST /tx/{id}" || attrs["http.response.status_code"] != "202" || attrs["kyso.request_id"] != "portal-req-7" {
		t.Errorf("attributes %v", attrs)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if line["trace_id"] != caller || line["span_id"] != s.SpanContext().SpanID().String() || line["request_id"] != "portal-req-7" {
		t.Errorf("log line %v: want trace_id %s, span_id %s, request_id portal-req-7", line, caller, s.SpanContext().SpanID())
	}
}

// TestMeasureUntraced: with the global no-op provider (tracing off), a
// request's log lines name no trace, even when the caller sent one.
func TestMeasureUntraced(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(httpedge.LogHandler(slog.NewJSONHandler(&logs, nil)))
	h := httpedge.Measure("csc", "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(httpedge.Begin(w, r).Context(), "handled")
	}))
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if strings.Contains(logs.String(), "trace_id") || !strings.Contains(logs.String(), "request_id") {
		t.Errorf("untraced log line %q: want request_id and no trace_id", logs.String())
	}
}

// BenchmarkMeasureUntraced is Measure's cost with tracing off (the global
// no-op provider): the price every request pays for the tracing hooks.
func BenchmarkMeasureUntraced(b *testing.B) {
	h := httpedge.Measure("csc", "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest(http.MethodPost, "/csc/v2/info", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
