package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Browser tests drive a real headless Chromium — Debian's chromium
// package, which scripts/test.sh installs — through the DevTools protocol
// (github.com/chromedp/chromedp). One browser serves a whole test binary
// (starting one costs about a second); each Open is a fresh tab. A test
// package that uses it stops it in its TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testenv.StopBrowser()
//		os.Exit(code)
//	}
//
// The browser runs headless with a temporary profile that chromedp
// removes when it stops, without its sandbox when the tests run as root
// (Chromium refuses to start sandboxed as root, and CI runs as root),
// and with its background traffic (updates, safe browsing, metrics)
// turned off: the tests call nothing but their own servers.

// Viewport is the size of the window a page is opened in, in CSS pixels.
type Viewport struct {
	// Name goes into the names of screenshots: "phone", "desktop".
	Name          string
	Width, Height int64
	// Mobile emulates a phone: the page's meta viewport applies and
	// touch events are on.
	Mobile bool
}

// The two sizes every page of kyso is shown at.
var (
	Phone   = Viewport{Name: "phone", Width: 390, Height: 844, Mobile: true}
	Desktop = Viewport{Name: "desktop", Width: 1280, Height: 800}
)

// browserTimeout bounds each step a Page takes (a navigation, a
// screenshot, axe's run), so that a hung browser fails the test instead
// of the test binary's deadline.
const browserTimeout = 60 * time.Second

// chromium is the test binary's one browser, started by the first
// Browser call, stopped by StopBrowser.
var chromium struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

// Browser is the test binary's headless Chromium.
type Browser struct{ ctx context.Context }

// StartBrowser returns the test binary's headless Chromium, starting it
// at the first call. A missing chromium is Missing: a failure under
// CI=true.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	path := LookPath(t, "chromium", "apt-get install chromium (scripts/test.sh does)")
	chromium.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("no-pings", true),
			chromedp.Flag("font-render-hinting", "none"),
		)
		if os.Geteuid() == 0 {
			opts = append(opts, chromedp.NoSandbox)
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		chromium.ctx = bctx
		chromium.cancel = func() { bcancel(); acancel() }
		// The first Do starts the browser, for the lifetime of the
		// context it is given: bctx itself, not one with a deadline.
		// The allocator bounds the start (20 s for the DevTools address).
		if err := chromedp.Do(bctx); err != nil {
			chromium.err = fmt.Errorf("starting %s: %w", path, err)
		}
	})
	if chromium.err != nil {
		t.Fatal(chromium.err)
	}
	return &Browser{ctx: chromium.ctx}
}

// StopBrowser stops the test binary's Chromium, if it started, and
// removes its profile and the pages Check kept. TestMain calls it after
// m.Run.
func StopBrowser() {
	if chromium.cancel != nil {
		chromium.cancel()
	}
	if pages.dir != "" {
		os.RemoveAll(pages.dir)
	}
}

// pages is where Check keeps the pages it saves: one directory for the
// test binary, made at the first Check, removed by StopBrowser.
var pages struct {
	once sync.Once
	dir  string
	err  error
}

// pagesDir is a directory of t's name under pages.dir.
func pagesDir(t testing.TB) string {
	t.Helper()
	pages.once.Do(func() { pages.dir, pages.err = os.MkdirTemp("", "kyso-pages-") })
	if pages.err != nil {
		t.Fatal(pages.err)
	}
	dir := filepath.Join(pages.dir, strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Post makes Open send a POST with Body as the navigation's request, the
// way a form would: the page shown is the answer to it.
type Post struct {
	ContentType string
	Body        []byte
}

// Page is a tab showing one page, with everything the tab asked the
// network for since it opened.
type Page struct {
	t        testing.TB
	ctx      context.Context
	viewport Viewport
	origin   string

	mu       sync.Mutex
	requests []string
	document network.RequestID
}

// Open opens rawURL in a new tab of the size vp; with post, the
// navigation is that POST. The tab closes when t ends. Open fails t when
// the page does not load or answers with an HTTP error.
func (b *Browser) Open(t testing.TB, vp Viewport, rawURL string, post *Post) *Page {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	p := &Page{t: t, ctx: ctx, viewport: vp, origin: u.Scheme + "://" + u.Host}
	// Subscribe before anything loads; the loops end with the tab.
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	responses := chromedp.Events(ctx, network.ResponseReceived)
	var paused func(yield func(fetch.EventRequestPaused, error) bool)
	if post != nil {
		paused = chromedp.Events(ctx, fetch.RequestPaused)
	}
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.requests = append(p.requests, ev.Request.URL)
			p.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			if ev.Type == network.ResourceTypeDocument && ev.FrameID != "" {
				p.mu.Lock()
				if p.document == "" {
					p.document = ev.RequestID
				}
				p.mu.Unlock()
			}
		}
	}()
	steps := []chromedp.Action[chromedp.Void]{
		call(network.Enable, network.EnableParams{}),
		viewport(vp),
	}
	if post != nil {
		// The navigation's request is paused, and continued as the POST.
		steps = append(steps, call(fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{
			URLPattern: strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(rawURL), ResourceType: network.ResourceTypeDocument,
		}}}))
		go func() {
			for ev, err := range paused {
				if err != nil {
					return
				}
				headers := []*fetch.HeaderEntry{{Name: "Content-Type", Value: post.ContentType}}
				for k, v := range ev.Request.Headers {
					if !strings.EqualFold(k, "Content-Type") {
						headers = append(headers, &fetch.HeaderEntry{Name: k, Value: fmt.Sprint(v)})
					}
				}
				chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{
					RequestID: ev.RequestID, Method: "POST", PostData: post.Body, Headers: headers,
				})
			}
		}()
	}
	p.do(steps...)
	resp, err := try(p, chromedp.NavigateResponse(rawURL))
	if err != nil {
		t.Fatalf("opening %s: %v", rawURL, err)
	}
	if resp.Status >= 400 {
		t.Fatalf("opening %s: HTTP %d %s", rawURL, resp.Status, resp.StatusText)
	}
	if post != nil {
		p.do(call(fetch.Disable, cdp.Empty{}))
	}
	return p
}

// call is the DevTools command c as an action with no value.
func call[P, R any](c cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, c, params)
		return chromedp.Void{}, err
	}
}

func viewport(vp Viewport) chromedp.Action[chromedp.Void] {
	if vp.Mobile {
		return chromedp.EmulateViewport(vp.Width, vp.Height, chromedp.EmulateMobile)
	}
	return chromedp.EmulateViewport(vp.Width, vp.Height)
}

// try runs a on p's tab within browserTimeout and returns its value.
func try[T any](p *Page, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, browserTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do runs steps within browserTimeout, failing the test on an error.
func (p *Page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// Act runs a on the page's tab within a time bound and returns its
// value, failing the test on an error: for the steps of a flow (clicks,
// typing, waiting for an element).
func Act[T any](p *Page, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := try(p, a)
	if err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	return v
}

// Context is the tab's context, for chromedp calls Act does not cover.
func (p *Page) Context() context.Context { return p.ctx }

// Artifacts is the directory where t keeps what a reader of a failed (or
// passed) run looks at: $KYSO_ARTIFACTS/<test name>/ when KYSO_ARTIFACTS
// is set (CI keeps that directory), else a directory of t.TempDir's,
// gone when the test ends.
func Artifacts(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KYSO_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strings.NewReplacer("/", string(filepath.Separator), " ", "_", ":", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot saves a PNG of the whole page, scrolled through, as
// <name>-<viewport>.png under Artifacts(t), and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	png := Act(p, chromedp.FullScreenshot(100)) // quality 100: PNG
	path := filepath.Join(Artifacts(p.t), name+"-"+p.viewport.Name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// Axe returns axe.min.js, the accessibility checker axe-core that
// scripts/test.sh installs with npm ci from tools/npm's lock: $KYSO_AXE,
// else (outside CI) the one under the cache.
func Axe(t testing.TB) string {
	t.Helper()
	return installed(t, "KYSO_AXE", "npm/node_modules/axe-core/axe.min.js", "axe-core (axe.min.js)")
}

// AxeViolation is a rule of axe-core's the page breaks, with the nodes
// that break it.
type AxeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

func (v AxeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s\n\t%s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
}

// Axe injects axe-core into the page, runs every rule it has on the
// whole document, and returns the violations of impact serious or
// critical.
func (p *Page) Axe() []AxeViolation {
	p.t.Helper()
	src, err := os.ReadFile(Axe(p.t))
	if err != nil {
		p.t.Fatal(err)
	}
	Act(p, chromedp.Evaluate[chromedp.Void](string(src)))
	raw := Act(p, chromedp.Evaluate[[]byte](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary.replace(/\n/g, " "))})))`, chromedp.EvalAwaitPromise))
	var vs []AxeViolation
	if err := json.Unmarshal(raw, &vs); err != nil {
		p.t.Fatalf("axe's answer: %v\n%s", err, raw)
	}
	return vs
}

// ForeignRequests returns the URLs the tab asked for that are not of the
// page's own origin (scheme, host and port), in order. data: and blob:
// URLs go to no network and are left out.
func (p *Page) ForeignRequests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.requests {
		u, err := url.Parse(r)
		if err == nil && (u.Scheme == "data" || u.Scheme == "blob") {
			continue
		}
		if err != nil || u.Scheme+"://"+u.Host != p.origin {
			out = append(out, r)
		}
	}
	return out
}

// Requests returns every URL the tab asked for, in order.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Overflow is an element whose text does not fit its box.
type Overflow struct {
	Element             string // tag, id and classes: "td.value"
	Text                string // the start of its text
	ScrollWidth, Client int
}

func (o Overflow) String() string {
	return fmt.Sprintf("%s is %dpx wide for a box of %dpx: %q", o.Element, o.ScrollWidth, o.Client, o.Text)
}

// overflowJS finds the innermost boxes with text whose content is wider
// than the box (scrollWidth > clientWidth), and the page itself when it
// scrolls sideways. Inline elements have no box of their own (their text
// overflows the block around them, which is found); an element holding an
// overflowing one is left out, as its overflow is the same.
const overflowJS = `(() => {
	const found = [];
	const root = document.documentElement;
	if (root.scrollWidth > root.clientWidth) {
		found.push({el: root, element: "the page (it scrolls sideways)", text: "", scrollWidth: root.scrollWidth, client: root.clientWidth});
	}
	for (const el of document.body.querySelectorAll("*")) {
		const display = getComputedStyle(el).display;
		if (display === "inline" || display === "none" || display === "contents") continue;
		const text = el.innerText ? el.innerText.trim() : "";
		if (text === "" || el.scrollWidth <= el.clientWidth) continue;
		found.push({el, element: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + [...el.classList].map(c => "." + c).join(""),
			text: text.slice(0, 60), scrollWidth: el.scrollWidth, client: el.clientWidth});
	}
	return found.filter(f => f.el === root || !found.some(g => g !== f && g.el !== root && f.el.contains(g.el)))
		.map(({el, ...f}) => f);
})()`

// Overflows returns the elements whose text overflows its box, and the
// page when it is wider than the window.
func (p *Page) Overflows() []Overflow {
	p.t.Helper()
	raw := Act(p, chromedp.Evaluate[[]byte](overflowJS))
	var out []Overflow
	if err := json.Unmarshal(raw, &out); err != nil {
		p.t.Fatalf("overflow check's answer: %v\n%s", err, raw)
	}
	return out
}

// HTML returns the bytes the server sent for the page's document (not
// the DOM as scripts left it), for the Nu HTML Checker.
func (p *Page) HTML() []byte {
	p.t.Helper()
	p.mu.Lock()
	id := p.document
	p.mu.Unlock()
	if id == "" {
		p.t.Fatal("browser: no document response seen")
	}
	res := Act(p, func(ctx context.Context, t *chromedp.Target) (*network.GetResponseBodyResult, error) {
		r, err := cdp.Call(ctx, t, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
		return &r, err
	})
	return res.Body
}

// Check asserts what every page of kyso must be: a screenshot kept as
// name (see Screenshot), no serious or critical axe-core violation, every
// request to its own origin, no text overflowing its box. It saves the
// page's HTML as name-<viewport>.html and returns its path, for one
// CheckHTML on all a test's pages (the Nu HTML Checker is a JVM that
// takes seconds to start), in a directory that outlives t: a subtest's
// pages are checked by its parent, after the subtest's own directory is
// gone.

func (p *Page) Check(name string) (html string) {
	p.t.Helper()
	shot := p.Screenshot(name)
	for _, v := range p.Axe() {
		p.t.Errorf("%s at %s: axe: %v", name, p.viewport.Name, v)
	}
	for _, r := range p.ForeignRequests() {
		p.t.Errorf("%s at %s: a request to another origin than %s: %s", name, p.viewport.Name, p.origin, r)
	}
	for _, o := range p.Overflows() {
		p.t.Errorf("%s at %s: text overflows: %v (screenshot %s)", name, p.viewport.Name, o, shot)
	}
	html = filepath.Join(pagesDir(p.t), name+"-"+p.viewport.Name+".html")
	if err := os.WriteFile(html, p.HTML(), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return html
}

// VirtualAuthenticator adds to the tab a virtual WebAuthn authenticator
// (DevTools' WebAuthn domain): CTAP2, built into the device ("internal":
// a platform authenticator, what a phone's passkeys are), holding
// discoverable credentials, verifying its user (as a fingerprint or a
// device PIN would) and present at once. It returns its ID, for
// Credentials.
func (p *Page) VirtualAuthenticator() webauthn.AuthenticatorID {
	p.t.Helper()
	p.do(call(webauthn.Enable, webauthn.EnableParams{EnableUI: new(false)}))
	return Act(p, func(ctx context.Context, t *chromedp.Target) (webauthn.AuthenticatorID, error) {
		r, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                webauthn.Ctap2versionCtap21,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			}})
		return r.AuthenticatorID, err
	})
}

// Credentials returns the credentials the virtual authenticator id holds.
func (p *Page) Credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	p.t.Helper()
	return Act(p, func(ctx context.Context, t *chromedp.Target) ([]*webauthn.Credential, error) {
		r, err := cdp.Call(ctx, t, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
		return r.Credentials, err
	})
}

// SetUserVerified sets whether the virtual authenticator id verifies its
// user when asked to (a fingerprint that matches, or not).
func (p *Page) SetUserVerified(id webauthn.AuthenticatorID, verified bool) {
	p.t.Helper()
	p.do(call(webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: id, IsUserVerified: verified}))
}
