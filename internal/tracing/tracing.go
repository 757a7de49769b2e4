// Package tracing is how kyso's libraries make OpenTelemetry spans: through
// the global API (go.opentelemetry.io/otel), never the SDK. Until a command
// installs a tracer provider (cmd/kysod does when tracing is configured),
// the global one is a no-op and a span costs an allocation-free call.
//
// What a span may hold: route patterns, operation names, kinds, counts,
// and the IDs kysod's log lines already name (owner, credential, client,
// delivery, request). Never a PIN, one-time code, SAD, token, national ID,
// document hash, URL path or query, or an error's message (errors may
// quote any of these): an error is recorded by its Go type only.
package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of kyso's spans.
const Scope = "github.com/kyso-pki/kyso"

// untraced is the global provider before any is installed.
var untraced = otel.GetTracerProvider()

// Tracer is kyso's tracer from the global provider, looked up at each call
// so that the provider installed last counts.
func Tracer() trace.Tracer { return otel.Tracer(Scope) }

// Enabled reports whether a tracer provider has been installed: until
// then, a caller on a hot path (httpedge.Measure) skips even the no-op
// span and the propagator.
func Enabled() bool { return otel.GetTracerProvider() != untraced }

// Child starts a span named name under the span ctx carries. When ctx
// carries none (background work: the dispatcher's rounds, the PKI's
// upkeep), it starts nothing and returns ctx with a no-op span, so that
// work outside a request makes no stray root spans.
func Child(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, marking it failed when err is not nil, with err's Go type
// as error.type: never its message.
func End(span trace.Span, err error) {
	if err != nil {
		span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// Traceparent is the W3C traceparent of the span ctx carries, to be kept
// with work queued for later (a webhook); "" when ctx carries none.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// LinkTo is a link to the span a Traceparent named, for the span of the
// work done later to point back at the request that queued it; false
// when tp names no valid span.
func LinkTo(tp string) (trace.Link, bool) {
	if tp == "" {
		return trace.Link{}, false
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
	sc := trace.SpanContextFromContext(ctx)
	return trace.Link{SpanContext: sc}, sc.IsValid()
}
