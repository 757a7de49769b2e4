package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
)

// TestRegisterInBrowser: online self-registration in headless Chromium,
// on a phone and on a desktop: from the login page's link, the form
// filled and sent; the reference and secret shown; an officer approves;
// the claim page hands over the second factor, whose QR code — decoded
// from the screenshot of the drawn SVG by a QR reader (gozxing) — is the
// otpauth link beside it. Every page: a screenshot, axe-core, same-origin
// requests, no overflow; the Nu HTML Checker on each page, in both
// languages (the pages after a POST as the server sent them).
func TestRegisterInBrowser(t *testing.T) {
	e := newEnv(t)
	srv := serveLocal(t, e.app)
	br := testenv.StartBrowser(t)
	var html []string
	for i, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			cccd := []string{"001198009001", "001198009002"}[i]
			lp := br.Open(t, vp, srv.URL+"/app/login", nil)
			testenv.Act(lp, chromedp.Click("#to-register"))
			testenv.Act(lp, chromedp.WaitVisible("#register-form"))
			html = append(html, br.Open(t, vp, srv.URL+"/app/register?lang=en", nil).Check("register-en"))
			p := br.Open(t, vp, srv.URL+"/app/register?lang=vi", nil)
			html = append(html, p.Check("register"))
			testenv.Act(p, chromedp.SendKeys("#cccd", cccd))
			testenv.Act(p, chromedp.SendKeys("#name", "Hoàng Thị Thu Hà"))
			testenv.Act(p, chromedp.SetValue("#province", "Đà Nẵng"))
			testenv.Act(p, chromedp.SendKeys("#ward", "Phường Hải Châu"))
			testenv.Act(p, chromedp.SendKeys("#email", "ha@example.vn"))
			testenv.Act(p, chromedp.SendKeys("#pin", "482915"))
			testenv.Act(p, chromedp.SendKeys("#pin2", "482915"))
			testenv.Act(p, chromedp.Click("#consent"))
			testenv.Act(p, chromedp.Click("#register"))
			testenv.Act(p, chromedp.WaitVisible("#ref"))
			flowTab(t, p, "registered")
			ref, secret := text(p, "#ref"), text(p, "#secret")
			if ref == "" || len(secret) < 26 {
				t.Fatalf("the registered page shows %q %q", ref, secret)
			}
			if _, err := e.svc.ApproveRegistration(t.Context(), &signing.ApproveRegistrationRequest{ID: ref, Actor: "officer:o",
				EvidenceKind: signing.EvidenceVNeID, EvidenceRef: "vneid 1"}); err != nil {
				t.Fatal(err)
			}
			testenv.Act(p, chromedp.Click("#to-claim"))
			testenv.Act(p, chromedp.WaitVisible("#claim-form"))
			html = append(html, br.Open(t, vp, srv.URL+"/app/register/claim?ref="+ref, nil).Check("claim"))
			testenv.Act(p, chromedp.SendKeys("#secret", secret))
			testenv.Act(p, chromedp.Click("#claim"))
			testenv.Act(p, chromedp.WaitVisible("#qr"))
			flowTab(t, p, "claim-factor")
			shot := testenv.Act(p, chromedp.Screenshot("#qr"))
			link := testenv.Act(p, chromedp.Evaluate[string](`document.querySelector("#otpauth").getAttribute("href")`))
			if got := stafftest.DecodeQR(t, shot); got != link || !strings.HasPrefix(link, "otpauth://totp/") {
				t.Errorf("the QR code reads %q, the link is %q", got, link)
			}
			e.loginWithFactor(t, br, vp, srv.URL, cccd, link)
		})
	}
	// The pages after a POST, as the server sends them, for the Nu
	// checker (a tab's Check reads its first document).
	dir := t.TempDir()
	for _, l := range []string{"vi", "en"} {
		b := e.browser(t)
		b.get("/app/register?lang=" + l)
		ref, secret := b.registerIn(registerForm(b.csrf(), map[string]string{"vi": "001198009003", "en": "001198009004"}[l], "Võ Văn Kiệt"))
		html = append(html, save(t, dir, "registered-"+l, b.last))
		if _, err := e.svc.ApproveRegistration(t.Context(), &signing.ApproveRegistrationRequest{ID: ref, Actor: "officer:o",
			EvidenceKind: signing.EvidenceCCCDChip}); err != nil {
			t.Fatal(err)
		}
		b.get("/app/register/claim?ref=" + ref)
		csrf := b.csrf()
		b.post("/app/register/claim", map[string][]string{"csrf": {csrf}, "ref": {ref}, "secret": {secret}})
		html = append(html, save(t, dir, "claim-factor-"+l, b.last))
		b.post("/app/register/claim", map[string][]string{"csrf": {csrf}, "ref": {ref}, "secret": {secret}})
		html = append(html, save(t, dir, "claim-claimed-"+l, b.last))
	}
	testenv.CheckHTML(t, html...)
}

// loginWithFactor logs in at base as the citizen with CCCD cccd, the PIN
// the tests choose and a code from the claimed factor's otpauth URI, then
// logs out.
func (e *env) loginWithFactor(t *testing.T, br *testenv.Browser, vp testenv.Viewport, base, cccd, uri string) {
	t.Helper()
	en := &signing.Enrolment{NationalID: "CCCD:" + cccd, TOTPURI: uri}
	lp := br.Open(t, vp, base+"/app/login", nil)
	testenv.Act(lp, chromedp.SendKeys("#cccd", cccd))
	testenv.Act(lp, chromedp.SendKeys("#pin", "482915"))
	testenv.Act(lp, chromedp.SendKeys("#otp", e.otp(t, en)))
	testenv.Act(lp, chromedp.Click("#login"))
	testenv.Act(lp, chromedp.WaitVisible(`a[href="/app/renew"]`))
	testenv.Act(lp, chromedp.Click(".logout button"))
	testenv.Act(lp, chromedp.WaitVisible("#cccd"))
}

// save writes a page to dir and returns its path.
func save(t *testing.T, dir, name, page string) string {
	t.Helper()
	path := filepath.Join(dir, name+".html")
	if err := os.WriteFile(path, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
