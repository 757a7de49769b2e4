package server

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/kyso-pki/kyso/pkg/store"
)

// BenchmarkNewPKI measures the PKI's start (kysod builds it once, before
// serving) over an audit trail of KYSO_AUDIT_EVENTS events (default
// 210,000: what 100,000 certificates left in issue 19's measurement).
func BenchmarkNewPKI(b *testing.B) {
	n := 210_000
	if v := os.Getenv("KYSO_AUDIT_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			b.Fatalf("KYSO_AUDIT_EVENTS=%q: want a number", v)
		}
	}
	ctx := context.Background()
	a, st, _ := setup(b)
	for done := 0; done < n; {
		var batch []*store.AuditEvent
		for ; len(batch) < 5000 && done < n; done++ {
			batch = append(batch, &store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: fmt.Sprintf("cred-%d", done),
				Outcome: "intent", Details: []byte(fmt.Sprintf(`{"owner":"own-%d","activation":"act-%d","digest":"AAAA","hash":"SHA-256"}`, done, done))})
		}
		if err := st.AppendAudit(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := NewPKI(ctx, a, st, nil); err != nil {
			b.Fatal(err)
		}
	}
}
