// Package owner serves the API of the owner's app under /owner/v1/: the
// citizen logs in with national ID, PIN and one-time code, sees the
// signing requests waiting for them — who asks, why, which documents and
// their hashes — and approves one with PIN and one-time code again, or
// rejects it (DESIGN.md, "The main flows", step 3). It is kyso's own API,
// whichever front end (SmartCA dialect, CSC) the relying party used, so it
// lives apart from them; errors take the {error, error_description} form
// of the CSC API.
package owner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/kyso-pki/kyso/internal/jsonbody"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// MaxBody bounds a request body: the API's bodies are a few short fields.
const MaxBody = 16 << 10

// Options configure the handler.
type Options struct {
	// Logger receives internal errors (never a PIN, a code or a token);
	// nil discards them.
	Logger *slog.Logger
	// Limits are the rate limits of login, approve and reject: per source
	// address before any work; per national ID for login (checked before,
	// charged once the factors prove the owner, so that nobody else's
	// attempts empty an owner's bucket: wrong ones count towards the
	// lockout instead), per owner for approve and reject. nil means none.
	Limits *httpedge.Limits
}

// Handler serves the owner API. Only login goes without a bearer token;
// every other route needs an owner's token from login.
type Handler struct {
	svc    *signing.Service
	log    *slog.Logger
	limits *httpedge.Limits
	mux    *http.ServeMux
}

// NewHandler returns the owner API over svc.
func NewHandler(svc *signing.Service, opts *Options) *Handler {
	h := &Handler{svc: svc, log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	if opts != nil && opts.Logger != nil {
		h.log = opts.Logger
	}
	if opts != nil {
		h.limits = opts.Limits
	}
	h.mux.HandleFunc("POST /owner/v1/login", h.limited(h.login)) // unauthenticated
	h.mux.HandleFunc("POST /owner/v1/logout", h.authed(h.logout))
	h.mux.HandleFunc("GET /owner/v1/transactions", h.authed(h.transactions))
	h.mux.HandleFunc("POST /owner/v1/transactions/{id}/approve", h.limited(h.authed(h.perOwner(h.approve))))
	h.mux.HandleFunc("POST /owner/v1/transactions/{id}/reject", h.limited(h.authed(h.perOwner(h.reject))))
	h.mux.HandleFunc("/owner/v1/", func(w http.ResponseWriter, r *http.Request) {
		if allow := jsonbody.Allowed(h.mux, r, "/owner/v1/"); allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, signing.CodeInvalidRequest, r.Method+" is not allowed here; use "+allow)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// Error is the body of every error response.
type Error struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	jsonbody.Write(w, status, Error{Error: code, Description: desc})
}

// tooMany answers 429 (RFC 6585 section 4) to a request over its rate
// limit; httpedge.Limits has set Retry-After.
func tooMany(w http.ResponseWriter) {
	writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many requests; try again after the seconds in Retry-After")
}

// limited applies the per-source limit before anything else.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.limits.AllowSource(w, r) {
			tooMany(w)
			return
		}
		next(w, r)
	}
}

// perOwner applies the per-owner limit, after authed.
func (h *Handler) perOwner(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.limits.AllowClient(w, r, "owner:"+ownerID(r)) {
			tooMany(w)
			return
		}
		next(w, r)
	}
}

var errStatus = map[string]int{
	signing.CodeInvalidRequest: http.StatusBadRequest,
	signing.CodeAccessDenied:   http.StatusForbidden,
	signing.CodeInvalidToken:   http.StatusUnauthorized,
	signing.CodeExpired:        http.StatusUnauthorized,
	signing.CodeLocked:         http.StatusTooManyRequests,
	signing.CodeNotFound:       http.StatusNotFound,
	signing.CodeConflict:       http.StatusConflict,
	signing.CodeBusy:           http.StatusServiceUnavailable,
}

// fail renders err: a signing.Error by its code, anything else as a
// server error whose detail goes to the log only, under a request ID.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *signing.Error
	switch {
	case errors.As(err, &se):
		status, ok := errStatus[se.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kyso", error="invalid_token"`)
		}
		if status == http.StatusServiceUnavailable {
			httpedge.RetryAfter(w, time.Second)
		}
		writeError(w, status, se.Code, se.Description)
	case errors.Is(err, store.ErrInvalid):
		h.log.Info("owner: request refused by the store", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusBadRequest, signing.CodeInvalidRequest, "a field of the request is malformed or too long")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, signing.CodeConflict, "the transaction changed meanwhile")
	default:
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		h.log.Error("owner: internal error", "path", r.URL.Path, "request_id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error; request "+id)
	}
}

// decode reads a JSON object of at most MaxBody bytes into v. With
// optional, an empty body leaves v as it is. Anything but an object — null
// included, which would leave v as it is too — is malformed.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	if optional && r.ContentLength == 0 {
		return true
	}
	if e := jsonbody.Decode(w, r, v, jsonbody.Options{Max: MaxBody, DisallowUnknownFields: true}); e != nil {
		writeError(w, e.Status, signing.CodeInvalidRequest, e.Message)
		return false
	}
	return true
}

type ownerKey struct{}

// authed requires an owner's bearer token.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := httpedge.Bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kyso"`)
			writeError(w, http.StatusUnauthorized, signing.CodeInvalidToken, "a Bearer access token from /owner/v1/login is required")
			return
		}
		p, err := h.svc.Authenticate(r.Context(), tok, httpedge.ClientCertificate(r))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if p.Kind != "owner" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kyso", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, signing.CodeInvalidToken, "this API takes an owner's token")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ownerKey{}, p.ID)))
	}
}

func ownerID(r *http.Request) string {
	id, _ := r.Context().Value(ownerKey{}).(string)
	return id
}
