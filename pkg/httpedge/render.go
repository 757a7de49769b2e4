package httpedge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// RequestIDHeader carries a request's ID, in the request (a caller's or
// a proxy's, when sane) and in every answer.
const RequestIDHeader = "X-Request-ID"

// maxRequestID bounds an incoming request ID.
const maxRequestID = 64

type requestIDKey struct{}

// Begin starts every API answer the same way: it sets
// "Cache-Control: no-store" (tokens, SADs and transactions must never be
// cached, RFC 6749 section 5.1; RFC 9111 section 5.2.2.5), takes the
// request's X-Request-ID when it is sane (1 to 64 letters, digits, "-",
// "_", ".", ":") or makes a random one, sets it on the answer, and
// returns r carrying it for RequestID.
func Begin(w http.ResponseWriter, r *http.Request) *http.Request {
	w.Header().Set("Cache-Control", "no-store")
	id := r.Header.Get(RequestIDHeader)
	if !saneRequestID(id) || len(r.Header.Values(RequestIDHeader)) != 1 {
		id = newRequestID()
	}
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

// RequestID is the ID Begin gave r; "" before Begin.
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Wire is how a dialect says an error kind: the HTTP status and the wire
// code (CSC's and OAuth's "error"; empty in a dialect without codes).
type Wire struct {
	Status int
	Code   string
}

// Problem is an error answer before a dialect gives it its form.
type Problem struct {
	Wire
	// Description is safe to show: never an internal error's text.
	Description string
	// RequestID is the request's (Begin), for the caller to quote.
	RequestID string
}

// Dialect is one API's way of answering errors: its table from kind to
// wire and its body. Everything else — which kind an error is, what is
// logged, which headers go with which kind — is the same for every API
// and done here.
type Dialect struct {
	// Name prefixes log messages ("csc").
	Name string
	// Table maps every signing.Kind to the dialect's status and code; a
	// kind missing from it is answered as KindInternal (and logged).
	Table map[signing.Kind]Wire
	// Body is the JSON body of an error answer.
	Body func(p *Problem) any
	// Log receives internal errors with their request ID (never a
	// secret); nil discards them.
	Log *slog.Logger
}

func (d *Dialect) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// Fail answers err: its kind (signing.Public) through the table, with the
// public description. A server error (5xx) is logged with its detail and
// the request ID, and the caller gets only "internal error" and the ID; a
// refusal that wraps a cause is logged at Info. KindTokenInvalid answered
// 401 carries WWW-Authenticate with error="invalid_token" (RFC 6750
// section 3); an error with a RetryAfter (a lock) carries it as
// Retry-After, KindBusy one second unless one is set.
func (d *Dialect) Fail(w http.ResponseWriter, r *http.Request, err error) {
	kind, desc := signing.Public(err)
	wire, ok := d.Table[kind]
	if !ok {
		d.log().Error(d.Name+": no answer for an error kind", "kind", kind.String(), "request_id", RequestID(r))
		kind, desc = signing.KindInternal, "internal error"
		if wire, ok = d.Table[kind]; !ok {
			wire = Wire{Status: http.StatusInternalServerError, Code: "server_error"}
		}
	}
	if signing.Outage(err) {
		// The operators must hear of it: every write fails until space
		// returns or the database answers again, every signature until
		// the key store does.
		d.log().Error(d.Name+": the database or the key store cannot take requests (disk full, unreachable, keys gone)", "path", r.URL.Path, "request_id", RequestID(r), "error", err)
	}
	if wire.Status >= 500 && kind != signing.KindBusy {
		d.log().Error(d.Name+": internal error", "path", r.URL.Path, "request_id", RequestID(r), "kind", kind.String(), "error", err)
		desc = "internal error"
	} else if se := (*signing.Error)(nil); !errors.As(err, &se) || se.Err != nil {
		d.log().Info(d.Name+": request refused", "path", r.URL.Path, "request_id", RequestID(r), "kind", kind.String(), "error", err)
	}
	var retry time.Duration
	if se := (*signing.Error)(nil); errors.As(err, &se) {
		retry = se.RetryAfter
	}
	d.answer(w, r, kind, wire, desc, retry)
}

// Refuse answers a refusal of kind decided at the edge (no bearer token,
// a wrong scope, a rate limit) with description.
func (d *Dialect) Refuse(w http.ResponseWriter, r *http.Request, kind signing.Kind, description string) {
	d.Fail(w, r, &signing.Error{Kind: kind, Description: description})
}

// TooMany answers 429 (RFC 6585 section 4) to a request over its rate
// limit; Limits has set Retry-After.
func (d *Dialect) TooMany(w http.ResponseWriter, r *http.Request) {
	d.Refuse(w, r, signing.KindRateLimited, "too many requests; try again after the seconds in Retry-After")
}

// Error answers status and code as they are, for what the table does not
// describe: a method not allowed (405), no such path (404), a body too
// large (413) or of the wrong type (415).
func (d *Dialect) Error(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	WriteJSON(w, status, d.Body(&Problem{Wire: Wire{Status: status, Code: code}, Description: description, RequestID: RequestID(r)}))
}

// Decode reads a JSON body as Decode does and answers its refusal: 413
// and 415 as they are, anything else as KindInvalid.
func (d *Dialect) Decode(w http.ResponseWriter, r *http.Request, v any, opts BodyOptions) bool {
	e := Decode(w, r, v, opts)
	if e == nil {
		return true
	}
	if e.Status == http.StatusBadRequest {
		d.Refuse(w, r, signing.KindInvalid, e.Message)
	} else {
		d.Error(w, r, e.Status, d.Table[signing.KindInvalid].Code, e.Message)
	}
	return false
}

func (d *Dialect) answer(w http.ResponseWriter, r *http.Request, kind signing.Kind, wire Wire, desc string, retry time.Duration) {
	h := w.Header()
	switch {
	case retry > 0 && h.Get("Retry-After") == "":
		RetryAfter(w, retry)
	case kind == signing.KindTokenInvalid && wire.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "":
		h.Set("WWW-Authenticate", `Bearer realm="kyso", error="invalid_token"`)
	case (kind == signing.KindBusy || wire.Status == http.StatusServiceUnavailable) && h.Get("Retry-After") == "":
		RetryAfter(w, time.Second)
	}
	WriteJSON(w, wire.Status, d.Body(&Problem{Wire: wire, Description: desc, RequestID: RequestID(r)}))
}

// Own is the table of kyso's own APIs (the owners' API, the officers'
// API), whose errors take CSC's {error, error_description} form with
// kyso's codes.
var Own = map[signing.Kind]Wire{
	signing.KindInternal:      {http.StatusInternalServerError, "server_error"},
	signing.KindInvalid:       {http.StatusBadRequest, "invalid_request"},
	signing.KindNotFound:      {http.StatusNotFound, "not_found"},
	signing.KindConflict:      {http.StatusConflict, "conflict"},
	signing.KindDenied:        {http.StatusForbidden, "access_denied"},
	signing.KindLocked:        {http.StatusTooManyRequests, "account_locked"},
	signing.KindClientInvalid: {http.StatusUnauthorized, "invalid_client"},
	signing.KindTokenInvalid:  {http.StatusUnauthorized, "invalid_token"},
	signing.KindExpired:       {http.StatusBadRequest, "invalid_request"},
	signing.KindBusy:          {http.StatusServiceUnavailable, "temporarily_unavailable"},
	signing.KindRateLimited:   {http.StatusTooManyRequests, "too_many_requests"},
}

// ErrorBody is the {error, error_description} body of CSC (CSC API v2
// section 10.1, after RFC 6749 section 5.2) and of kyso's own APIs, with
// the request ID to quote.
type ErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
}

// OAuthBody makes an ErrorBody of p.
func OAuthBody(p *Problem) any {
	return ErrorBody{Error: p.Code, Description: p.Description, RequestID: p.RequestID}
}
