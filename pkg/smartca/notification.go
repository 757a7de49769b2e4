package smartca

import (
	"encoding/base64"
	"encoding/json"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Notification is what a relying party learns of a transaction: the body
// of the status call and of the webhook sent when the transaction ends
// (PROTOCOLS.md, "SmartCA-style asynchronous dialect"), so a portal parses
// both with one type.
type Notification struct {
	// StatusCode is 200: the notification itself is a success; Data.Status
	// says how the transaction ended.
	StatusCode int         `json:"status_code"`
	Message    string      `json:"message"`
	Data       *StatusData `json:"data"`
}

// StatusData is a transaction as the relying party sees it: the status
// call's data, and a webhook's.
type StatusData struct {
	// TransactionID is the relying party's own ID; TranCode is kyso's.
	TransactionID string `json:"transaction_id"`
	TranCode      string `json:"tran_code"`
	// Status is "pending", "signed", "rejected", "expired" or "failed"
	// (a transaction approved and being signed is still "pending").
	Status     string            `json:"status"`
	Signatures []ResultSignature `json:"signatures"`
	// IdempotencyKey is "<tran_code>:<status>" once the transaction has
	// ended (signed, rejected, expired, failed), absent before: the same
	// in every delivery of its webhook (and its Idempotency-Key header)
	// and in the status call, so a portal that receives it twice acts
	// once.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
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
func NewNotification(t *signing.Transaction) *Notification {
	status := string(t.Status)
	if t.Status == store.TxApproved {
		status = string(store.TxPending)
	}
	r := &StatusData{TransactionID: t.ClientRef, TranCode: t.ID, Status: status, Signatures: []ResultSignature{}, IdempotencyKey: t.IdempotencyKey()}
	for _, s := range t.Signatures {
		rs := ResultSignature{DocID: s.DocID, SignatureValue: base64.StdEncoding.EncodeToString(s.Signature)}
		if s.SignedPDF != nil {
			rs.SignatureValue, rs.SignedFile = "", base64.StdEncoding.EncodeToString(s.SignedPDF)
		}
		r.Signatures = append(r.Signatures, rs)
	}
	return &Notification{StatusCode: 200, Message: statusMessages[status], Data: r}
}

// EncodeNotification is the webhook body for t, NewNotification as JSON:
// the signing service's notification encoder for relying parties of this
// dialect (signing.Config.Notification).
func EncodeNotification(t *signing.Transaction) ([]byte, error) {
	return json.Marshal(NewNotification(t))
}

var _ signing.NotificationEncoder = EncodeNotification
