package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Notification is what a relying party learns of a transaction: the body
// of the SmartCA-style status call and of the webhook sent when the
// transaction ends (PROTOCOLS.md, "SmartCA-style asynchronous dialect"),
// so a portal parses both with one type.
type Notification struct {
	// StatusCode is 200: the notification itself is a success; Data.Status
	// says how the transaction ended.
	StatusCode int                `json:"status_code"`
	Message    string             `json:"message"`
	Data       *TransactionResult `json:"data"`
}

// TransactionResult is a transaction as the relying party sees it.
type TransactionResult struct {
	// TransactionID is the relying party's own ID; TranCode is kyso's.
	TransactionID string `json:"transaction_id"`
	TranCode      string `json:"tran_code"`
	// Status is "pending", "signed", "rejected", "expired" or "failed"
	// (a transaction approved and being signed is still "pending").
	Status     string            `json:"status"`
	Signatures []ResultSignature `json:"signatures"`
}

// ResultSignature is one document's signature.
type ResultSignature struct {
	DocID string `json:"doc_id"`
	// SignatureValue is the signature, base64: an ASN.1 ECDSA-Sig-Value
	// for EC keys, the RSASSA-PSS (or PKCS#1 v1.5) octets for RSA keys.
	SignatureValue string `json:"signature_value"`
	// TimestampSignature would be an RFC 3161 token over the signature;
	// kyso leaves it empty.
	TimestampSignature string `json:"timestamp_signature"`
	// SignedFile is the signed PDF, base64, for a document sent whole
	// (sign_type "pdf"); SignatureValue is then empty.
	SignedFile string `json:"signed_file,omitempty"`
}

// statusMessages are the Vietnamese messages portals show their users.
var statusMessages = map[string]string{
	"pending":  "Đang chờ người dùng xác nhận",
	"signed":   "Ký số thành công",
	"rejected": "Người dùng đã từ chối ký",
	"expired":  "Giao dịch đã hết hạn do người dùng không xác nhận",
	"failed":   "Ký số không thành công",
}

// NewNotification describes t for its relying party.
func NewNotification(t *Transaction) *Notification {
	status := string(t.Status)
	if t.Status == store.TxApproved {
		status = string(store.TxPending)
	}
	r := &TransactionResult{TransactionID: t.ClientRef, TranCode: t.ID, Status: status, Signatures: []ResultSignature{}}
	for _, s := range t.Signatures {
		rs := ResultSignature{DocID: s.DocID, SignatureValue: base64.StdEncoding.EncodeToString(s.Signature)}
		if s.SignedPDF != nil {
			rs.SignatureValue, rs.SignedFile = "", base64.StdEncoding.EncodeToString(s.SignedPDF)
		}
		r.Signatures = append(r.Signatures, rs)
	}
	return &Notification{StatusCode: 200, Message: statusMessages[status], Data: r}
}

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
	x, err := s.decode(t)
	if err != nil {
		return err
	}
	n := NewNotification(x)
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if len(body) > maxNotification {
		n.Data.Signatures = []ResultSignature{}
		if body, err = json.Marshal(n); err != nil {
			return err
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
