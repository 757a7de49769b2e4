package app

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
)

// BadgePath is the public page a staff badge's QR code opens.
const BadgePath = "/app/badge"

// BadgeReport says how a citizen reports a person whose badge is refused:
// a phone number and a web address, either may be empty.
type BadgeReport struct {
	Phone, URL string
}

// badgeView is the badge page's data.
type badgeView struct {
	OK bool
	// Reason is the message key of a refusal.
	Reason   string
	Staff    *store.Staff
	Wards    string
	PhotoURL string
	Token    string
	Ward     string
	Report   BadgeReport
}

// badgeRoutes serves the badge check page and the photo it shows, when
// the app has a staff service.
func (h *Handler) badgeRoutes() {
	if h.o.Staff == nil {
		return
	}
	h.mux.HandleFunc("GET "+BadgePath, h.badgePage)
	h.mux.HandleFunc("GET "+BadgePath+"/photo", h.badgePhoto)
}

// badgePage checks the badge token t (and, when given, the citizen's
// ward) against the registry, and says in green that the person may
// enrol citizens, or in red that they may not, why, and how to report it.
func (h *Handler) badgePage(w http.ResponseWriter, r *http.Request) {
	if !h.o.Limits.AllowSource(w, r) {
		return
	}
	q := r.URL.Query()
	token, ward := q.Get("t"), strings.TrimSpace(q.Get("ward"))
	if len(ward) > 32 {
		ward = ward[:32]
	}
	v, err := h.o.Staff.Check(r.Context(), token, ward)
	if err != nil {
		h.log.Error("app: checking a badge", "request_id", httpedge.RequestID(r), "err", err)
		h.problem(w, r, http.StatusServiceUnavailable, "serverError")
		return
	}
	if err := h.o.Staff.Checked(r.Context(), v, ward); err != nil {
		h.log.Error("app: auditing a badge check", "request_id", httpedge.RequestID(r), "err", err)
	}
	bv := &badgeView{OK: v.Status == staff.Valid, Reason: "badge_" + string(v.Status), Staff: v.Staff, Token: token, Ward: ward, Report: h.o.BadgeReport}
	if v.Staff != nil {
		bv.PhotoURL = BadgePath + "/photo?" + url.Values{"t": {token}}.Encode()
		bv.Wards = strings.Join(v.Staff.Wards, ", ")
	}
	h.show(w, r, http.StatusOK, "badge", "badgeTitle", bv, "", false)
}

// badgePhoto serves the photo of the person a genuine badge token names
// (revoked or not: the citizen compares it with who stands at the door).
func (h *Handler) badgePhoto(w http.ResponseWriter, r *http.Request) {
	if !h.o.Limits.AllowSource(w, r) {
		return
	}
	v, err := h.o.Staff.Check(r.Context(), r.URL.Query().Get("t"), "")
	if err != nil || v.Staff == nil {
		h.problem(w, r, http.StatusNotFound, "notFound")
		return
	}
	w.Header().Set("Content-Type", v.Staff.PhotoType)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(v.Staff.Photo)
}
