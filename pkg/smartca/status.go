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
	var req StatusRequest
	if !h.decode(w, r, &req) {
		return
	}
	code := r.PathValue("tran_code")
	if text("tran_code", code, 128, false) != nil {
		h.edge.Refuse(w, r, signing.KindNotFound, "no such transaction")
		return
	}
	clientID, ok := h.authenticate(w, r, &req.SP)
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
