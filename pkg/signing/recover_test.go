package signing_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// keyEncoder is a notification encoder whose body is the transaction's
// idempotency key.
func keyEncoder(x *signing.Transaction) ([]byte, error) { return []byte(x.IdempotencyKey()), nil }

// TestRecoverAbandoned: a transaction left approved by a replica that died
// while signing it is left alone while that replica's lease runs, then
// failed once, with its webhook (keyed "<id>:failed") and a
// transaction.fail audit event; the relying party sees "failed" and
// RecoveredError.
func TestRecoverAbandoned(t *testing.T) {
	e := newEnvWith(t, func(c *signing.Config) { c.Notification = keyEncoder; c.ApprovalLease = time.Minute })
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	cl, err := e.svc.CreateClient(ctx, "Portal", "https://portal.example/hook", "test")
	if err != nil {
		t.Fatal(err)
	}
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "abandoned-1", NationalID: en.NationalID,
		Documents: []signing.Document{{DocID: "a.pdf", Hash: digest("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	// The approval was recorded by a replica that then died.
	approved := *tx.Transaction
	approved.Status, approved.LeaseOwner, approved.LeaseUntil = store.TxApproved, "kysod-dead", e.clock.Now().Add(time.Minute)
	if err := e.p.Store.UpdateTransaction(ctx, &approved, store.TxPending); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("Recover during the lease = %d, %v; want 0", n, err)
	}
	e.clock.Advance(61 * time.Second)
	if n, err := e.svc.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover after the lease = %d, %v; want 1", n, err)
	}
	if n, err := e.svc.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("Recover again = %d, %v; want 0", n, err)
	}
	got, err := e.svc.ClientTransaction(ctx, cl.ID, "abandoned-1")
	if err != nil || got.Status != store.TxFailed || got.Error != signing.RecoveredError || len(got.Signatures) != 0 {
		t.Fatalf("after recovery: %+v, %v", got, err)
	}
	if got.IdempotencyKey() != tx.ID+":failed" {
		t.Errorf("IdempotencyKey = %q", got.IdempotencyKey())
	}
	list, err := e.p.Store.ClaimWebhooks(ctx, e.clock.Now().Add(time.Minute), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || string(list[0].Body) != tx.ID+":failed" || list[0].IdempotencyKey != tx.ID+":failed" {
		t.Fatalf("webhooks after recovery: %d, want one keyed %s:failed", len(list), tx.ID)
	}
	events, err := e.p.Store.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	fails := 0
	for _, ev := range events {
		if ev.Action == "transaction.fail" && ev.Subject == tx.ID && ev.Outcome == "error" {
			fails++
		}
	}
	if fails != 1 {
		t.Errorf("%d transaction.fail events, want 1", fails)
	}
}

// TestTransactionAudit: an approved transaction's signatures are audited
// as signHash's are — one intent per document, written with the spending
// of the activation data — and their outcomes (ok) come after, one per
// document, written with the signed state and its webhook; all name the
// transaction and the activation of the approval.
func TestTransactionAudit(t *testing.T) {
	e := newEnvWith(t, func(c *signing.Config) { c.Notification = keyEncoder })
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	cl, err := e.svc.CreateClient(ctx, "Portal", "https://portal.example/hook", "test")
	if err != nil {
		t.Fatal(err)
	}
	docs := []signing.Document{{DocID: "a", Hash: digest("a")}, {DocID: "b", Hash: digest("b")}, {DocID: "c", Hash: digest("c")}}
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "audit-1", NationalID: en.NationalID, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.p.Store.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	after := before[len(before)-1].ID
	done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", e.next(t, en))
	if err != nil || done.Status != store.TxSigned || done.LeaseOwner != "" {
		t.Fatalf("approve: %v", err)
	}
	events, err := e.p.Store.ListAudit(ctx, after, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	activation := ""
	for _, ev := range events {
		var d struct{ Activation, Transaction string }
		json.Unmarshal(ev.Details, &d)
		switch ev.Action {
		case "transaction.approve":
			activation = d.Activation
			seq = append(seq, "approve")
		case "signature.create":
			if d.Transaction != tx.ID || d.Activation != activation || activation == "" {
				t.Errorf("signature.create %s names transaction %q, activation %q; want %s, %s", ev.Outcome, d.Transaction, d.Activation, tx.ID, activation)
			}
			seq = append(seq, ev.Outcome)
		}
	}
	want := []string{"approve", "intent", "intent", "intent", "ok", "ok", "ok"}
	if len(seq) != len(want) {
		t.Fatalf("events %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("events %v, want %v", seq, want)
		}
	}
}
