package smartca

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

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
	edge   *httpedge.Dialect
}

// Errors is the SmartCA dialect's table from error kind to HTTP status,
// which its envelope repeats as status_code (the dialect has no error
// codes: the message says what went wrong).
var Errors = map[signing.Kind]httpedge.Wire{
	signing.KindInternal:      {Status: http.StatusInternalServerError},
	signing.KindInvalid:       {Status: http.StatusBadRequest},
	signing.KindNotFound:      {Status: http.StatusNotFound},
	signing.KindConflict:      {Status: http.StatusConflict},
	signing.KindExpired:       {Status: http.StatusBadRequest},
	signing.KindDenied:        {Status: http.StatusForbidden},
	signing.KindLocked:        {Status: http.StatusTooManyRequests},
	signing.KindClientInvalid: {Status: http.StatusUnauthorized},
	signing.KindTokenInvalid:  {Status: http.StatusUnauthorized},
	signing.KindBusy:          {Status: http.StatusServiceUnavailable},
	signing.KindRateLimited:   {Status: http.StatusTooManyRequests},
}

// errorBody is the envelope of an error: a server error's message carries
// the request ID to quote (the envelope has no member for it; the
// X-Request-ID header has it on every answer).
func errorBody(p *httpedge.Problem) any {
	msg := p.Description
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
		msg = "lỗi hệ thống (internal error); request " + p.RequestID
	}
	return Envelope{StatusCode: p.Status, Message: msg}
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
	h.edge = &httpedge.Dialect{Name: "smartca", Table: Errors, Body: errorBody, Log: h.log}
	h.mux.HandleFunc("/smartca/v1/credentials/get_certificate", h.post(h.getCertificate))
	h.mux.HandleFunc("/smartca/v1/signatures/sign", h.post(h.sign))
	h.mux.HandleFunc("/smartca/v1/signatures/sign/{tran_code}/status", h.post(h.status))
	h.mux.HandleFunc("/smartca/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.edge.Error(w, r, http.StatusNotFound, "", "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = httpedge.Begin(w, r)
	if !h.limits.AllowSource(w, r) {
		h.edge.TooMany(w, r)
		return
	}
	httpedge.Serve(h.mux, w, r)
}

// post allows only POST.
func (h *Handler) post(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			h.edge.Error(w, r, http.StatusMethodNotAllowed, "", "only POST is allowed here")
			return
		}
		next(w, r)
	}
}

func writeOK(w http.ResponseWriter, message string, data any) {
	httpedge.WriteJSON(w, http.StatusOK, Envelope{StatusCode: http.StatusOK, Message: message, Data: data})
}

// fail renders err in the envelope (Errors); a server error's detail goes
// to the log only, under the request ID.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.edge.Fail(w, r, err)
}

// decode reads a JSON object of at most MaxBody bytes into v.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return h.decodeMax(w, r, v, MaxBody)
}

// decodeMax reads a JSON object of at most max bytes into v.
func (h *Handler) decodeMax(w http.ResponseWriter, r *http.Request, v any, max int64) bool {
	return h.edge.Decode(w, r, v, httpedge.BodyOptions{Max: max})
}

// authenticate checks the relying party's sp_id and sp_password with the
// service and returns its client ID.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, sp *SP) (string, bool) {
	if text("sp_id", sp.SPID, 128, false) != nil || sp.SPPassword == "" || len(sp.SPPassword) > 256 {
		h.edge.Refuse(w, r, signing.KindClientInvalid, "sp_id and sp_password are required")
		return "", false
	}
	c, err := h.svc.CheckClient(r.Context(), sp.SPID, sp.SPPassword)
	if err != nil {
		h.fail(w, r, err)
		return "", false
	}
	if c.Role == store.RoleOfficer {
		h.edge.Refuse(w, r, signing.KindDenied, "a registration officer's client cannot ask for signatures")
		return "", false
	}
	if !h.limits.AllowClient(w, r, "client:"+c.ID) {
		h.edge.TooMany(w, r)
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
		return &signing.Error{Kind: signing.KindInvalid, Description: fmt.Sprintf("%s must be %d to %d bytes", field, lo, max)}
	}
	if err := display.Text(field, s); err != nil {
		return &signing.Error{Kind: signing.KindInvalid, Description: err.Error(), Err: err}
	}
	return nil
}

// nationalID checks a user_id: the digits of a CCCD, or a prefixed ID
// ("CCCD:…", "MST:0101234567-001").
func nationalID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return "", &signing.Error{Kind: signing.KindInvalid, Description: "user_id (the owner's national ID) is required"}
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ':' || c == '-') {
			return "", &signing.Error{Kind: signing.KindInvalid, Description: `user_id must be a national ID such as "079203001234" or "MST:0101234567"`}
		}
	}
	return s, nil
}
