package signing_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestOutboxEncoder: the outbox queues exactly what the dialect's encoder
// writes; a body over 1 MiB is written again without the signatures, which
// the relying party then polls for.
func TestOutboxEncoder(t *testing.T) {
	for _, tc := range []struct {
		name string
		pad  int // bytes the encoder adds when there are signatures
		want string
	}{
		{"small", 0, "signed 1"},
		{"over 1 MiB", 1 << 20, "signed 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			encode := func(x *signing.Transaction) ([]byte, error) {
				b := fmt.Appendf(nil, "%s %d", x.Status, len(x.Signatures))
				if len(x.Signatures) > 0 {
					b = append(b, bytes.Repeat([]byte{' '}, tc.pad)...)
				}
				return b, nil
			}
			e := newEnvWith(t, func(c *signing.Config) { c.Notification = encode })
			ctx := context.Background()
			en := e.enrol(t, hsm.ECDSAP256)
			cl, err := e.svc.CreateClient(ctx, "Portal", "https://portal.example/hook", "test")
			if err != nil {
				t.Fatal(err)
			}
			tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "o-1", NationalID: en.NationalID,
				Documents: []signing.Document{{DocID: "a.pdf", Hash: digest("a")}}})
			if err != nil {
				t.Fatal(err)
			}
			if done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", e.next(t, en)); err != nil || done.Status != store.TxSigned {
				t.Fatalf("approve: %v", err)
			}
			list, err := e.p.Store.ClaimWebhooks(ctx, e.clock.now().Add(time.Minute), time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || string(bytes.TrimRight(list[0].Body, " ")) != tc.want || len(list[0].Body) > 1<<20 {
				t.Fatalf("queued %d webhooks; want one with body %q", len(list), tc.want)
			}
			if list[0].URL != "https://portal.example/hook" || list[0].ClientID != cl.ID {
				t.Errorf("queued for %s at %s", list[0].ClientID, list[0].URL)
			}
		})
	}
}

// TestOutboxWithoutEncoder: a service given no encoder queues nothing (it
// logs that the relying party must poll); the transaction still ends.
func TestOutboxWithoutEncoder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	cl, err := e.svc.CreateClient(ctx, "Portal", "https://portal.example/hook", "test")
	if err != nil {
		t.Fatal(err)
	}
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "o-2", NationalID: en.NationalID,
		Documents: []signing.Document{{DocID: "a.pdf", Hash: digest("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", e.next(t, en)); err != nil || done.Status != store.TxSigned {
		t.Fatalf("approve: %v", err)
	}
	if list, err := e.p.Store.ClaimWebhooks(ctx, e.clock.now().Add(time.Minute), time.Minute, 10); err != nil || len(list) != 0 {
		t.Fatalf("queued %d webhooks (%v); want none", len(list), err)
	}
}
