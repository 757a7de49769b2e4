package httpedge

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/metrics"
)

// routeKey holds the slot Measure gives a request for its route.
type routeKey struct{}

// Measure times every request h answers into the metric
// kyso_http_request_duration_seconds, labelled with api, the route
// pattern the API's mux chose (Serve records it; route when none did),
// the method and the status code. Paths are never labels: an ID in one
// would make a series per request.
//
// It also traces each request as one server span (a no-op unless a
// tracer provider is installed), continuing the caller's trace when the
// global propagator finds one in its headers (W3C traceparent, as kysod
// installs it), and named "METHOD route" by the same route pattern (the
// pattern alone when it names its method): never the path, nor the query,
// which may hold IDs and tokens.
func Measure(api, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := route
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		default:
			method = "other"
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		// Untraced (no provider installed), no span and no propagator:
		// the hooks cost a check.
		ctx, span := r.Context(), trace.Span(nil)
		if tracing.Enabled() {
			ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
			ctx, span = tracing.Tracer().Start(ctx, api, trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()
		}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, routeKey{}, &slot)))
		metrics.Since(metrics.HTTPRequests.WithLabelValues(api, slot, method, strconv.Itoa(rec.code)), start)
		if span == nil || !span.IsRecording() {
			return
		}
		span.SetName(spanName(method, slot))
		span.SetAttributes(attribute.String("http.request.method", method), attribute.String("kyso.api", api),
			attribute.String("http.route", slot), attribute.Int("http.response.status_code", rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, "")
		}
	})
}

// spanName is a server span's name: the route pattern, after its method
// unless the pattern names one ("POST /csc/v2/oauth2/token").
func spanName(method, route string) string {
	if strings.HasPrefix(route, method+" ") {
		return route
	}
	return method + " " + route
}

// Serve serves r through mux, as every API's ServeHTTP does, and records
// the pattern mux routes it to for Measure.
func Serve(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	if slot, ok := r.Context().Value(routeKey{}).(*string); ok {
		if _, pattern := mux.Handler(r); pattern != "" {
			*slot = pattern
		}
	}
	mux.ServeHTTP(w, r)
}

// statusRecorder keeps the status code an answer was given.
type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.code, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
