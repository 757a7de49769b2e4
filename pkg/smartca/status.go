package smartca

import (
	"net/http"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// status is signatures/sign/{tran_code}/status: the transaction by kyso's
// tran_code or the caller's own transaction_id, with its signatures once
// signed. Its body is exactly what the webhook carries. Another relying
// party's transaction is not found.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	clientID, code, ok := h.transactionRequest(w, r)
	if !ok {
		return
	}
	t, err := h.svc.ClientTransaction(r.Context(), clientID, code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, NewNotification(t))
}

// receipt is signatures/sign/{tran_code}/receipt: the consent receipt of
// the owner's approval of the transaction (by tran_code or the caller's
// transaction_id), a DER CMS SignedData carrying its JSON, with the
// status route's body. Another relying party's transaction, and one not
// approved, is not found.
func (h *Handler) receipt(w http.ResponseWriter, r *http.Request) {
	clientID, code, ok := h.transactionRequest(w, r)
	if !ok {
		return
	}
	f, err := h.svc.ClientTransactionReceipt(r.Context(), clientID, code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteReceipt(w, f)
}

// transactionRequest reads a request about one transaction (status,
// receipt): the body's sp_id and sp_password, checked, and the tran_code
// in the path. It has answered when it returns false.
func (h *Handler) transactionRequest(w http.ResponseWriter, r *http.Request) (clientID, code string, ok bool) {
	var req StatusRequest
	if !h.decode(w, r, &req) {
		return "", "", false
	}
	code = r.PathValue("tran_code")
	if text("tran_code", code, 128, false) != nil {
		h.edge.Refuse(w, r, signing.KindNotFound, "no such transaction")
		return "", "", false
	}
	clientID, ok = h.authenticate(w, r, &req.SP)
	return clientID, code, ok
}
