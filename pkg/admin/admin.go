// Package admin serves the registration officers' API under /admin/v1/:
// enrolling a citizen over HTTPS, as `kyso enroll` does from the command
// line. Only clients registered as officers (kyso client create
// --officer) get tokens with the scope it needs.
package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"rsc.io/qr"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
)

// maxBody bounds a request body.
const maxBody = 16 << 10

// EnrolRequest is POST /admin/v1/enrolments.
type EnrolRequest struct {
	CCCD      string `json:"cccd"`
	Name      string `json:"name"`
	Province  string `json:"province"`
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	PIN       string `json:"pin"`
	Algorithm string `json:"algorithm,omitempty"`
	// Channel is desk (the default for an officer's system), event,
	// household or online; StaffID the staff member enrolling; Ward
	// where. EvidenceKind (cccd-chip, vneid-level2, cccd-card, passport)
	// and EvidenceRef say how the identity was checked: a reference,
	// never the document's image. ConsentAt (RFC 3339) is when the
	// citizen consented; absent means now.
	Channel      string    `json:"channel,omitempty"`
	StaffID      string    `json:"staff_id,omitempty"`
	Ward         string    `json:"ward,omitempty"`
	EvidenceKind string    `json:"evidence_kind,omitempty"`
	EvidenceRef  string    `json:"evidence_ref,omitempty"`
	ConsentAt    time.Time `json:"consent_at,omitzero"`
	// SwitchProvider: the citizen asks to move their campaign signature
	// from the provider holding it to this one; evidence_kind and
	// evidence_ref (required) are then also the record of their consent.
	// Without it, a citizen another provider holds is refused, 409,
	// naming that provider.
	SwitchProvider bool `json:"switch_provider,omitempty"`
}

// Enrolment answers it. The otpauth URI and its QR code are shown to the
// citizen once.
type Enrolment struct {
	OwnerID      string `json:"owner_id"`
	CredentialID string `json:"credential_id"`
	NationalID   string `json:"national_id"`
	Serial       string `json:"serial"`
	Certificate  string `json:"certificate"`
	OTPAuthURI   string `json:"otpauth_uri"`
	// QRPNG is the otpauth URI as a QR code, PNG, base64.
	QRPNG string `json:"qr_png"`
	// ClaimURL, for an enrolment by a field staff member's client (bound
	// to them: a household visit), replaces the otpauth URI, which is
	// then empty: a single-use link to the app's claim page the citizen
	// scans (ClaimQRPNG, PNG, base64) with their own phone, to take the
	// second factor there.
	ClaimURL   string `json:"claim_url,omitempty"`
	ClaimQRPNG string `json:"claim_qr_png,omitempty"`
	// SwitchedFrom names the provider a switch moved the campaign
	// signature from, MonthsUsed the whole months used there and
	// FreeMonths those free here.
	SwitchedFrom string `json:"switched_from,omitempty"`
	MonthsUsed   int    `json:"months_used,omitempty"`
	FreeMonths   int    `json:"free_months,omitempty"`
}

// Error is the body of an error response: error, error_description and
// the request ID to quote, in the form and with the codes of kyso's own
// APIs (httpedge.Own).
type Error = httpedge.ErrorBody

// Handler serves the officers' API.
type Handler struct {
	svc  *signing.Service
	log  *slog.Logger
	mux  *http.ServeMux
	edge *httpedge.Dialect
	// staff is the staff registry, when WithStaff serves it.
	staff *staff.Service
	// provider and population are the provider's name and the adult
	// population table the campaign report uses (WithCampaign).
	provider   string
	population signing.Population
}

// NewHandler returns the handler; log may be nil.
func NewHandler(svc *signing.Service, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux(),
		edge: &httpedge.Dialect{Name: "admin", Table: httpedge.Own, Body: httpedge.OAuthBody, Log: log}}
	h.mux.HandleFunc("POST /admin/v1/enrolments", h.enrol)
	h.mux.HandleFunc("/admin/v1/enrolments", h.notAllowed(http.MethodPost))
	h.mux.HandleFunc("GET /admin/v1/enrolments/{credential}", h.enrolment)
	h.mux.HandleFunc("/admin/v1/enrolments/{credential}", h.notAllowed(http.MethodGet))
	h.mux.HandleFunc("GET /admin/v1/usage", h.usage)
	h.mux.HandleFunc("/admin/v1/usage", h.notAllowed(http.MethodGet))
	h.mux.HandleFunc("GET /admin/v1/reports/campaign", h.campaignReport)
	h.mux.HandleFunc("/admin/v1/reports/campaign", h.notAllowed(http.MethodGet))
	h.renewRoutes()
	h.registrationRoutes()
	h.mux.HandleFunc("/admin/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.edge.Refuse(w, r, signing.KindNotFound, "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpedge.Serve(h.mux, w, httpedge.Begin(w, r))
}

// officer authenticates the request's bearer token as a registration
// officer's client (scope enrol), or answers the refusal and returns nil.
func (h *Handler) officer(w http.ResponseWriter, r *http.Request) *signing.Principal {
	tok, ok := httpedge.Bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kyso"`) // no error code: RFC 6750 section 3.1
		h.edge.Refuse(w, r, signing.KindTokenInvalid, "a Bearer access token with scope enrol is required")
		return nil
	}
	p, err := h.svc.Authenticate(r.Context(), tok, httpedge.ClientCertificate(r))
	if err != nil {
		h.edge.Fail(w, r, err)
		return nil
	}
	if p.Kind != "client" || p.Scope != signing.ScopeEnrol {
		h.edge.Refuse(w, r, signing.KindDenied, "this is for registration officers' clients (scope enrol)")
		return nil
	}
	return p
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	var req EnrolRequest
	if !h.edge.Decode(w, r, &req, httpedge.BodyOptions{Max: maxBody, DisallowUnknownFields: true}) {
		return
	}
	if req.Channel == "" {
		req.Channel = store.ChannelDesk
	}
	if req.Channel == store.ChannelOperator {
		h.edge.Refuse(w, r, signing.KindInvalid, "channel operator is the provider's own (kyso enroll), not an officer's system's")
		return
	}
	bound, ok := h.boundStaff(w, r, p)
	if !ok {
		return
	}
	if bound != "" {
		// A field staff member's client: their enrolment, at a household.
		if (req.StaffID != "" && req.StaffID != bound) || (req.Channel != store.ChannelDesk && req.Channel != store.ChannelHousehold) {
			h.edge.Refuse(w, r, signing.KindDenied, fmt.Sprintf("this client enrols as staff member %q, at a household", bound))
			return
		}
		req.StaffID, req.Channel = bound, store.ChannelHousehold
	}
	// A staff member named must be one the registry authorises now, for
	// the ward (when kysod serves the registry).
	if req.StaffID != "" && h.staff != nil {
		st, err := h.staff.Authorised(r.Context(), req.StaffID, req.Ward)
		if err != nil {
			h.edge.Fail(w, r, err)
			return
		}
		if st != staff.Valid {
			if err := h.staff.AuditRefusal(r.Context(), "officer:"+p.ID, req.StaffID, req.Ward, st); err != nil {
				h.edge.Fail(w, r, err)
				return
			}
			h.edge.Refuse(w, r, signing.KindDenied, fmt.Sprintf("staff member %q may not enrol here: %s", req.StaffID, st))
			return
		}
	}
	var consent *campaignreg.Consent
	if req.SwitchProvider {
		if req.EvidenceKind == "" || req.EvidenceRef == "" {
			h.edge.Refuse(w, r, signing.KindInvalid, "switch_provider needs evidence_kind and evidence_ref: the record of the citizen's consent")
			return
		}
		consent = &campaignreg.Consent{Kind: req.EvidenceKind, Ref: req.EvidenceRef, At: req.ConsentAt}
		if consent.At.IsZero() {
			consent.At = time.Now()
		}
	}
	ereq := &signing.EnrolRequest{CCCD: req.CCCD, Name: req.Name, Province: req.Province,
		Phone: req.Phone, Email: req.Email, PIN: req.PIN, Algorithm: hsm.Algorithm(req.Algorithm), Actor: "officer:" + p.ID,
		Channel: req.Channel, StaffID: req.StaffID, Ward: req.Ward, EvidenceKind: req.EvidenceKind, EvidenceRef: req.EvidenceRef,
		ConsentAt: req.ConsentAt, Switch: consent}
	en, err := h.svc.Enrol(r.Context(), ereq)
	if err != nil {
		h.edge.Fail(w, r, fmt.Errorf("admin: enrolment by officer %s: %w", p.ID, err))
		return
	}
	if bound != "" {
		h.queueClaim(w, r, en, ereq)
		return
	}
	code, err := qr.Encode(en.TOTPURI, qr.M)
	if err != nil {
		h.edge.Fail(w, r, fmt.Errorf("admin: QR code: %w", err))
		return
	}
	var cert bytes.Buffer
	pem.Encode(&cert, &pem.Block{Type: "CERTIFICATE", Bytes: en.Certificate.Raw})
	httpedge.WriteJSON(w, http.StatusCreated, Enrolment{OwnerID: en.OwnerID, CredentialID: en.CredentialID, NationalID: en.NationalID,
		Serial: ca.FormatSerialInt(en.Certificate.SerialNumber), Certificate: cert.String(), OTPAuthURI: en.TOTPURI,
		QRPNG: base64.StdEncoding.EncodeToString(code.PNG()), SwitchedFrom: en.SwitchedFrom, MonthsUsed: en.MonthsUsed, FreeMonths: en.FreeMonths})
}
