package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestRenewInBrowser: "Gia hạn" in headless Chromium, on a phone and on
// a desktop: the banner on the requests page 20 days before the end, the
// renewal page in Vietnamese and English, the renewal approved through
// its form. Every page: a screenshot, axe-core, same-origin requests, no
// overflow, and the Nu HTML Checker.
func TestRenewInBrowser(t *testing.T) {
	e := newEnv(t)
	srv := serveLocal(t, e.app)
	e.now.Store(e.citizen.Certificate.NotAfter.Add(-20 * 24 * time.Hour).UnixNano())
	b := testenv.StartBrowser(t)
	var html []string
	for _, c := range e.sizes() {
		t.Run(c.vp.Name, func(t *testing.T) {
			p := b.Open(t, c.vp, srv.URL+"/app/login", nil)
			testenv.Act(p, chromedp.SendKeys("#cccd", strings.TrimPrefix(c.en.NationalID, "CCCD:")))
			testenv.Act(p, chromedp.SendKeys("#pin", pin))
			testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(p, chromedp.Click("#login"))
			testenv.Act(p, chromedp.WaitVisible(`a[href="/app/renew"]`))
			if got := text(p, "main"); !strings.Contains(got, "ngày nữa là hết hạn") {
				t.Fatalf("after login: %q", got)
			}
			if got := text(p, ".renew-banner"); !strings.Contains(got, "ngày nữa là hết hạn") {
				t.Errorf("the banner says %q", got)
			}
			html = append(html, b.Open(t, c.vp, srv.URL+"/app/", nil).Check("renew-banner"))
			html = append(html, b.Open(t, c.vp, srv.URL+"/app/renew?lang=en", nil).Check("renew-en"))
			html = append(html, b.Open(t, c.vp, srv.URL+"/app/renew?lang=vi&revoke_old=1", nil).Check("renew-revoke"))
			rp := b.Open(t, c.vp, srv.URL+"/app/renew?lang=vi", nil)
			if got := text(rp, ".cost"); got != "Miễn phí" {
				t.Errorf("the renewal fee shows %q", got)
			}
			html = append(html, rp.Check("renew"))
			if got := text(rp, "#old-choice"); !strings.Contains(got, "tự hết hạn") {
				t.Errorf("the old certificate's fate before choosing: %q", got)
			}
			testenv.Act(rp, chromedp.Click("#toggle-old"))
			testenv.Act(rp, chromedp.WaitReady(`#renew-form input[name=revoke_old]`))
			if got := text(rp, "#old-choice"); !strings.Contains(got, "thu hồi ngay") {
				t.Errorf("the old certificate's fate after choosing to revoke it: %q", got)
			}
			testenv.Act(rp, chromedp.SendKeys("#pin", pin))
			testenv.Act(rp, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(rp, chromedp.Click("#renew"))
			testenv.Act(rp, chromedp.WaitVisible("#outcome"))
			if got := text(rp, "#outcome"); !strings.Contains(got, "đã được gia hạn") {
				t.Fatalf("after renewing: %q", got)
			}
			flowTab(t, rp, "renewed")
			rec, err := e.st.GetCertificate(t.Context(), "issuing", c.en.Certificate.SerialNumber.Bytes())
			if err != nil || rec.Status != "revoked" {
				t.Errorf("the old certificate after renewing with its revocation chosen: %+v %v", rec, err)
			}
			testenv.Act(rp, chromedp.Click(".logout button"))
			testenv.Act(rp, chromedp.WaitVisible("#cccd"))
		})
	}
	testenv.CheckHTML(t, html...)
}
