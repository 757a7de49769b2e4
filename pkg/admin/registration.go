package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Registration is a citizen's online self-registration as the officers'
// API (and `kyso registration --output json`) shows it: what the citizen
// entered, the consent they agreed to and when, and the decision. Text
// the citizen typed is data: JSON escapes it, and the CLI's text output
// writes hidden characters visibly.
type Registration struct {
	ID           string    `json:"id"`
	NationalID   string    `json:"national_id"`
	Name         string    `json:"name"`
	Province     string    `json:"province"`
	Ward         string    `json:"ward,omitempty"`
	Phone        string    `json:"phone,omitempty"`
	Email        string    `json:"email,omitempty"`
	Status       string    `json:"status"`
	ConsentText  string    `json:"consent_text"`
	ConsentAt    time.Time `json:"consent_at"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	DecidedBy    string    `json:"decided_by,omitempty"`
	DecidedAt    time.Time `json:"decided_at,omitzero"`
	EvidenceKind string    `json:"evidence_kind,omitempty"`
	EvidenceRef  string    `json:"evidence_ref,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	OwnerID      string    `json:"owner_id,omitempty"`
	CredentialID string    `json:"credential_id,omitempty"`
	ClaimedAt    time.Time `json:"claimed_at,omitzero"`
	ClaimUntil   time.Time `json:"claim_until,omitzero"`
}

// NewRegistration is r as the API shows it (never its PIN or claim
// hash).
func NewRegistration(r *store.Registration) *Registration {
	return &Registration{ID: r.ID, NationalID: r.NationalID, Name: r.Name, Province: r.Province, Ward: r.Ward, Phone: r.Phone,
		Email: r.Email, Status: r.Status, ConsentText: r.ConsentText, ConsentAt: r.ConsentAt, CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, EvidenceKind: r.EvidenceKind, EvidenceRef: r.EvidenceRef,
		Reason: r.Reason, OwnerID: r.OwnerID, CredentialID: r.CredentialID, ClaimedAt: r.ClaimedAt, ClaimUntil: r.ClaimUntil}
}

// ApproveRegistrationRequest is POST /admin/v1/registrations/{id}/approve:
// how the officer checked the citizen's identity (at a desk or by video
// call) — evidence_kind cccd-chip, vneid-level2, cccd-card or passport,
// and a reference, never the document's image.
type ApproveRegistrationRequest struct {
	EvidenceKind string `json:"evidence_kind"`
	EvidenceRef  string `json:"evidence_ref,omitempty"`
}

// RefuseRegistrationRequest is POST /admin/v1/registrations/{id}/refuse:
// the reason the citizen is shown.
type RefuseRegistrationRequest struct {
	Reason string `json:"reason"`
}

// registrationRoutes serves the online self-registrations to officers.
func (h *Handler) registrationRoutes() {
	h.mux.HandleFunc("GET /admin/v1/registrations", h.registrationList)
	h.mux.HandleFunc("/admin/v1/registrations", h.notAllowed(http.MethodGet))
	h.mux.HandleFunc("GET /admin/v1/registrations/{id}", h.registrationShow)
	h.mux.HandleFunc("/admin/v1/registrations/{id}", h.notAllowed(http.MethodGet))
	h.mux.HandleFunc("POST /admin/v1/registrations/{id}/approve", h.registrationApprove)
	h.mux.HandleFunc("/admin/v1/registrations/{id}/approve", h.notAllowed(http.MethodPost))
	h.mux.HandleFunc("POST /admin/v1/registrations/{id}/refuse", h.registrationRefuse)
	h.mux.HandleFunc("/admin/v1/registrations/{id}/refuse", h.notAllowed(http.MethodPost))
	h.mux.HandleFunc("POST /admin/v1/registrations/{id}/reissue", h.registrationReissue)
	h.mux.HandleFunc("/admin/v1/registrations/{id}/reissue", h.notAllowed(http.MethodPost))
}

// Reissued is POST /admin/v1/registrations/{id}/reissue's answer: the new
// claim secret, shown this once (the old one is dead), until when it
// claims, and — when the server knows the app's public URL (the staff
// registry's) — the claim link and its QR code (PNG, base64) for the
// citizen's own phone.
type Reissued struct {
	ID          string    `json:"id"`
	ClaimSecret string    `json:"claim_secret"`
	ExpiresAt   time.Time `json:"expires_at"`
	ClaimURL    string    `json:"claim_url,omitempty"`
	ClaimQRPNG  string    `json:"claim_qr_png,omitempty"`
}

// registrationReissue replaces a registration's claim link
// (signing.Service.ReissueClaim): the citizen lost it, or it expired. A
// field staff member's client reissues only the links of their own
// household visits (another's is not found).
func (h *Handler) registrationReissue(w http.ResponseWriter, r *http.Request) {
	p, bound, ok := h.boundOfficer(w, r)
	if !ok {
		return
	}
	var req struct{}
	if r.ContentLength != 0 && !h.edge.Decode(w, r, &req, httpedge.BodyOptions{Max: maxBody, DisallowUnknownFields: true}) {
		return
	}
	reg, err := h.svc.ReissueClaim(r.Context(), &signing.ReissueClaimRequest{ID: r.PathValue("id"), Actor: "officer:" + p.ID, StaffID: bound})
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	appURL := ""
	if h.staff != nil {
		appURL = h.staff.AppURL()
	}
	out, err := NewReissued(reg, appURL)
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, out)
}

// NewReissued is a reissue's answer; appURL (the citizen app's public
// URL; empty: unknown) adds the claim link and its QR code.
func NewReissued(reg *signing.Registered, appURL string) (*Reissued, error) {
	out := &Reissued{ID: reg.ID, ClaimSecret: reg.ClaimSecret, ExpiresAt: reg.ExpiresAt}
	if appURL == "" {
		return out, nil
	}
	var err error
	out.ClaimURL, out.ClaimQRPNG, err = ClaimLink(appURL, reg)
	return out, err
}

// ClaimLink is reg's claim link — the claim page of the app at appURL
// with the reference, the secret in the fragment (which no browser sends
// to a server) — and its QR code, PNG, base64.
func ClaimLink(appURL string, reg *signing.Registered) (string, string, error) {
	link := strings.TrimSuffix(appURL, "/") + "/app/register/claim?" + url.Values{"ref": {reg.ID}}.Encode() + "#" + reg.ClaimSecret
	code, err := qr.Encode(link, qr.M)
	if err != nil {
		return "", "", fmt.Errorf("admin: QR code: %w", err)
	}
	return link, base64.StdEncoding.EncodeToString(code.PNG()), nil
}

// registrationList lists registrations by ?status= (default pending),
// oldest first, at most ?limit= (default 100, at most 1000).
func (h *Handler) registrationList(w http.ResponseWriter, r *http.Request) {
	if h.officer(w, r) == nil {
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			h.edge.Refuse(w, r, signing.KindInvalid, "limit is a number from 1 to 1000")
			return
		}
		limit = n
	}
	list, err := h.svc.Registrations(r.Context(), r.URL.Query().Get("status"), limit)
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	out := make([]*Registration, len(list))
	for i, reg := range list {
		out[i] = NewRegistration(reg)
	}
	httpedge.WriteJSON(w, http.StatusOK, map[string]any{"registrations": out})
}

func (h *Handler) registrationShow(w http.ResponseWriter, r *http.Request) {
	if h.officer(w, r) == nil {
		return
	}
	reg, err := h.svc.Registration(r.Context(), r.PathValue("id"))
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, NewRegistration(reg))
}

// registrationApprove enrols the registration's citizen
// (signing.Service.ApproveRegistration): 409 when another officer decided
// it or is deciding it, or Enrol refuses the citizen (enrolled already,
// or holding a campaign signature at another provider). The answer never
// carries the second factor: the citizen claims it in the app.
func (h *Handler) registrationApprove(w http.ResponseWriter, r *http.Request) {
	var req ApproveRegistrationRequest
	h.decide(w, r, &req, func(actor string) (*store.Registration, error) {
		return h.svc.ApproveRegistration(r.Context(), &signing.ApproveRegistrationRequest{ID: r.PathValue("id"), Actor: actor,
			EvidenceKind: req.EvidenceKind, EvidenceRef: req.EvidenceRef})
	})
}

func (h *Handler) registrationRefuse(w http.ResponseWriter, r *http.Request) {
	var req RefuseRegistrationRequest
	h.decide(w, r, &req, func(actor string) (*store.Registration, error) {
		return h.svc.RefuseRegistration(r.Context(), r.PathValue("id"), actor, req.Reason)
	})
}

// decide authenticates an officer, decodes the body into req, and
// answers the registration do returns for the officer's actor name.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, req any, do func(actor string) (*store.Registration, error)) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	if !h.edge.Decode(w, r, req, httpedge.BodyOptions{Max: maxBody, DisallowUnknownFields: true}) {
		return
	}
	reg, err := do("officer:" + p.ID)
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, NewRegistration(reg))
}

// boundOfficer authenticates an officer (h.officer) and returns them with
// the staff member their client is bound to (h.boundStaff), or answers
// the refusal and returns false.
func (h *Handler) boundOfficer(w http.ResponseWriter, r *http.Request) (*signing.Principal, string, bool) {
	p := h.officer(w, r)
	if p == nil {
		return nil, "", false
	}
	bound, ok := h.boundStaff(w, r, p)
	return p, bound, ok
}

// boundStaff returns the staff member the officer's client p is bound to
// (empty: none). A bound client is refused at once, 403, when the
// registry does not serve here or no longer authorises its staff member
// (revoked, expired, not yet): a field staff member's phone works only
// while they may enrol.
func (h *Handler) boundStaff(w http.ResponseWriter, r *http.Request, p *signing.Principal) (string, bool) {
	c, err := h.svc.Client(r.Context(), p.ID)
	if err != nil {
		h.edge.Fail(w, r, err)
		return "", false
	}
	if c.StaffID == "" {
		return "", true
	}
	if h.staff == nil {
		h.edge.Refuse(w, r, signing.KindDenied, "a staff member's client needs the staff registry, which this server does not serve")
		return "", false
	}
	st, err := h.staff.Authorised(r.Context(), c.StaffID, "")
	if err != nil {
		h.edge.Fail(w, r, err)
		return "", false
	}
	if st != staff.Valid {
		if err := h.staff.AuditRefusal(r.Context(), "officer:"+p.ID, c.StaffID, "", st); err != nil {
			h.edge.Fail(w, r, err)
			return "", false
		}
		h.edge.Refuse(w, r, signing.KindDenied, fmt.Sprintf("staff member %q may not enrol: %s", c.StaffID, st))
		return "", false
	}
	return c.StaffID, true
}

// queueClaim answers a household visit's enrolment: the citizen's second
// factor is queued for their own phone (signing.Service.QueueClaim) and
// the answer carries the single-use claim link, never the TOTP secret.
func (h *Handler) queueClaim(w http.ResponseWriter, r *http.Request, en *signing.Enrolment, req *signing.EnrolRequest) {
	reg, err := h.svc.QueueClaim(r.Context(), en, req)
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	link, png, err := ClaimLink(h.staff.AppURL(), reg)
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	var cert bytes.Buffer
	pem.Encode(&cert, &pem.Block{Type: "CERTIFICATE", Bytes: en.Certificate.Raw})
	httpedge.WriteJSON(w, http.StatusCreated, Enrolment{OwnerID: en.OwnerID, CredentialID: en.CredentialID, NationalID: en.NationalID,
		Serial: ca.FormatSerialInt(en.Certificate.SerialNumber), Certificate: cert.String(), ClaimURL: link, ClaimQRPNG: png})
}

// EnrolmentRecord is GET /admin/v1/enrolments/{credential}: how the
// credential was enrolled.
type EnrolmentRecord struct {
	CredentialID string    `json:"credential_id"`
	Channel      string    `json:"channel"`
	StaffID      string    `json:"staff_id,omitempty"`
	Province     string    `json:"province"`
	Ward         string    `json:"ward,omitempty"`
	EvidenceKind string    `json:"evidence_kind,omitempty"`
	EvidenceRef  string    `json:"evidence_ref,omitempty"`
	ConsentAt    time.Time `json:"consent_at"`
	CreatedAt    time.Time `json:"created_at"`
}

// enrolment shows an enrolment's record; a staff member's client sees
// only their own (another's is not found, as an unknown one).
func (h *Handler) enrolment(w http.ResponseWriter, r *http.Request) {
	_, bound, ok := h.boundOfficer(w, r)
	if !ok {
		return
	}
	rec, err := h.svc.EnrolmentRecord(r.Context(), r.PathValue("credential"))
	if err == nil && bound != "" && rec.StaffID != bound {
		err = &signing.Error{Kind: signing.KindNotFound, Description: "no such enrolment"}
	}
	if err != nil {
		h.edge.Fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, &EnrolmentRecord{CredentialID: rec.CredentialID, Channel: rec.Channel, StaffID: rec.StaffID,
		Province: rec.Province, Ward: rec.Ward, EvidenceKind: rec.EvidenceKind, EvidenceRef: rec.EvidenceRef, ConsentAt: rec.ConsentAt,
		CreatedAt: rec.CreatedAt})
}
