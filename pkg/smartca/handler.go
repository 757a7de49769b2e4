package smartca

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/internal/jsonbody"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// MaxBody bounds a request body: a thousand hex SHA-256 hashes with
// doc IDs of 128 bytes take about a quarter of it. MaxSignBody bounds
// signatures/sign's, which may carry whole PDFs (sign_type "pdf").
const (
	MaxBody     = 4 << 20
	MaxSignBody = 64 << 20
)

// Options configure the handler.
type Options struct {
	// Now is the clock certificates' validity is judged by; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives internal errors (never a body or a secret); nil
	// discards them.
	Logger *slog.Logger
	// Limits are the rate limits of every call: per source address before
	// the body is read, per client once sp_id and sp_password prove it
	// (status polls count too). nil means none.
	Limits *httpedge.Limits
}

// Handler serves the SmartCA-style dialect under /smartca/v1/. Every
// method, the status call included (as in SmartCA's own API), is POST with
// a JSON body carrying sp_id and sp_password; other methods get 405. There
// is no unauthenticated route. Unknown fields are ignored, as portals
// written for SmartCA send some kyso has no use for.
type Handler struct {
	svc    *signing.Service
	now    func() time.Time
	log    *slog.Logger
	limits *httpedge.Limits
	mux    *http.ServeMux
}

// NewHandler returns the handler over svc.
func NewHandler(svc *signing.Service, opts *Options) *Handler {
	h := &Handler{svc: svc, now: time.Now, log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	if opts != nil && opts.Now != nil {
		h.now = opts.Now
	}
	if opts != nil && opts.Logger != nil {
		h.log = opts.Logger
	}
	if opts != nil {
		h.limits = opts.Limits
	}
	h.mux.HandleFunc("/smartca/v1/credentials/get_certificate", post(h.getCertificate))
	h.mux.HandleFunc("/smartca/v1/signatures/sign", post(h.sign))
	h.mux.HandleFunc("/smartca/v1/signatures/sign/{tran_code}/status", post(h.status))
	h.mux.HandleFunc("/smartca/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.limits.AllowSource(w, r) {
		tooMany(w)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// tooMany answers 429 (RFC 6585 section 4) to a call over its rate limit;
// httpedge.Limits has set Retry-After.
func tooMany(w http.ResponseWriter) {
	writeError(w, http.StatusTooManyRequests, "too many requests; try again after the seconds in Retry-After")
}

// post allows only POST.
func post(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "only POST is allowed here")
			return
		}
		next(w, r)
	}
}

func writeOK(w http.ResponseWriter, message string, data any) {
	jsonbody.Write(w, http.StatusOK, Envelope{StatusCode: http.StatusOK, Message: message, Data: data})
}

func writeError(w http.ResponseWriter, status int, message string) {
	jsonbody.Write(w, status, Envelope{StatusCode: status, Message: message})
}

// errStatus maps a signing error code to the envelope's status.
var errStatus = map[string]int{
	signing.CodeInvalidRequest: http.StatusBadRequest,
	"invalid_client":           http.StatusUnauthorized,
	signing.CodeInvalidToken:   http.StatusUnauthorized,
	signing.CodeAccessDenied:   http.StatusForbidden,
	signing.CodeNotFound:       http.StatusNotFound,
	signing.CodeConflict:       http.StatusConflict,
	signing.CodeLocked:         http.StatusTooManyRequests,
	signing.CodeBusy:           http.StatusServiceUnavailable,
}

// fail renders err in the envelope: a signing.Error by its code and
// description, a request the store refused as a 400, anything else as a
// 500 whose detail goes to the log only, under a request ID the caller
// can quote.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *signing.Error
	switch {
	case errors.As(err, &se):
		status, ok := errStatus[se.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		if status == http.StatusServiceUnavailable {
			httpedge.RetryAfter(w, time.Second)
		}
		writeError(w, status, se.Description)
	case errors.Is(err, store.ErrInvalid):
		h.log.Info("smartca: request refused by the store", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusBadRequest, "a field of the request is malformed or too long")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "the transaction changed meanwhile")
	default:
		id := requestID()
		h.log.Error("smartca: internal error", "path", r.URL.Path, "request_id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "lỗi hệ thống (internal error); request "+id)
	}
}

func requestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// decode reads a JSON object of at most MaxBody bytes into v.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeMax(w, r, v, MaxBody)
}

// decodeMax reads a JSON object of at most max bytes into v.
func decodeMax(w http.ResponseWriter, r *http.Request, v any, max int64) bool {
	if e := jsonbody.Decode(w, r, v, jsonbody.Options{Max: max}); e != nil {
		writeError(w, e.Status, e.Message)
		return false
	}
	return true
}

// authenticate checks the relying party's sp_id and sp_password with the
// service and returns its client ID.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, sp *SP) (string, bool) {
	if text("sp_id", sp.SPID, 128, false) != nil || sp.SPPassword == "" || len(sp.SPPassword) > 256 {
		writeError(w, http.StatusUnauthorized, "sp_id and sp_password are required")
		return "", false
	}
	c, err := h.svc.CheckClient(r.Context(), sp.SPID, sp.SPPassword)
	if err != nil {
		h.fail(w, r, err)
		return "", false
	}
	if c.Role == store.RoleOfficer {
		writeError(w, http.StatusForbidden, "a registration officer's client cannot ask for signatures")
		return "", false
	}
	if !h.limits.AllowClient(w, r, "client:"+c.ID) {
		tooMany(w)
		return "", false
	}
	return c.ID, true
}

// text checks a field the owner or the relying party is shown: at most
// max bytes (and at least one unless empty is allowed), one line that
// shows as what it holds (display.Text: no control, bidirectional or
// invisible character). The error names the field and, for a refused
// character, which one and where.
func text(field, s string, max int, empty bool) error {
	if s == "" && !empty || len(s) > max {
		lo := 1
		if empty {
			lo = 0
		}
		return &signing.Error{Code: signing.CodeInvalidRequest, Description: fmt.Sprintf("%s must be %d to %d bytes", field, lo, max)}
	}
	if err := display.Text(field, s); err != nil {
		return &signing.Error{Code: signing.CodeInvalidRequest, Description: err.Error(), Err: err}
	}
	return nil
}

// nationalID checks a user_id: the digits of a CCCD, or a prefixed ID
// ("CCCD:…", "MST:0101234567-001").
func nationalID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return "", &signing.Error{Code: signing.CodeInvalidRequest, Description: "user_id (the owner's national ID) is required"}
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ':' || c == '-') {
			return "", &signing.Error{Code: signing.CodeInvalidRequest, Description: `user_id must be a national ID such as "079203001234" or "MST:0101234567"`}
		}
	}
	return s, nil
}
