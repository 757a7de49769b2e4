package httpedge

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/kyso-pki/kyso/pkg/metrics"
)

// routeKey holds the slot Measure gives a request for its route.
type routeKey struct{}

// Measure times every request h answers into the metric
// kyso_http_request_duration_seconds, labelled with api, the route
// pattern the API's mux chose (Serve records it; route when none did),
// the method and the status code. Paths are never labels: an ID in one
// would make a series per request.
func Measure(api, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := route
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey{}, &slot)))
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		default:
			method = "other"
		}
		metrics.Since(metrics.HTTPRequests.WithLabelValues(api, slot, method, strconv.Itoa(rec.code)), start)
	})
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
