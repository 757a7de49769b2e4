package app

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// pageNames are the templates under templates/, each with layout.html.
var pageNames = []string{"login", "requests", "request", "done", "history", "check", "report", "problem", "consent", "passkeys", "passkey-create", "own", "badge", "renew", "register", "registered", "claim", "field"}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		t, err := template.New("layout.html").Funcs(template.FuncMap{"add": func(a, b int) int { return a + b },
			"label": func(s string) struct{ Label string } { return struct{ Label string }{s} }}).
			// A word missing from messages (.T.key) stops the page with
			// an error, never renders a blank where a word should be.
			Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.html", "templates/factors.html", "templates/passkey.html", "templates/details.html", "templates/"+n+".html")
		if err != nil {
			return nil, err
		}
		out[n] = t
	}
	return out, nil
}

// view is what every page's template gets.
type view struct {
	Lang  string
	T     map[string]string
	Title string
	// Switch is this page in the other language.
	Switch, SwitchLabel, SwitchLang string
	CSRF                            string
	LoggedIn                        bool
	// Message is an error or notice to show at the top; Alert marks it an
	// error.
	Message string
	Alert   bool
	Data    any
}

// lang is the page's language: ?lang= (kept in a cookie), else the
// cookie, else Vietnamese.
func lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "vi" || l == "en" {
		setCookie(w, LangCookie, l, 365*24*3600)
		return l
	}
	if c, err := r.Cookie(LangCookie); err == nil && (c.Value == "vi" || c.Value == "en") {
		return c.Value
	}
	return "vi"
}

// csrfCookie returns the browser's CSRF cookie, setting one when it has
// none (or a malformed one).
func csrfCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	v := randomValue()
	setCookie(w, CSRFCookie, v, 0)
	// The token rendered now must match the cookie the browser will send.
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: v})
	return v
}

// show renders the page name with data, status and message.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, message string, alert bool) {
	l := lang(w, r)
	t := messages[l]
	v := &view{Lang: l, T: t, Title: t[title], Data: data, Message: message, Alert: alert}
	if message != "" {
		if m, ok := t[message]; ok {
			v.Message = m
		}
	}
	other := "en"
	if l == "en" {
		other = "vi"
	}
	q := r.URL.Query()
	q.Set("lang", other)
	path := r.URL.Path
	if r.Method != http.MethodGet {
		path = "/app/"
		q = url.Values{"lang": {other}}
	}
	v.Switch, v.SwitchLabel, v.SwitchLang = path+"?"+q.Encode(), messages[other]["langName"], other
	token := ""
	if s := sessionOf(r); s != nil {
		token, v.LoggedIn = s.token, true
	}
	v.CSRF = h.keys.csrfToken(csrfCookie(w, r), token)
	var b bytes.Buffer
	if err := h.pages[name].Execute(&b, v); err != nil {
		h.log.Error("app: rendering a page", "page", name, "request_id", httpedge.RequestID(r), "err", err)
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", l)
	w.Header().Set("Vary", "Cookie")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// problem shows a page that says what went wrong (message: a key of
// messages).
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, status int, message string) {
	h.show(w, r, status, "problem", "problemTitle", nil, message, true)
}

// fail shows err: the kinds a citizen can act on in their words, the rest
// as a server error (its detail to the log, under the request ID).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	kind, e := kindOf(err)
	switch kind {
	case signing.KindDenied:
		h.problem(w, r, http.StatusForbidden, "wrongFactors")
	case signing.KindLocked:
		httpedge.RetryAfter(w, e.RetryAfter)
		h.problem(w, r, http.StatusTooManyRequests, "locked")
	case signing.KindNotFound:
		h.problem(w, r, http.StatusNotFound, "notFound")
	case signing.KindConflict, signing.KindExpired:
		h.problem(w, r, http.StatusConflict, "notPending")
	case signing.KindBusy, signing.KindRateLimited:
		httpedge.RetryAfter(w, time.Second)
		h.problem(w, r, http.StatusServiceUnavailable, "busy")
	case signing.KindInvalid:
		h.problem(w, r, http.StatusBadRequest, "refused")
	default:
		h.log.Error("app", "request_id", httpedge.RequestID(r), "path", r.URL.Path, "err", err)
		h.problem(w, r, http.StatusInternalServerError, "serverError")
	}
}

type sessionKey struct{}

// who is the owner a request speaks for.
type who struct {
	ownerID string
	token   string
	*session
}

func sessionOf(r *http.Request) *who {
	s, _ := r.Context().Value(sessionKey{}).(*who)
	return s
}

// current returns the request's session when its cookie opens, is within
// the idle and absolute timeouts, and its token is a live owner's; it
// re-seals the cookie with the time of this use. Anything else clears the
// cookie.
func (h *Handler) current(w http.ResponseWriter, r *http.Request) *who {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	s := h.keys.openSession(c.Value)
	now := h.o.Now()
	if s == nil || now.Sub(s.usedAt) > h.o.IdleTimeout || now.Sub(s.begun) > h.o.SessionLifetime || s.usedAt.Before(s.begun) {
		setCookie(w, SessionCookie, "", -1)
		return nil
	}
	p, err := h.svc.Authenticate(r.Context(), s.token, nil)
	if err != nil || p.Kind != "owner" {
		setCookie(w, SessionCookie, "", -1)
		return nil
	}
	s.usedAt = now
	setCookie(w, SessionCookie, h.keys.sealSession(s), 0)
	return &who{ownerID: p.ID, token: s.token, session: s}
}

func withSession(r *http.Request, s *who) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
}

// authed requires a session for a page; without one the browser goes to
// the login page.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.current(w, r)
		if s == nil {
			http.Redirect(w, r, "/app/login", http.StatusSeeOther)
			return
		}
		next(w, withSession(r, s))
	}
}

// post guards a state-changing request: from the app's own origin, with a
// form of at most MaxForm bytes carrying a CSRF token bound to the
// browser and to its session; needSession requires one.
func (h *Handler) post(needSession bool, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			h.problem(w, r, http.StatusForbidden, "csrf")
			return
		}
		s := h.current(w, r)
		if needSession && s == nil {
			h.problem(w, r, http.StatusUnauthorized, "loggedOut")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
		if err := r.ParseForm(); err != nil {
			h.problem(w, r, http.StatusBadRequest, "badForm")
			return
		}
		if !h.csrfOK(r, s) {
			h.problem(w, r, http.StatusForbidden, "csrf")
			return
		}
		if s != nil {
			r = withSession(r, s)
		}
		next(w, r)
	}
}

func (h *Handler) csrfOK(r *http.Request, s *who) bool {
	c, err := r.Cookie(CSRFCookie)
	if err != nil {
		return false
	}
	token := ""
	if s != nil {
		token = s.token
	}
	return h.keys.csrfValid(c.Value, token, r.PostForm.Get("csrf"))
}

// fingerprint writes a hash as hex in groups of four, to read aloud or
// compare with what the portal shows.
func fingerprint(b []byte) string {
	const hexd = "0123456789ABCDEF"
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%2 == 0 {
			sb.WriteByte(' ')
		}
		sb.WriteByte(hexd[c>>4])
		sb.WriteByte(hexd[c&15])
	}
	return sb.String()
}

// shown is text a portal or an uploader wrote, made fit to show: every
// control, bidirectional or invisible character written visibly
// (display.Escape); html/template then escapes what HTML would obey.
func shown(s string) string { return display.Escape(s) }

// when is a time as kyso shows times to people, in Vietnam's zone.
func when(t time.Time) string { return display.Time(t, display.Vietnam()) }

func atoi(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
