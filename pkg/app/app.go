// Package app is the citizen's web app that kysod serves at /app/: the
// owner of a signing key logs in with national ID (CCCD), PIN and the
// authenticator's one-time code; sees the requests portals sent, with
// the portal's registered name, the description, each document's name
// and hash, and — for a PDF kyso holds — its pages drawn on the server
// (pkg/render) from the very bytes whose digest the approval covers;
// approves (PIN and code again, through the one signing path) or rejects;
// signs a PDF of their own with the stamp where they tap (own.go);
// reads every use of their key from the audit log and, for one they did
// not make, suspends the certificate at once; and anyone may check a
// signed PDF (the /verify/v1 engine). DESIGN.md, "The citizen's app".
//
// The pages are rendered on the server (html/template), Vietnamese first
// with an English switch, for a phone first, and installable (a web
// manifest, and a service worker that caches the app's shell only —
// never a page, a document or a secret). Every asset is embedded; the
// Content-Security-Policy allows nothing from another origin and no
// inline script or style. Every POST carries a CSRF token and must come
// from the app's own origin; sessions are in session.go. CSC oauth2code's
// consent page is in oauth.go (ConsentPath).
//
// Passkeys (WebAuthn) are in passkey.go, consent receipts in flows.go
// (receipt), signing one's own document in own.go: each a route beside
// these, over the same session, CSRF and page code.
package app

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/render"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// Path is where the app is mounted.
const Path = "/app/"

// Defaults of Options.
const (
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultSessionLifetime = time.Hour
	// MaxForm bounds a form's body (login, approve): a few short fields,
	// or a passkey's answer (signing.MaxPasskeyResponse, URL-encoded).
	MaxForm = 8<<10 + 2*signing.MaxPasskeyResponse
)

// CSP is the Content-Security-Policy of every answer: nothing from another
// origin, no inline script or style, no frames, forms posted only here.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Checker is the validation engine of the check page: the /verify/v1
// API's (verifyapi.Handler), with its bounds.
type Checker interface {
	// Check validates the signed PDF read from pdf, for the request r. A
	// refusal it can explain implements HTTPStatus and Text.
	Check(r *http.Request, pdf io.Reader) (*verify.Report, error)
	// MaxBody is the largest PDF it takes.
	MaxBody() int64
}

// Options configure the app.
type Options struct {
	// SecretsKey (at least 32 bytes; kysod: the data directory's secrets
	// key, which every replica shares) keys the session cookies' seal
	// and the CSRF tokens. Required.
	SecretsKey []byte
	// IdleTimeout ends a session unused this long; zero means
	// DefaultIdleTimeout. SessionLifetime ends any session this long
	// after login; zero means DefaultSessionLifetime (and the owner's
	// token, signing.Config.TokenLifetime, bounds it too).
	IdleTimeout, SessionLifetime time.Duration
	// Checker runs the check page; nil leaves the page out.
	Checker Checker
	// MaxOwnPDF bounds a PDF uploaded to sign ("Ký tài liệu của tôi");
	// zero means DefaultMaxOwnPDF; above the renderer's MaxPDFBytes, New
	// refuses it (the owner must see what they sign). MaxOwnPages bounds its pages; zero
	// means DefaultMaxOwnPages.
	MaxOwnPDF, MaxOwnPages int
	// Render bounds the PDF renderer (nil: render's defaults, with two
	// workers). The renderer is made at the first page drawn, or by
	// Start.
	Render *render.Options
	// Limits are the rate limits: per source address on login, approve,
	// suspend, check and each page image drawn; per national ID on login;
	// per owner on approve (as the owners' API). nil means none.
	Limits *httpedge.Limits
	// RegisterLimit bounds, per source address, the online
	// self-registrations and the claims of their second factor
	// (register.go), each apart; nil means one at DefaultRegisterRate.
	// Behind a proxy every citizen shares its address: give a rate for
	// all of them.
	RegisterLimit *httpedge.Limiter
	// Admin is the officers' API (pkg/admin's handler, with the staff
	// registry) the household-visit page (FieldPath, field.go) enrols
	// through; nil leaves the page out.
	Admin http.Handler
	// Staff checks staff badges at BadgePath; nil leaves the page out.
	// BadgeReport is how the page tells a citizen to report a refused
	// badge.
	Staff       *staff.Service
	BadgeReport BadgeReport
	// Now is the clock; nil means time.Now. Logger receives internal
	// errors, never a PIN, a code or a token; nil discards them.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the app.
type Handler struct {
	svc    *signing.Service
	o      Options
	keys   *keys
	log    *slog.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	render *lazyRenderer
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the app over svc.
func New(svc *signing.Service, opts *Options) (*Handler, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	k, err := newKeys(o.SecretsKey)
	if err != nil {
		return nil, err
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = DefaultSessionLifetime
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.RegisterLimit = registerLimiter(&o)
	if o.MaxOwnPDF <= 0 {
		o.MaxOwnPDF = DefaultMaxOwnPDF
	}
	if o.MaxOwnPages <= 0 {
		o.MaxOwnPages = DefaultMaxOwnPages
	}
	h := &Handler{svc: svc, o: o, keys: k, log: o.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	ro := render.Options{Workers: 2}
	if o.Render != nil {
		ro = *o.Render
	}
	// The owner sees every page of what they sign: a document the
	// renderer refuses could not be shown, so none is accepted.
	if limit := cmp.Or(ro.MaxPDFBytes, render.DefaultMaxPDFBytes); h.o.MaxOwnPDF > limit {
		return nil, fmt.Errorf("app: Options.MaxOwnPDF (%d bytes) is over the renderer's MaxPDFBytes (%d): an uploaded document could not be shown", h.o.MaxOwnPDF, limit)
	}
	h.render = newLazyRenderer(ro)
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	h.mux.Handle("GET /app/static/", http.StripPrefix("/app/static/", files))
	h.mux.HandleFunc("GET /app/manifest.webmanifest", h.file(static, "manifest.webmanifest", "application/manifest+json"))
	h.mux.HandleFunc("GET /app/sw.js", h.file(static, "sw.js", "text/javascript; charset=utf-8"))
	h.mux.HandleFunc("GET /app/{$}", h.authed(h.requests))
	h.mux.HandleFunc("GET /app/login", h.loginPage)
	h.mux.HandleFunc("POST /app/login", h.post(false, h.login))
	h.mux.HandleFunc("POST /app/logout", h.post(true, h.logout))
	h.mux.HandleFunc("GET /app/requests/{id}", h.authed(h.request))
	h.mux.HandleFunc("GET /app/requests/{id}/docs/{doc}/pages/{page}", h.authed(h.pageImage))
	h.mux.HandleFunc("POST /app/requests/{id}/approve", h.post(true, h.approve))
	h.mux.HandleFunc("POST /app/requests/{id}/reject", h.post(true, h.reject))
	h.mux.HandleFunc("GET "+ConsentPath, h.consentPage)
	h.mux.HandleFunc("POST "+ConsentPath, h.post(true, h.consent))
	h.mux.HandleFunc("POST /app/requests/{id}/stamp", h.post(true, h.placeStamp))
	h.mux.HandleFunc("GET /app/own", h.authed(h.ownPage))
	h.mux.HandleFunc("POST /app/own", h.ownUpload)
	h.mux.HandleFunc("GET /app/own/{id}/signed.pdf", h.authed(h.ownDownload))
	h.mux.HandleFunc("GET /app/history", h.authed(h.history))
	h.mux.HandleFunc("GET /app/receipts/{id}", h.authed(h.receipt))
	h.mux.HandleFunc("POST /app/disown", h.post(true, h.disown))
	h.passkeyRoutes()
	h.renewRoutes()
	h.badgeRoutes()
	h.registerRoutes()
	h.fieldRoutes()
	if o.Checker != nil {
		h.mux.HandleFunc("GET /app/check", h.checkPage)
		h.mux.HandleFunc("POST /app/check", h.check)
	}
	h.mux.HandleFunc("/app/", func(w http.ResponseWriter, r *http.Request) {
		h.problem(w, r, http.StatusNotFound, "notFound")
	})
	return h, nil
}

// Start makes the PDF renderer in the background (compiling PDFium takes
// seconds and, while it runs, a few hundred MB). ServeHTTP starts it on
// the app's first request, so the pages a citizen opens before any PDF's
// (the login page, the list of requests) hide the wait; Start is for a
// caller that wants it made before then.
func (h *Handler) Start() { h.render.start() }

// Close releases the renderer.
func (h *Handler) Close() error { return h.render.close() }

// ServeHTTP implements http.Handler: every answer carries the security
// headers, a request ID and, but for the shell's assets, no-store.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.render.start()
	r = httpedge.Begin(w, r)
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" on the app's own form posts.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	hd.Set("Strict-Transport-Security", "max-age=31536000")
	if strings.HasPrefix(r.URL.Path, "/app/static/") {
		// The shell: the same for everyone, versioned by the binary.
		hd.Set("Cache-Control", "public, max-age=3600")
	}
	httpedge.Serve(h.mux, w, r)
}

func (h *Handler) file(fsys fs.FS, name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			h.problem(w, r, http.StatusNotFound, "notFound")
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Write(b)
	}
}

// lazyRenderer makes the renderer once, in the background, at the first
// call (or Start): compiling PDFium takes seconds, and a kysod whose
// citizens never open a PDF need not spend them.
type lazyRenderer struct {
	opts   render.Options
	begin  sync.Once
	done   chan struct{} // closed once r and err are set
	closed atomic.Bool
	r      *render.Renderer
	err    error
}

func newLazyRenderer(opts render.Options) *lazyRenderer {
	return &lazyRenderer{opts: opts, done: make(chan struct{})}
}

func (l *lazyRenderer) start() {
	l.begin.Do(func() {
		go func() {
			l.r, l.err = render.New(context.Background(), &l.opts)
			if l.err == nil && l.closed.Load() {
				l.r.Close()
				l.r, l.err = nil, render.ErrClosed
			}
			close(l.done)
		}()
	})
}

// get returns the renderer, waiting (within ctx) for it to be made.
func (l *lazyRenderer) get(ctx context.Context) (*render.Renderer, error) {
	l.start()
	select {
	case <-l.done:
		return l.r, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close closes the renderer, or has it closed as soon as it is made.
func (l *lazyRenderer) close() error {
	l.closed.Store(true)
	select {
	case <-l.done:
		if l.r != nil {
			return l.r.Close()
		}
	default:
	}
	return nil
}

// kindOf is a signing error's kind; KindInternal for any other error.
func kindOf(err error) (signing.Kind, *signing.Error) {
	var e *signing.Error
	if errors.As(err, &e) {
		return e.Kind, e
	}
	return signing.KindInternal, nil
}
