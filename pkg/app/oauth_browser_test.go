package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestOAuth2CodeInBrowser runs CSC oauth2code in headless Chromium, on a
// phone and on a desktop: a portal (a test client and its callback
// server on another origin) sends the browser to oauth2/authorize; the
// owner logs in on the way, reads the consent page (screenshot, axe-core,
// every request to kysod's origin, no overflow, the Nu checker) and
// approves; the browser lands on the portal's callback with the code and
// the state (so the consent page's form-action lets the redirect through,
// and only to that origin); the portal exchanges the code and signs with
// the token as the SAD, and the signature verifies.
func TestOAuth2CodeInBrowser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.Handle("/csc/v2/", csc.NewHandler(e.svc, &csc.Options{ConsentURL: app.ConsentPath}))
	mux.Handle(app.Path, e.app)
	// Plain HTTP on localhost, as TestAppInBrowser explains.
	srv := serveLocal(t, mux)
	portal, callback := e.portal(t, srv.URL, srv.Client())
	// info names the oauth2 server, as oauth2code requires: here, where
	// it was asked.
	resp, err := srv.Client().Get(srv.URL + "/csc/v2/info")
	if err != nil {
		t.Fatal(err)
	}
	var info csc.InfoResponse
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.OAuth2 != srv.URL+"/csc/v2" {
		t.Fatalf("info's oauth2 = %q (%v), want %q", info.OAuth2, err, srv.URL+"/csc/v2")
	}
	b := testenv.StartBrowser(t)
	var html []string
	for _, c := range e.sizes() {
		t.Run(c.vp.Name, func(t *testing.T) {
			d := sha256.Sum256([]byte("tờ khai " + c.vp.Name))
			verifier, challenge := csc.NewPKCE()
			state := "trạng thái/" + c.vp.Name + "&x=<1>"
			authorize := portal.AuthorizeURL(&csc.OAuthRequest{RedirectURI: callback, State: state, Challenge: challenge,
				CredentialID: c.en.CredentialID, Hashes: [][]byte{d[:]},
				Description: `Tờ khai thuế quý 4/2026 <script>alert(1)</script>`})

			// No session: the login comes first, then the consent page.
			p := b.Open(t, c.vp, authorize, nil)
			defer func() { // log out, for the next size's citizen
				lo := b.Open(t, c.vp, srv.URL+"/app/", nil)
				testenv.Act(lo, chromedp.Click(".logout button"))
				testenv.Act(lo, chromedp.WaitVisible("#cccd"))
			}()
			testenv.Act(p, chromedp.SendKeys("#cccd", strings.TrimPrefix(c.en.NationalID, "CCCD:")))
			testenv.Act(p, chromedp.SendKeys("#pin", pin))
			testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(p, chromedp.Click("#login"))
			testenv.Act(p, chromedp.WaitVisible("#approve"))
			if got := text(p, ".description"); got != `Tờ khai thuế quý 4/2026 <script>alert(1)</script>` {
				t.Errorf("the description shows %q", got)
			}
			if got := text(p, ".portal"); got != "Cổng Thuế điện tử" {
				t.Errorf("the portal shows %q", got)
			}
			if got := text(p, ".hash"); got != fingerprintOf(d[:]) {
				t.Errorf("the fingerprint shows %q", got)
			}
			if n := testenv.Act(p, chromedp.Evaluate[int](`document.querySelectorAll("script:not([src])").length`)); n != 0 {
				t.Errorf("%d inline scripts on the consent page", n)
			}
			flowTab(t, p, "consent-flow")
			// The consent page as a document of its own, for the checker.
			q := strings.SplitN(authorize, "?", 2)[1]
			html = append(html, b.Open(t, c.vp, srv.URL+app.ConsentPath+"?"+q, nil).Check("consent"))

			testenv.Act(p, chromedp.SendKeys("#pin", pin))
			testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(p, chromedp.Click("#approve"))
			// The portal's page: the browser followed the redirect there.
			testenv.Act(p, chromedp.WaitVisible("#back"))
			landed := testenv.Act(p, chromedp.Evaluate[string](`location.href`))
			back, err := url.Parse(landed)
			if err != nil {
				t.Fatal(err)
			}
			if back.Query().Get("state") != state {
				t.Errorf("state came back as %q, want %q", back.Query().Get("state"), state)
			}
			tr, err := portal.ExchangeCode(ctx, back.Query().Get("code"), verifier, callback)
			if err != nil {
				t.Fatalf("exchanging the code from %s: %v", landed, err)
			}
			sigs, err := portal.SignHash(ctx, c.en.CredentialID, tr.AccessToken, [][]byte{d[:]}, crypto.SHA256, "")
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(c.en.Certificate.PublicKey.(*ecdsa.PublicKey), d[:], sigs[0]) {
				t.Error("the signature does not verify")
			}
		})
	}
	testenv.CheckHTML(t, html...)
}

// portal is a CSC relying party, "Cổng Thuế điện tử", of kysod at base:
// its client and its callback, a page on another origin (localhost)
// that says "ok" in #back.
func (e *env) portal(t *testing.T, base string, hc *http.Client) (*csc.Client, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html lang="vi"><title>Cổng</title><p id="back">ok</p></html>`))
	}))
	t.Cleanup(srv.Close)
	callback := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/cb"
	cred, err := e.svc.CreateClient(context.Background(), "Cổng Thuế điện tử", "", "test", signing.WithRedirectURIs(callback))
	if err != nil {
		t.Fatal(err)
	}
	return &csc.Client{BaseURL: base + "/csc/v2", ClientID: cred.ID, ClientSecret: cred.Secret, HTTPClient: hc}, callback
}

// sized is a window size and the citizen who uses the app at that size.
type sized struct {
	vp testenv.Viewport
	en *signing.Enrolment
}

// sizes are the browser tests' sizes, each with its own citizen: the
// citizen on a phone, the neighbour on a desktop.
func (e *env) sizes() []sized {
	return []sized{{testenv.Phone, e.citizen}, {testenv.Desktop, e.neighbor}}
}
