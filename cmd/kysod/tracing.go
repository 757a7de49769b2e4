package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kyso-pki/kyso/internal/version"
)

// tracingConfig is OpenTelemetry tracing (internal/tracing makes the
// spans). It is off — a no-op tracer, nothing exported, no traceparent
// read or sent — unless an endpoint is set here or in the standard
// variables OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT. The standard variables override this
// section, as KYSO_… variables override the rest of the file; the
// exporter also reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, TIMEOUT,
// COMPRESSION and the certificate variables, and the resource
// OTEL_RESOURCE_ATTRIBUTES. OTEL_SDK_DISABLED=true turns tracing off.
type tracingConfig struct {
	// Endpoint is the OTLP/HTTP receiver's base URL
	// ("http://127.0.0.1:4318", as OTEL_EXPORTER_OTLP_ENDPOINT): spans
	// are POSTed to its /v1/traces. http:// sends them in the clear:
	// keep such a receiver on the host or a private network.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of traces kept, 0 to 1 (default 1; env
	// OTEL_TRACES_SAMPLER_ARG). It decides by trace ID for a caller's
	// trace too, whatever the caller's sampled flag says, so that a
	// caller cannot make every one of its requests traced.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the traces' service.name (default "kysod"; env
	// OTEL_SERVICE_NAME).
	ServiceName string `yaml:"service_name"`
}

// tracingSettings are the tracing settings in force once the environment
// is read: endpoint is empty when tracing is off.
type tracingSettings struct {
	endpoint, service string
	ratio             float64
	// fromEnv says the endpoint comes from OTEL_EXPORTER_OTLP_… and is
	// left to the exporter to read.
	fromEnv bool
}

// settings resolves c against the environment (getenv), checking what it
// is given.
func (c tracingConfig) settings(getenv func(string) string) (tracingSettings, error) {
	var s tracingSettings
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return s, nil
	}
	s.endpoint = c.Endpoint
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if e := getenv(v); e != "" {
			s.endpoint, s.fromEnv = e, true
			break
		}
	}
	if s.endpoint == "" {
		return s, nil
	}
	if !s.fromEnv {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			shown := "(not a URL)"
			if err == nil {
				shown = fmt.Sprintf("%q", u.Scheme+"://"+u.Host+u.Path) // without credentials or query
			}
			return s, fmt.Errorf("config: tracing.endpoint %s: want the OTLP/HTTP receiver's base URL, http(s)://host:port[/path], without credentials or query (a token goes in OTEL_EXPORTER_OTLP_HEADERS)", shown)
		}
		s.endpoint = strings.TrimSuffix(c.Endpoint, "/") + "/v1/traces"
	}
	s.ratio = 1
	if c.SampleRatio != nil {
		s.ratio = *c.SampleRatio
	}
	if v := getenv("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return s, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", v)
		}
		s.ratio = r
	}
	if math.IsNaN(s.ratio) || s.ratio < 0 || s.ratio > 1 {
		return s, fmt.Errorf("config: tracing.sample_ratio %v must be from 0 to 1", s.ratio)
	}
	s.service = c.ServiceName
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		s.service = v
	}
	if s.service == "" {
		s.service = "kysod"
	}
	return s, nil
}

// startTracing installs the global tracer provider and the W3C
// traceparent propagator when s has an endpoint, and returns the function
// that flushes and stops them (a no-op when tracing is off). Export
// failures are logged, never fatal: traces are an operator's aid, not a
// condition of signing.
func startTracing(ctx context.Context, s tracingSettings, log *slog.Logger) (func(context.Context) error, error) {
	if s.endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if !s.fromEnv {
		opts = append(opts, otlptracehttp.WithEndpointURL(s.endpoint))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	// resource.Default reads OTEL_RESOURCE_ATTRIBUTES; service.name
	// merged after it is s.service, which OTEL_SERVICE_NAME set already.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", s.service), attribute.String("service.version", version.String())))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	ratio := sdktrace.TraceIDRatioBased(s.ratio)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(ratio, sdktrace.WithRemoteParentSampled(ratio), sdktrace.WithRemoteParentNotSampled(ratio))),
	)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: exporting spans", "err", err) }))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("tracing: flushing spans: %w", err)
		}
		return nil
	}, nil
}

// printTracing says where traces go, or that they are off.
func printTracing(w io.Writer, s tracingSettings) {
	if s.endpoint == "" {
		fmt.Fprintln(w, "  tracing         off (tracing.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT turns it on)")
		return
	}
	where := "(an endpoint that is not a URL)"
	if u, err := url.Parse(s.endpoint); err == nil {
		where = u.Scheme + "://" + u.Host + u.Path // never credentials or a query
	}
	fmt.Fprintf(w, "  tracing         OpenTelemetry over OTLP/HTTP to %s, service %s, %g of traces\n", where, s.service, s.ratio)
}
