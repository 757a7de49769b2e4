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
	"log/slog"
	"net/http"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
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
	edge   *httpedge.Dialect
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
	h.edge = &httpedge.Dialect{Name: "owner", Table: httpedge.Own, Body: httpedge.OAuthBody, Log: h.log}
	h.mux.HandleFunc("POST /owner/v1/login", h.limited(h.login)) // unauthenticated
	h.mux.HandleFunc("POST /owner/v1/logout", h.authed(h.logout))
	h.mux.HandleFunc("GET /owner/v1/transactions", h.authed(h.transactions))
	h.mux.HandleFunc("POST /owner/v1/transactions/{id}/approve", h.limited(h.authed(h.perOwner(h.approve))))
	h.mux.HandleFunc("POST /owner/v1/transactions/{id}/reject", h.limited(h.authed(h.perOwner(h.reject))))
	h.mux.HandleFunc("/owner/v1/", func(w http.ResponseWriter, r *http.Request) {
		if allow := httpedge.Allowed(h.mux, r, "/owner/v1/"); allow != "" {
			w.Header().Set("Allow", allow)
			h.edge.Error(w, r, http.StatusMethodNotAllowed, "invalid_request", r.Method+" is not allowed here; use "+allow)
			return
		}
		h.edge.Refuse(w, r, signing.KindNotFound, "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpedge.Serve(h.mux, w, httpedge.Begin(w, r))
}

// Error is the body of every error response: error, error_description and
// the request ID to quote.
type Error = httpedge.ErrorBody

// limited applies the per-source limit before anything else.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.limits.AllowSource(w, r) {
			h.edge.TooMany(w, r)
			return
		}
		next(w, r)
	}
}

// perOwner applies the per-owner limit, after authed.
func (h *Handler) perOwner(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.limits.AllowClient(w, r, "owner:"+ownerID(r)) {
			h.edge.TooMany(w, r)
			return
		}
		next(w, r)
	}
}

// fail renders err in the form of kyso's own APIs (httpedge.Own); a
// server error's detail goes to the log only, under the request ID.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.edge.Fail(w, r, err)
}

// bad answers 400 invalid_request with desc.
func (h *Handler) bad(w http.ResponseWriter, r *http.Request, desc string) {
	h.edge.Refuse(w, r, signing.KindInvalid, desc)
}

// decode reads a JSON object of at most MaxBody bytes into v. With
// optional, an empty body leaves v as it is. Anything but an object — null
// included, which would leave v as it is too — is malformed.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	if optional && r.ContentLength == 0 {
		return true
	}
	return h.edge.Decode(w, r, v, httpedge.BodyOptions{Max: MaxBody, DisallowUnknownFields: true})
}

type ownerKey struct{}

// authed requires an owner's bearer token.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := httpedge.Bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kyso"`)
			h.edge.Refuse(w, r, signing.KindTokenInvalid, "a Bearer access token from /owner/v1/login is required")
			return
		}
		p, err := h.svc.Authenticate(r.Context(), tok, httpedge.ClientCertificate(r))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if p.Kind != "owner" {
			h.edge.Refuse(w, r, signing.KindTokenInvalid, "this API takes an owner's token")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ownerKey{}, p.ID)))
	}
}

func ownerID(r *http.Request) string {
	id, _ := r.Context().Value(ownerKey{}).(string)
	return id
}
