package owner

import (
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TransactionList is the transactions route's answer.
type TransactionList struct {
	Transactions []Transaction `json:"transactions"`
}

// Transaction is a signing request as the owner sees it before deciding.
// ClientName, Description and each DocID are display.Escape'd: the
// service refuses control, bidirectional and invisible characters in
// them (display.Text), and any stored before it did are written visibly
// (\x1b, \u202e) rather than handed to the owner's app to obey.
type Transaction struct {
	ID string `json:"id"`
	// ClientName is the relying party asking.
	ClientName  string `json:"client_name"`
	Description string `json:"description"`
	Status      string `json:"status"`
	// CreatedAt and ExpiresAt are RFC 3339, UTC.
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
	// HashAlgorithm names the documents' hash ("SHA-256").
	HashAlgorithm string     `json:"hash_algorithm"`
	Documents     []Document `json:"documents"`
}

// Document is one document to sign: its ID and hash, hex.
type Document struct {
	DocID string `json:"doc_id"`
	Hash  string `json:"hash"`
}

// transactions lists the owner's pending transactions, newest first.
func (h *Handler) transactions(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.OwnerTransactions(r.Context(), ownerID(r), true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := map[string]string{}
	out := TransactionList{Transactions: []Transaction{}}
	for _, t := range list {
		name, ok := names[t.ClientID]
		if !ok {
			c, err := h.svc.Client(r.Context(), t.ClientID)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			name, names[t.ClientID] = c.Name, c.Name
		}
		x := Transaction{ID: t.ID, ClientName: display.Escape(name), Description: display.Escape(t.Description), Status: string(t.Status),
			CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: t.ExpiresAt.UTC().Format(time.RFC3339),
			HashAlgorithm: t.HashAlgorithm.String(), Documents: make([]Document, len(t.Documents))}
		for i, d := range t.Documents {
			x.Documents[i] = Document{DocID: display.Escape(d.DocID), Hash: hex.EncodeToString(d.Hash)}
		}
		out.Transactions = append(out.Transactions, x)
	}
	httpedge.WriteJSON(w, http.StatusOK, out)
}

// ApproveRequest is approve's body: both factors again.
type ApproveRequest struct {
	PIN string `json:"pin"`
	OTP string `json:"otp"`
}

// Decision is the answer to approve and reject.
type Decision struct {
	ID     string `json:"id"`
	Status string `json:"status"` // "signed" or "rejected"
	// ReceiptID names the approval's consent receipt (GET
	// receipts/{id}); empty for a rejection.
	ReceiptID string `json:"receipt_id,omitempty"`
}

// approve signs the transaction's documents once PIN and code check out.
// Another owner's transaction is not found.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request) {
	var req ApproveRequest
	if !h.decode(w, r, &req, false) {
		return
	}
	if req.PIN == "" || len(req.PIN) > 64 || req.OTP == "" || len(req.OTP) > 16 {
		h.bad(w, r, "pin and otp are required")
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	// The owner's app may or may not have shown the pages: the receipt
	// says hash only.
	t, err := h.svc.Approve(httpedge.ApprovalContext(r, false), ownerID(r), id, req.PIN, req.OTP)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, Decision{ID: t.ID, Status: string(t.Status), ReceiptID: t.ReceiptID})
}

// receipt downloads one of the owner's consent receipts; another owner's
// is not found.
func (h *Handler) receipt(w http.ResponseWriter, r *http.Request) {
	f, err := h.svc.OwnerReceipt(r.Context(), ownerID(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteReceipt(w, f)
}

// reject refuses the transaction; the body, if any, is an empty object.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !h.decode(w, r, &req, true) {
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if err := h.svc.Reject(r.Context(), ownerID(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, Decision{ID: id, Status: "rejected"})
}

// pathID is the transaction ID in the path: 1 to 128 printable bytes.
func (h *Handler) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	ok := id != "" && len(id) <= 128 && strings.IndexFunc(id, func(c rune) bool { return c < 0x20 || c == 0x7f }) < 0
	if !ok {
		h.edge.Refuse(w, r, signing.KindNotFound, "no such transaction")
	}
	return id, ok
}
