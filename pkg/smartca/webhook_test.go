package smartca_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// TestWebhookRetry: the receiver fails once; the webhook is retried after
// the backoff, not before, delivered on the second attempt with the same
// delivery ID and body, and never sent again.
func TestWebhookRetry(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	e.rcv.fail = []int{http.StatusInternalServerError}
	code := e.submit(t, e.portal, "retry-1", file("a.pdf", "a"))
	if status, raw := e.decide(t, e.citizen, e.login(t, e.citizen), code, true); status != http.StatusOK {
		t.Fatalf("approve: HTTP %d %s", status, raw)
	}
	if n := e.once(t); n != 1 {
		t.Fatalf("first round tried %d", n)
	}
	if n := e.once(t); n != 0 {
		t.Fatalf("retried at once, before the backoff (%d)", n)
	}
	e.clock.Advance(5 * time.Second)
	if n := e.once(t); n != 0 {
		t.Fatalf("retried after 5 s (%d)", n)
	}
	e.clock.Advance(6 * time.Second)
	if n := e.once(t); n != 1 {
		t.Fatalf("not retried after 11 s (%d)", n)
	}
	e.clock.Advance(2 * time.Hour)
	if n := e.once(t); n != 0 {
		t.Fatalf("a delivered webhook was tried again (%d)", n)
	}
	got := e.rcv.deliveries()
	if len(got) != 2 || got[0].status != 500 || got[1].status != 200 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	for _, d := range got {
		if n := checkDelivery(t, d, e.portal); n.Data.Status != "signed" || n.Data.TranCode != code || len(n.Data.Signatures) != 1 {
			t.Errorf("webhook data %+v", n.Data)
		}
	}
	if got[0].header.Get("X-Kyso-Delivery") != got[1].header.Get("X-Kyso-Delivery") || string(got[0].body) != string(got[1].body) {
		t.Error("the retry is not the same delivery")
	}
}

// TestWebhookAtLeastOnce: a replica that claimed the webhook and died
// before recording its delivery leaves it to be sent once its lease ends;
// every delivery, and the status call, carry the same idempotency key,
// the portal's way to act once.
func TestWebhookAtLeastOnce(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	code := e.submit(t, e.portal, "twice-1", file("a.pdf", "a"))
	if status, raw := e.decide(t, e.citizen, e.login(t, e.citizen), code, true); status != http.StatusOK {
		t.Fatalf("approve: HTTP %d %s", status, raw)
	}
	// The dead replica's claim.
	claimed, err := e.st.ClaimWebhooks(context.Background(), e.clock.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	if n := e.once(t); n != 0 {
		t.Fatalf("sent during another replica's lease (%d)", n)
	}
	e.clock.Advance(61 * time.Second)
	if n := e.once(t); n != 1 {
		t.Fatalf("not sent after the lease ended (%d)", n)
	}
	got := e.rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	n := checkDelivery(t, got[0], e.portal)
	if n.Data.IdempotencyKey != code+":signed" {
		t.Errorf("idempotency key %q, want %s:signed", n.Data.IdempotencyKey, code)
	}
	if st, _ := e.status(t, e.portal, code); st.IdempotencyKey != n.Data.IdempotencyKey {
		t.Errorf("the status call's idempotency key %q, the webhook's %q", st.IdempotencyKey, n.Data.IdempotencyKey)
	}
}

// TestWebhookGiveUp: a receiver that always fails is tried until the
// retries would pass GiveUpAfter, then left alone; a redirect is a failure
// and is not followed.
func TestWebhookGiveUp(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	e.disp.GiveUpAfter = 15 * time.Second
	e.rcv.fail = []int{http.StatusFound, http.StatusServiceUnavailable, 500, 500}
	code := e.submit(t, e.portal, "gone-1", file("a.pdf", "a"))
	if status, _ := e.decide(t, e.citizen, e.login(t, e.citizen), code, false); status != http.StatusOK {
		t.Fatal("reject failed")
	}
	e.once(t)
	e.clock.Advance(11 * time.Second)
	e.once(t) // 10 s + 20 s of waiting would pass 15 s: given up
	e.clock.Advance(3 * time.Hour)
	if n := e.once(t); n != 0 {
		t.Errorf("tried again after giving up (%d)", n)
	}
	got := e.rcv.deliveries()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2 (the redirect not followed)", len(got))
	}
	for _, d := range got {
		if d.method != http.MethodPost || d.path != "/hook" {
			t.Errorf("%s %s: the redirect was followed", d.method, d.path)
		}
	}
}

// TestNotified: a rejected transaction and one nobody approved in time are
// notified; the expired one without anyone polling it, and only once.
func TestNotified(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	tok := e.login(t, e.citizen)
	rejected := e.submit(t, e.portal, "no-1", file("a.pdf", "a"))
	if status, raw := e.decide(t, e.citizen, tok, rejected, false); status != http.StatusOK {
		t.Fatalf("reject: HTTP %d %s", status, raw)
	}
	if st, _ := e.status(t, e.portal, rejected); st.Status != "rejected" || len(st.Signatures) != 0 {
		t.Errorf("status of the rejected: %+v", st)
	}
	expired := e.submit(t, e.portal, "late-1", file("b.pdf", "b"))
	polled := e.submit(t, e.portal, "late-2", file("c.pdf", "c"))
	notifiedOnly := e.submit(t, e.other, "late-3", file("d.pdf", "d")) // no webhook URL

	if n := e.once(t); n != 1 {
		t.Fatalf("first round tried %d, want the rejection", n)
	}
	e.clock.Advance(11 * time.Minute)
	if st, _ := e.status(t, e.portal, polled); st.Status != "expired" {
		t.Errorf("polled after 11 minutes: %s", st.Status)
	}
	if n := e.once(t); n != 2 {
		t.Fatalf("second round tried %d, want the two expired", n)
	}
	if n := e.once(t); n != 0 {
		t.Fatalf("third round tried %d", n)
	}
	if st, _ := e.status(t, e.other, notifiedOnly); st.Status != "expired" {
		t.Errorf("the other party's transaction: %s", st.Status)
	}
	want := map[string]string{rejected: "rejected", expired: "expired", polled: "expired"}
	got := e.rcv.deliveries()
	if len(got) != len(want) {
		t.Fatalf("%d webhooks, want %d", len(got), len(want))
	}
	for _, d := range got {
		n := checkDelivery(t, d, e.portal)
		if want[n.Data.TranCode] != n.Data.Status || len(n.Data.Signatures) != 0 || n.Message == "" {
			t.Errorf("webhook %+v %+v", n, n.Data)
		}
		delete(want, n.Data.TranCode)
	}
	if len(want) != 0 {
		t.Errorf("not notified: %v", want)
	}
	if _, err := e.svc.ExpireOverdue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDeliverLoop runs the dispatcher as kysod does, until its context
// ends.
func TestDeliverLoop(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	code := e.submit(t, e.portal, "loop-1", file("a.pdf", "a"))
	if status, _ := e.decide(t, e.citizen, e.login(t, e.citizen), code, false); status != http.StatusOK {
		t.Fatal("reject failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	e.disp.Interval = 10 * time.Millisecond
	go func() { done <- e.disp.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.rcv.deliveries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := e.rcv.deliveries(); len(got) != 1 {
		t.Fatalf("%d webhooks delivered by the loop", len(got))
	}
}
