// Package admin serves the registration officers' API under /admin/v1/:
// enrolling a citizen over HTTPS, as `kyso enroll` does from the command
// line. Only clients registered as officers (kyso client create
// --officer) get tokens with the scope it needs.
package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"rsc.io/qr"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/jsonbody"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
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
}

// Error is the body of an error response.
type Error struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Handler serves the officers' API.
type Handler struct {
	svc *signing.Service
	log *slog.Logger
	mux *http.ServeMux
}

// NewHandler returns the handler; log may be nil.
func NewHandler(svc *signing.Service, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /admin/v1/enrolments", h.enrol)
	h.mux.HandleFunc("/admin/v1/enrolments", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
	})
	h.mux.HandleFunc("/admin/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request", "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	jsonbody.Write(w, status, Error{Error: code, Description: desc})
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	tok, ok := httpedge.Bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kyso"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "a Bearer access token with scope enrol is required")
		return
	}
	p, err := h.svc.Authenticate(r.Context(), tok, httpedge.ClientCertificate(r))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kyso", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "the access token is unknown, revoked or expired")
		return
	}
	if p.Kind != "client" || p.Scope != signing.ScopeEnrol {
		writeError(w, http.StatusForbidden, "access_denied", "enrolment is for registration officers' clients (scope enrol)")
		return
	}
	var req EnrolRequest
	if e := jsonbody.Decode(w, r, &req, jsonbody.Options{Max: maxBody, DisallowUnknownFields: true}); e != nil {
		writeError(w, e.Status, "invalid_request", e.Message)
		return
	}
	en, err := h.svc.Enrol(r.Context(), &signing.EnrolRequest{CCCD: req.CCCD, Name: req.Name, Province: req.Province,
		Phone: req.Phone, Email: req.Email, PIN: req.PIN, Algorithm: hsm.Algorithm(req.Algorithm), Actor: "officer:" + p.ID})
	if err != nil {
		var se *signing.Error
		if errors.As(err, &se) {
			status := http.StatusBadRequest
			switch se.Code {
			case signing.CodeConflict:
				status = http.StatusConflict
			case signing.CodeBusy:
				status = http.StatusServiceUnavailable
				httpedge.RetryAfter(w, time.Second)
			}
			writeError(w, status, se.Code, se.Description)
			return
		}
		h.log.Error("admin: enrolment", "officer", p.ID, "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	code, err := qr.Encode(en.TOTPURI, qr.M)
	if err != nil {
		h.log.Error("admin: QR code", "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	var cert bytes.Buffer
	pem.Encode(&cert, &pem.Block{Type: "CERTIFICATE", Bytes: en.Certificate.Raw})
	jsonbody.Write(w, http.StatusCreated, Enrolment{OwnerID: en.OwnerID, CredentialID: en.CredentialID, NationalID: en.NationalID,
		Serial: ca.FormatSerialInt(en.Certificate.SerialNumber), Certificate: cert.String(), OTPAuthURI: en.TOTPURI,
		QRPNG: base64.StdEncoding.EncodeToString(code.PNG())})
}
