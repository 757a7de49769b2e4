package admin

import (
	"net/http"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Renewal answers POST /admin/v1/credentials/{id}/renewal: the officer's
// request that the owner renew the credential's certificate, which the
// owner approves in the app ("Gia hạn") with their factors.
type Renewal struct {
	CredentialID string    `json:"credential_id"`
	Serial       string    `json:"certificate_serial"`
	NotAfter     time.Time `json:"not_after"`
	RequestedBy  string    `json:"requested_by"`
	// Metered: the provider charges for the renewal (its policy,
	// campaign.renewal).
	Metered bool `json:"metered"`
}

// renewRoutes serves the renewal requests.
func (h *Handler) renewRoutes() {
	h.mux.HandleFunc("POST /admin/v1/credentials/{id}/renewal", h.requestRenewal)
	h.mux.HandleFunc("/admin/v1/credentials/{id}/renewal", h.notAllowed(http.MethodPost))
}

// requestRenewal records the request (signing.Service.RequestRenewal):
// an unknown credential is not found, a revoked, suspended or expired
// one, or one asked for already, a conflict. Nothing is issued until the
// owner approves.
func (h *Handler) requestRenewal(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	if r.ContentLength > 0 {
		h.edge.Refuse(w, r, signing.KindInvalid, "this request takes no body")
		return
	}
	st, err := h.svc.RequestRenewal(r.Context(), r.PathValue("id"), "officer:"+p.ID)
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusCreated, &Renewal{CredentialID: st.CredentialID, Serial: st.Serial, NotAfter: st.NotAfter,
		RequestedBy: st.Requested, Metered: st.Metered})
}
