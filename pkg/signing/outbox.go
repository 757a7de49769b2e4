package signing

import (
	"context"
	"errors"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
)

// NotificationEncoder writes the webhook body that tells a relying party
// how its transaction t ended, in the wire format of the dialect it speaks
// (smartca.EncodeNotification: the body of the SmartCA-style status call).
// The outbox calls it once per ended transaction of a client with a
// webhook URL, and again with t's signatures left out when the body passes
// maxNotification.
type NotificationEncoder func(t *Transaction) ([]byte, error)

// maxNotification is the largest webhook body the outbox keeps; a larger
// result goes without its signatures, which the relying party then polls
// for.
const maxNotification = 1 << 20

// notify puts a webhook in the outbox when t has ended and its client has
// a webhook URL. It is called once per transaction, by whoever moved it to
// its final state. A failure is logged, not returned: the state change has
// happened, and the relying party can still poll.
func (s *Service) notify(ctx context.Context, t *store.Transaction) {
	switch t.Status {
	case store.TxSigned, store.TxRejected, store.TxExpired, store.TxFailed:
	default:
		return
	}
	// The state change is recorded: a caller hanging up now must not
	// lose its notification.
	if err := s.enqueue(context.WithoutCancel(ctx), t); err != nil {
		s.log.Error("signing: webhook not queued; the relying party must poll", "transaction", t.ID, "client", t.ClientID, "error", err)
	}
}

func (s *Service) enqueue(ctx context.Context, t *store.Transaction) error {
	c, err := s.st.GetClient(ctx, t.ClientID)
	if err != nil {
		return err
	}
	if c.WebhookURL == "" || c.Disabled {
		return nil
	}
	if s.cfg.Notification == nil {
		return errors.New("signing: no notification encoder (Config.Notification)")
	}
	x, err := s.decode(t)
	if err != nil {
		return err
	}
	body, err := s.cfg.Notification(x)
	if err != nil {
		return fmt.Errorf("signing: encoding the notification: %w", err)
	}
	if len(body) > maxNotification {
		brief := *x
		brief.Signatures = nil
		if body, err = s.cfg.Notification(&brief); err != nil {
			return fmt.Errorf("signing: encoding the notification: %w", err)
		}
	}
	return s.st.EnqueueWebhook(ctx, &store.Webhook{ClientID: c.ID, URL: c.WebhookURL, Body: body, NextAttempt: s.now()})
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
