package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testTransition: a transaction's state change, the webhook it causes and
// its audit events are written together or not at all (issue 16: a
// crash between the status and the outbox row lost webhooks).
func testTransition(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := putSigner(t, s)
	tx := g.createTx(t, s)
	now := time.Now().UTC()
	auditCount := func() int {
		t.Helper()
		es, err := s.ListAudit(ctx, 0, 10000)
		noErr(t, "ListAudit", err)
		return len(es)
	}
	event := func(action string) *store.AuditEvent {
		return &store.AuditEvent{Actor: "kysod", Action: action, Subject: tx.ID, Outcome: "ok", Details: []byte(`{}`)}
	}

	// pending → approved, leased to r1.
	until := now.Add(time.Minute)
	approve := &store.Transaction{ID: tx.ID, Status: store.TxApproved, UpdatedAt: now, LeaseOwner: "r1", LeaseUntil: until}
	e := event("transaction.approve")
	noErr(t, "pending → approved", s.TransitionTransaction(ctx, approve, store.TxPending, nil, e))
	if e.ID < 1 {
		t.Fatalf("TransitionTransaction set audit ID %d", e.ID)
	}
	got, err := s.GetTransaction(ctx, tx.ID)
	noErr(t, "GetTransaction", err)
	if got.Status != store.TxApproved || got.LeaseOwner != "r1" {
		t.Fatalf("after approval: status %s, lease owner %q", got.Status, got.LeaseOwner)
	}
	sameTime(t, "LeaseUntil", got.LeaseUntil, until)

	// approved → signed, with its webhook and events, the lease let go.
	before := auditCount()
	w := &store.Webhook{ClientID: g.client.ID, URL: g.client.WebhookURL, Body: []byte(`{"status":"signed"}`), IdempotencyKey: tx.ID + ":signed", NextAttempt: now}
	events := []*store.AuditEvent{event("signature.create"), event("signature.create")}
	signed := &store.Transaction{ID: tx.ID, Status: store.TxSigned, Result: []byte(`[]`), UpdatedAt: now}
	noErr(t, "approved → signed", s.TransitionTransaction(ctx, signed, store.TxApproved, w, events...))
	if w.ID < 1 || events[0].ID < 1 || events[1].ID <= events[0].ID {
		t.Fatalf("TransitionTransaction set webhook ID %d, audit IDs %d, %d", w.ID, events[0].ID, events[1].ID)
	}
	if n := auditCount(); n != before+2 {
		t.Fatalf("%d audit events appended, want 2", n-before)
	}
	got, _ = s.GetTransaction(ctx, tx.ID)
	if got.Status != store.TxSigned || got.LeaseOwner != "" || !got.LeaseUntil.IsZero() {
		t.Fatalf("after signing: status %s, lease %q until %v", got.Status, got.LeaseOwner, got.LeaseUntil)
	}
	ws, _ := claimIDs(t, s, now.Add(time.Hour), time.Minute, 10)
	if len(ws) != 1 || ws[0].ID != w.ID || ws[0].IdempotencyKey != w.IdempotencyKey || string(ws[0].Body) != string(w.Body) {
		t.Fatalf("outbox after signing: %+v, want webhook %d with key %q", ws, w.ID, w.IdempotencyKey)
	}
	noErr(t, "FinishWebhook", s.FinishWebhook(ctx, w.ID, true, time.Time{}, ""))

	// A transition that loses the race writes nothing: no webhook, no
	// events.
	before = auditCount()
	lost := &store.Webhook{ClientID: g.client.ID, URL: g.client.WebhookURL, Body: []byte(`{"status":"failed"}`), NextAttempt: now}
	err = s.TransitionTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxFailed}, store.TxApproved, lost, event("transaction.fail"))
	wantErr(t, "signed → failed from approved", err, store.ErrConflict)
	if ws, list := claimIDs(t, s, now.Add(2*time.Hour), time.Minute, 10); len(ws) != 0 {
		t.Fatalf("a refused transition queued webhooks %s", list)
	}
	if n := auditCount(); n != before {
		t.Fatalf("a refused transition appended %d audit events", n-before)
	}

	// A webhook that cannot be stored undoes the state change and the
	// events with it.
	other := g.createTx(t, s)
	before = auditCount()
	orphan := &store.Webhook{ClientID: "nobody", URL: "https://p.example/", Body: []byte(`{}`)}
	err = s.TransitionTransaction(ctx, &store.Transaction{ID: other.ID, Status: store.TxRejected}, store.TxPending, orphan, event("transaction.reject"))
	wantErr(t, "transition with a webhook to an unknown client", err, store.ErrNotFound)
	if got, _ := s.GetTransaction(ctx, other.ID); got.Status != store.TxPending {
		t.Fatalf("status after a failed transition: %s, want pending", got.Status)
	}
	if n := auditCount(); n != before {
		t.Fatalf("a failed transition appended %d audit events", n-before)
	}
	// So does an audit event that cannot be stored.
	err = s.TransitionTransaction(ctx, &store.Transaction{ID: other.ID, Status: store.TxRejected}, store.TxPending, nil, &store.AuditEvent{Action: "x", Details: []byte("not JSON")})
	wantErr(t, "transition with a bad audit event", err, store.ErrInvalid)
	if got, _ := s.GetTransaction(ctx, other.ID); got.Status != store.TxPending {
		t.Fatalf("status after a refused transition: %s, want pending", got.Status)
	}
	wantErr(t, "transition of an unknown transaction", s.TransitionTransaction(ctx, &store.Transaction{ID: "nobody", Status: store.TxApproved}, store.TxPending, nil, event("x")), store.ErrNotFound)
	wantErr(t, "webhook without URL", s.TransitionTransaction(ctx, &store.Transaction{ID: other.ID, Status: store.TxRejected}, store.TxPending, &store.Webhook{ClientID: g.client.ID, Body: []byte(`{}`)}), store.ErrInvalid)
}

// testClaimApproved: an approved transaction whose lease has ended is
// claimed by one sweeper, with a new lease; one still leased, or not
// approved, is not.
func testClaimApproved(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	leased := g.createTx(t, s)
	noErr(t, "approve", s.UpdateTransaction(ctx, &store.Transaction{ID: leased.ID, Status: store.TxApproved, LeaseOwner: "r1", LeaseUntil: now.Add(time.Minute)}, store.TxPending))
	pending := g.createTx(t, s)
	signed := g.createTx(t, s)
	noErr(t, "approve", s.UpdateTransaction(ctx, &store.Transaction{ID: signed.ID, Status: store.TxApproved}, store.TxPending))
	noErr(t, "sign", s.UpdateTransaction(ctx, &store.Transaction{ID: signed.ID, Status: store.TxSigned}, store.TxApproved))

	claim := func(at time.Time, owner string) []*store.Transaction {
		t.Helper()
		list, err := s.ClaimApproved(ctx, at, owner, time.Minute, 10)
		noErr(t, "ClaimApproved", err)
		return list
	}
	if got := claim(now, "r2"); len(got) != 0 {
		t.Fatalf("ClaimApproved while r1's lease runs: %d claimed", len(got))
	}
	got := claim(now.Add(2*time.Minute), "r2")
	if len(got) != 1 || got[0].ID != leased.ID || got[0].Status != store.TxApproved || got[0].LeaseOwner != "r2" {
		t.Fatalf("ClaimApproved after the lease ended = %+v, want %s leased to r2", got, leased.ID)
	}
	sameTime(t, "new LeaseUntil", got[0].LeaseUntil, now.Add(3*time.Minute))
	if again := claim(now.Add(2*time.Minute), "r3"); len(again) != 0 {
		t.Fatalf("ClaimApproved during r2's lease: %d claimed", len(again))
	}
	// The holder's state change ends it; the sweep never sees it again.
	noErr(t, "fail", s.UpdateTransaction(ctx, &store.Transaction{ID: leased.ID, Status: store.TxFailed, Error: "interrupted"}, store.TxApproved))
	if again := claim(now.Add(time.Hour), "r3"); len(again) != 0 {
		t.Fatalf("ClaimApproved of ended transactions: %d claimed (pending %s, signed %s)", len(again), pending.ID, signed.ID)
	}

	for _, tc := range []struct {
		name  string
		lease time.Duration
		limit int
		owner string
	}{{"no lease", 0, 1, "r1"}, {"no limit", time.Minute, 0, "r1"}, {"no owner", time.Minute, 1, ""}} {
		_, err := s.ClaimApproved(ctx, now, tc.owner, tc.lease, tc.limit)
		wantErr(t, "ClaimApproved "+tc.name, err, store.ErrInvalid)
	}
}

// testConcurrentClaimApproved: sweepers on several replicas at once claim
// each abandoned transaction exactly once.
func testConcurrentClaimApproved(t *testing.T, s store.Signing) {
	ctx := context.Background()
	g := putSigner(t, s)
	want := map[string]bool{}
	for range 30 {
		tx := g.createTx(t, s)
		noErr(t, "approve", s.UpdateTransaction(ctx, &store.Transaction{ID: tx.ID, Status: store.TxApproved}, store.TxPending))
		want[tx.ID] = true
	}
	now := time.Now().UTC()
	got := make([][]string, 4)
	errs := race(4, func(i int) error {
		for {
			list, err := s.ClaimApproved(ctx, now, fmt.Sprintf("r%d", i), time.Hour, 3)
			if err != nil || len(list) == 0 {
				return err
			}
			for _, tx := range list {
				got[i] = append(got[i], tx.ID)
			}
		}
	})
	count(t, "ClaimApproved", errs, nil)
	seen := map[string]int{}
	for i := range got {
		for _, id := range got[i] {
			seen[id]++
			if seen[id] > 1 {
				t.Fatalf("transaction %s claimed twice", id)
			}
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d of %d abandoned transactions claimed", len(seen), len(want))
	}
}
