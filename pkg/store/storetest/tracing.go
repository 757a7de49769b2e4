package storetest

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kyso-pki/kyso/pkg/store"
)

// RunTracing checks a driver's spans (internal/tracing) with a tracer
// provider installed: a write in a traced request is a db.write span
// below the request's, naming the database (system, as
// db.system.name) and nothing the write holds; a write outside a request
// makes no span at all.
func RunTracing(t *testing.T, s store.Store, system string) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	ctx := context.Background()
	const secret = "079203001234"
	event := func() *store.AuditEvent {
		return &store.AuditEvent{Actor: "owner:" + secret, Action: "owner.factors", Subject: secret, Outcome: "ok", Details: []byte(`{"national_id":"` + secret + `"}`)}
	}
	if err := s.AppendAudit(ctx, event()); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("a write outside a request made %d spans, want none", n)
	}
	rctx, request := otel.Tracer("storetest").Start(ctx, "request")
	if err := s.AppendAudit(rctx, event()); err != nil {
		t.Fatal(err)
	}
	request.End()
	var writes int
	for _, sp := range rec.Ended() {
		for _, a := range sp.Attributes() {
			if strings.Contains(a.Value.Emit(), secret) {
				t.Errorf("span %s attribute %s holds what was written: %q", sp.Name(), a.Key, a.Value.Emit())
			}
			if sp.Name() == "db.write" && a.Key == "db.system.name" && a.Value.AsString() == system {
				writes++
			}
		}
		if sp.Name() == "db.write" && sp.Parent().SpanID() != request.SpanContext().SpanID() {
			t.Errorf("db.write is not below the request's span")
		}
	}
	if writes != 1 {
		t.Errorf("%d db.write spans naming %s below the request, want 1 (spans: %d)", writes, system, len(rec.Ended()))
	}
}
