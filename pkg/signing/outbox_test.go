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
			clientID, list := signForWebhook(t, e)
			if len(list) != 1 || string(bytes.TrimRight(list[0].Body, " ")) != tc.want || len(list[0].Body) > 1<<20 {
				t.Fatalf("queued %d webhooks; want one with body %q", len(list), tc.want)
			}
			if list[0].URL != "https://portal.example/hook" || list[0].ClientID != clientID {
				t.Errorf("queued for %s at %s", list[0].ClientID, list[0].URL)
			}
		})
	}
}

// TestOutboxWithoutEncoder: a service given no encoder queues nothing (it
// logs that the relying party must poll); the transaction still ends.
func TestOutboxWithoutEncoder(t *testing.T) {
	if _, list := signForWebhook(t, newEnv(t)); len(list) != 0 {
		t.Fatalf("queued %d webhooks; want none", len(list))
	}
}

// signForWebhook signs a one-hash transaction for a new client with a
// webhook URL, and returns the client's ID and the webhooks then due.
func signForWebhook(t *testing.T, e *env) (string, []*store.Webhook) {
	t.Helper()
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
	list, err := e.p.Store.ClaimWebhooks(ctx, e.clock.Now().Add(time.Minute), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	return cl.ID, list
}
