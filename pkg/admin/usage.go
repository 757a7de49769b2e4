package admin

import (
	"fmt"
	"net/http"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// usageParams are the query parameters GET /admin/v1/usage takes.
var usageParams = map[string]bool{"from": true, "to": true, "cccd": true, "client": true}

// usage answers GET /admin/v1/usage?from=&to=[&cccd=][&client=]: the
// signatures counted per citizen and per portal, by category, free and
// metered (signing.Usage), to an officer. An unknown or repeated
// parameter is refused, so a typo does not widen the answer.
func (h *Handler) usage(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	q, ok := h.query(w, r, usageParams)
	if !ok {
		return
	}
	u, err := h.svc.Usage(r.Context(), &signing.UsageQuery{From: q.Get("from"), To: q.Get("to"), CCCD: q.Get("cccd"),
		ClientID: q.Get("client"), Actor: "officer:" + p.ID})
	if err != nil {
		h.edge.Fail(w, r, fmt.Errorf("admin: usage for officer %s: %w", p.ID, err))
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, u)
}
