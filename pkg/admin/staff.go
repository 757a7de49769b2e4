package admin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
)

// maxStaffBody bounds a staff registration: the photo (store.MaxStaffPhoto)
// in base64 and the fields.
const maxStaffBody = store.MaxStaffPhoto*4/3 + 8<<10

// StaffRequest is POST /admin/v1/staff.
type StaffRequest struct {
	FullName  string   `json:"full_name"`
	BirthYear int      `json:"birth_year"`
	Position  string   `json:"position"`
	Provider  string   `json:"provider"`
	Wards     []string `json:"wards,omitempty"`
	// Photo is a JPEG or PNG, base64, at most 200 KB decoded.
	Photo string `json:"photo"`
	// From (default now) and Until bound the authorisation (RFC 3339).
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until"`
}

// Staff is a staff member as the API shows them.
type Staff struct {
	ID              string    `json:"id"`
	FullName        string    `json:"full_name"`
	BirthYear       int       `json:"birth_year"`
	Position        string    `json:"position"`
	Provider        string    `json:"provider"`
	Wards           []string  `json:"wards"`
	PhotoType       string    `json:"photo_type"`
	Photo           string    `json:"photo,omitempty"`
	AuthorisedFrom  time.Time `json:"authorised_from"`
	AuthorisedUntil time.Time `json:"authorised_until"`
	RevokedAt       time.Time `json:"revoked_at,omitzero"`
}

// RevokeStaffRequest is POST /admin/v1/staff/{id}/revoke.
type RevokeStaffRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Badge answers POST /admin/v1/staff/{id}/badge.
type Badge struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	// QRPNG is URL as a QR code, PNG, base64.
	QRPNG string `json:"qr_png"`
}

// WithStaff serves the staff registry under /admin/v1/staff, to the same
// officers' clients as enrolment.
func (h *Handler) WithStaff(svc *staff.Service) *Handler {
	h.staff = svc
	h.mux.HandleFunc("POST /admin/v1/staff", h.staffAdd)
	h.mux.HandleFunc("GET /admin/v1/staff", h.staffList)
	h.mux.HandleFunc("GET /admin/v1/staff/{id}", h.staffShow)
	h.mux.HandleFunc("POST /admin/v1/staff/{id}/revoke", h.staffRevoke)
	h.mux.HandleFunc("POST /admin/v1/staff/{id}/badge", h.staffBadge)
	for path, allow := range map[string]string{"/admin/v1/staff": "GET, POST", "/admin/v1/staff/{id}": "GET",
		"/admin/v1/staff/{id}/revoke": "POST", "/admin/v1/staff/{id}/badge": "POST"} {
		h.mux.HandleFunc(path, h.notAllowed(allow))
	}
	return h
}

// notAllowed answers 405 with the methods a route takes.
func (h *Handler) notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.edge.Error(w, r, http.StatusMethodNotAllowed, "invalid_request", "use "+allow)
	}
}

// NewStaff is m as the API (and `kyso staff --output json`) shows it;
// the photo, base64, when m carries one.
func NewStaff(m *store.Staff) *Staff {
	out := &Staff{ID: m.ID, FullName: m.FullName, BirthYear: m.BirthYear, Position: m.Position, Provider: m.Provider,
		Wards: m.Wards, PhotoType: m.PhotoType, AuthorisedFrom: m.AuthorisedFrom, AuthorisedUntil: m.AuthorisedUntil, RevokedAt: m.RevokedAt}
	if out.Wards == nil {
		out.Wards = []string{}
	}
	if m.Photo != nil {
		out.Photo = base64.StdEncoding.EncodeToString(m.Photo)
	}
	return out
}

// staffFail answers a staff service error.
func (h *Handler) staffFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, staff.ErrInvalid):
		h.edge.Refuse(w, r, signing.KindInvalid, err.Error())
	case errors.Is(err, store.ErrNotFound):
		h.edge.Refuse(w, r, signing.KindNotFound, "no such staff member")
	case errors.Is(err, store.ErrConflict):
		h.edge.Refuse(w, r, signing.KindConflict, "already revoked")
	default:
		h.edge.Fail(w, r, err)
	}
}

func (h *Handler) staffAdd(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	var req StaffRequest
	if !h.edge.Decode(w, r, &req, httpedge.BodyOptions{Max: maxStaffBody, DisallowUnknownFields: true}) {
		return
	}
	photo, err := base64.StdEncoding.DecodeString(req.Photo)
	if err != nil {
		h.edge.Refuse(w, r, signing.KindInvalid, "photo is not base64")
		return
	}
	m, err := h.staff.Add(r.Context(), "officer:"+p.ID, &staff.AddRequest{FullName: req.FullName, BirthYear: req.BirthYear,
		Position: req.Position, Provider: req.Provider, Wards: req.Wards, Photo: photo, From: req.From, Until: req.Until})
	if err != nil {
		h.staffFail(w, r, fmt.Errorf("admin: staff added by officer %s: %w", p.ID, err))
		return
	}
	m.Photo = nil
	httpedge.WriteJSON(w, http.StatusCreated, NewStaff(m))
}

func (h *Handler) staffList(w http.ResponseWriter, r *http.Request) {
	if h.officer(w, r) == nil {
		return
	}
	list, err := h.staff.List(r.Context())
	if err != nil {
		h.staffFail(w, r, err)
		return
	}
	out := make([]*Staff, len(list))
	for i, m := range list {
		out[i] = NewStaff(m)
	}
	httpedge.WriteJSON(w, http.StatusOK, map[string]any{"staff": out})
}

func (h *Handler) staffShow(w http.ResponseWriter, r *http.Request) {
	if h.officer(w, r) == nil {
		return
	}
	m, err := h.staff.Show(r.Context(), r.PathValue("id"))
	if err != nil {
		h.staffFail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, NewStaff(m))
}

func (h *Handler) staffRevoke(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	var req RevokeStaffRequest
	if !h.edge.Decode(w, r, &req, httpedge.BodyOptions{Max: maxBody, DisallowUnknownFields: true}) {
		return
	}
	if err := h.staff.Revoke(r.Context(), "officer:"+p.ID, r.PathValue("id"), req.Reason); err != nil {
		h.staffFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) staffBadge(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	b, err := h.staff.Badge(r.Context(), "officer:"+p.ID, r.PathValue("id"))
	if err != nil {
		h.staffFail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusCreated, Badge{URL: b.URL, ExpiresAt: b.ExpiresAt.UTC(), QRPNG: base64.StdEncoding.EncodeToString(b.PNG)})
}
