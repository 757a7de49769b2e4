package signing

import (
	"context"
	"errors"
	"fmt"

	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// NotificationEncoder writes the webhook body that tells a relying party
// how its transaction t ended, in the wire format of the dialect it speaks
// (smartca.EncodeNotification: the body of the SmartCA-style status call).
// The service calls it once per ended transaction of a client with a
// webhook URL, and again with t's signatures left out when the body passes
// maxNotification; the body is written to the outbox with the state
// change.
type NotificationEncoder func(t *Transaction) ([]byte, error)

// maxNotification is the largest webhook body the outbox keeps; a larger
// result goes without its signatures, which the relying party then polls
// for.
const maxNotification = 1 << 20

// transition moves t, changed, from status from, with the webhook its new
// state causes and the audit events, in one database write
// (store.TransitionTransaction): a crash keeps the state change with its
// webhook and events, or none of them. It runs to the end though the
// caller hangs up: what is decided must not be lost.
func (s *Service) transition(ctx context.Context, t *store.Transaction, from store.TransactionStatus, events ...*store.AuditEvent) error {
	ctx = context.WithoutCancel(ctx)
	w, err := s.webhookFor(ctx, t)
	if err != nil {
		return err
	}
	return s.st.TransitionTransaction(ctx, t, from, w, events...)
}

// final reports whether a transaction in status st has ended.
func final(st store.TransactionStatus) bool {
	switch st {
	case store.TxSigned, store.TxRejected, store.TxExpired, store.TxFailed:
		return true
	}
	return false
}

// IdempotencyKey is what a relying party de-duplicates the notifications
// of t by: kyso's transaction ID and its final state ("<tran_code>:signed").
// A transaction reaches a final state once, so every delivery of its
// webhook, retries included, and its status calls after it carry the same
// key, and no other notification does. Empty while t has not ended.
func (t *Transaction) IdempotencyKey() string {
	if !final(t.Status) {
		return ""
	}
	return t.ID + ":" + string(t.Status)
}

// webhookFor is the outbox row of t's notification when t has ended and its
// client has a webhook URL, else nil.
func (s *Service) webhookFor(ctx context.Context, t *store.Transaction) (*store.Webhook, error) {
	if !final(t.Status) {
		return nil, nil
	}
	c, err := s.st.GetClient(ctx, t.ClientID)
	if err != nil {
		return nil, err
	}
	if c.WebhookURL == "" || c.Disabled {
		return nil, nil
	}
	if s.cfg.Notification == nil {
		s.log.ErrorContext(ctx, "signing: no notification encoder (Config.Notification): the relying party must poll", "transaction", t.ID, "client", t.ClientID)
		return nil, nil
	}
	x, err := s.decode(t)
	if err != nil {
		return nil, err
	}
	body, err := s.cfg.Notification(x)
	if err != nil {
		return nil, fmt.Errorf("signing: encoding the notification: %w", err)
	}
	if len(body) > maxNotification {
		brief := *x
		brief.Signatures = nil
		if body, err = s.cfg.Notification(&brief); err != nil {
			return nil, fmt.Errorf("signing: encoding the notification: %w", err)
		}
	}
	return s.newWebhook(ctx, c, body, x.IdempotencyKey()), nil
}

// newWebhook is an outbox row sending body to c's webhook URL, due now,
// under the idempotency key every retry keeps, with the traceparent of
// the span queueing it (its deliveries' spans link to it).
func (s *Service) newWebhook(ctx context.Context, c *store.Client, body []byte, key string) *store.Webhook {
	return &store.Webhook{ClientID: c.ID, URL: c.WebhookURL, Body: body, IdempotencyKey: key, NextAttempt: s.now(),
		Trace: tracing.Traceparent(ctx)}
}

// ExpireOverdue marks pending transactions past their expiry as expired,
// which queues their webhooks: without it a transaction nobody polls
// would never end. It looks at the newest thousand pending transactions
// and returns how many of them it found overdue; replicas may run it at
// once (each transaction changes state, and is notified, once).
func (s *Service) ExpireOverdue(ctx context.Context) (int, error) {
	list, err := s.st.ListOverdue(ctx, s.now(), 1000)
	if err != nil {
		return 0, fmt.Errorf("signing: listing overdue transactions: %w", err)
	}
	n := 0
	now := s.now()
	for _, t := range list {
		if now.Before(t.ExpiresAt) {
			continue
		}
		x, err := s.expireIfDue(ctx, t)
		if err != nil {
			return n, err
		}
		if x.Status == store.TxExpired {
			n++
		}
	}
	return n, nil
}

// Client returns a relying party by ID: the webhook dispatcher needs its
// key, the owner's app its name.
func (s *Service) Client(ctx context.Context, id string) (*store.Client, error) {
	if id == "" || len(id) > 128 {
		return nil, fail(KindNotFound, "unknown client")
	}
	c, err := s.st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "unknown client")
	}
	return c, err
}
