package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// testReceipts: an approval and its consent receipt are written together
// or not at all (ApproveTransaction, PutAuthCode), and a receipt is read
// back by its ID and by its transaction.
func testReceipts(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := putSigner(t, s)
	tx := g.createTx(t, s)
	now := time.Now().UTC()
	receipt := func(txID string) *store.Receipt {
		return &store.Receipt{ID: newID(t, "rcp"), OwnerID: g.owner.ID, ClientID: g.client.ID, TransactionID: txID,
			ActivationID: newID(t, "act"), CMS: randomBytes(t, 300), CreatedAt: now}
	}
	status := func(id string) store.TransactionStatus {
		t.Helper()
		got, err := s.GetTransaction(ctx, id)
		noErr(t, "GetTransaction", err)
		return got.Status
	}
	approve := func(id string) *store.Transaction {
		return &store.Transaction{ID: id, Status: store.TxApproved, UpdatedAt: now, LeaseOwner: "r1", LeaseUntil: now.Add(time.Minute)}
	}
	event := func() *store.AuditEvent {
		return &store.AuditEvent{Actor: "owner:x", Action: "transaction.approve", Subject: tx.ID, Outcome: "ok", Details: []byte(`{}`)}
	}

	r := receipt(tx.ID)
	e := event()
	noErr(t, "ApproveTransaction", s.ApproveTransaction(ctx, approve(tx.ID), store.TxPending, r, e))
	if e.ID < 1 || status(tx.ID) != store.TxApproved {
		t.Fatalf("after ApproveTransaction: audit ID %d, status %s", e.ID, status(tx.ID))
	}
	for what, get := range map[string]func() (*store.Receipt, error){
		"GetReceipt":            func() (*store.Receipt, error) { return s.GetReceipt(ctx, r.ID) },
		"GetTransactionReceipt": func() (*store.Receipt, error) { return s.GetTransactionReceipt(ctx, tx.ID) },
	} {
		got, err := get()
		noErr(t, what, err)
		if got.ID != r.ID || got.OwnerID != r.OwnerID || got.ClientID != r.ClientID || got.TransactionID != tx.ID ||
			got.ActivationID != r.ActivationID || !bytes.Equal(got.CMS, r.CMS) {
			t.Fatalf("%s = %+v, want %+v", what, got, r)
		}
		sameTime(t, what+" CreatedAt", got.CreatedAt, now)
	}
	_, err := s.GetReceipt(ctx, "nobody")
	wantErr(t, "GetReceipt unknown", err, store.ErrNotFound)
	_, err = s.GetTransactionReceipt(ctx, g.createTx(t, s).ID)
	wantErr(t, "GetTransactionReceipt of an unapproved transaction", err, store.ErrNotFound)

	// A second approval of the same transaction loses the compare and
	// set: its receipt is not written.
	late := receipt(tx.ID)
	wantErr(t, "ApproveTransaction twice", s.ApproveTransaction(ctx, approve(tx.ID), store.TxPending, late), store.ErrConflict)
	_, err = s.GetReceipt(ctx, late.ID)
	wantErr(t, "the receipt of a lost approval", err, store.ErrNotFound)

	// A receipt that cannot be written (its ID taken) takes the approval
	// with it: the transaction stays pending, the event is not appended.
	other := g.createTx(t, s)
	dup := receipt(other.ID)
	dup.ID = r.ID
	wantErr(t, "ApproveTransaction with a receipt ID taken", s.ApproveTransaction(ctx, approve(other.ID), store.TxPending, dup, event()), store.ErrExists)
	if st := status(other.ID); st != store.TxPending {
		t.Fatalf("an approval whose receipt failed left the transaction %s", st)
	}
	wantErr(t, "ApproveTransaction with another transaction's receipt", s.ApproveTransaction(ctx, approve(other.ID), store.TxPending, receipt(tx.ID)), store.ErrInvalid)
	wantErr(t, "ApproveTransaction without a receipt", s.ApproveTransaction(ctx, approve(other.ID), store.TxPending, nil), store.ErrInvalid)

	// oauth2code: the code, its receipt (no transaction) and the consent
	// event in one write.
	code := &store.AuthCode{Hash: randomBytes(t, 32), ClientID: g.client.ID, Request: []byte(`{}`), ExpiresAt: now.Add(time.Minute)}
	cr := receipt("")
	ce := event()
	noErr(t, "PutAuthCode with a receipt", s.PutAuthCode(ctx, code, cr, ce))
	got, err := s.GetReceipt(ctx, cr.ID)
	noErr(t, "GetReceipt of a consent", err)
	if got.TransactionID != "" || ce.ID < 1 {
		t.Fatalf("consent receipt transaction %q, event ID %d", got.TransactionID, ce.ID)
	}
	orphan := receipt("")
	orphan.OwnerID = "nobody"
	lost := &store.AuthCode{Hash: randomBytes(t, 32), ClientID: g.client.ID, Request: []byte(`{}`), ExpiresAt: now.Add(time.Minute)}
	wantErr(t, "PutAuthCode with a receipt of an unknown owner", s.PutAuthCode(ctx, lost, orphan), store.ErrNotFound)
	_, err = s.TakeAuthCode(ctx, lost.Hash, now)
	wantErr(t, "the code whose receipt failed", err, store.ErrNotFound)
}
