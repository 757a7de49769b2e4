package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/pkg/store"
)

// BenchAppendAudit measures AppendAudit of one event from b's parallel
// goroutines (RunParallel), as the signing path writes its intents: the
// price of ordering the log (and chaining it) under many writers. It
// reports events/s.
func BenchAppendAudit(b *testing.B, s store.Store) {
	ctx := context.Background()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := &store.AuditEvent{Actor: "bench", Action: "signature.create", Subject: fmt.Sprint(n.Add(1)), Outcome: "intent", Details: []byte(`{"hashes":1}`)}
			if err := s.AppendAudit(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
