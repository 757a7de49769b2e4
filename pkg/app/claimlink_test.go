package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// deadLinks registers and approves a citizen through b, reissues the
// claim link (the first secret replaced) and lets the second expire,
// and returns the reference, the replaced and the expired secrets.
func (e *env) deadLinks(t *testing.T, b *browser, cccd string) (ref, replaced, expired string) {
	t.Helper()
	ctx := context.Background()
	b.get("/app/register")
	ref, replaced = b.registerIn(registerForm(b.csrf(), cccd, "Ngô Thị Lan"))
	if _, err := e.svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: ref, Actor: "officer:o",
		EvidenceKind: signing.EvidenceCCCDCard}); err != nil {
		t.Fatal(err)
	}
	re, err := e.svc.ReissueClaim(ctx, &signing.ReissueClaimRequest{ID: ref, Actor: "officer:o"})
	if err != nil {
		t.Fatal(err)
	}
	e.now.Store(e.clock().Add(signing.DefaultClaimLifetime + time.Minute).UnixNano())
	return ref, replaced, re.ClaimSecret
}

// TestDeadClaimLinks: a claim link an officer's reissue replaced, and one
// past its end, claim nothing and say so (410) — what happened and what
// to do, in Vietnamese and in English — never showing the second factor;
// the link reissued after that claims once.
func TestDeadClaimLinks(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	ref, replaced, expired := e.deadLinks(t, b, "001198007201")
	claim := func(secret, lang string) (int, string) {
		b.get("/app/register/claim?lang=" + lang + "&ref=" + url.QueryEscape(ref))
		status, _, body := b.post("/app/register/claim", url.Values{"csrf": {b.csrf()}, "ref": {ref}, "secret": {secret}})
		return status, body
	}
	for _, c := range []struct{ name, secret, lang, says string }{
		{"replaced", replaced, "vi", "đã được thay bằng một đường dẫn mới"},
		{"replaced", replaced, "en", "was replaced by a new one"},
		{"expired", expired, "vi", "đã hết hạn"},
		{"expired", expired, "en", "has expired"},
	} {
		if status, body := claim(c.secret, c.lang); status != http.StatusGone || !strings.Contains(body, c.says) || strings.Contains(body, "otpauth") {
			t.Errorf("the %s link (%s): HTTP %d\n%s", c.name, c.lang, status, body)
		}
	}
	re, err := e.svc.ReissueClaim(context.Background(), &signing.ReissueClaimRequest{ID: ref, Actor: "officer:o"})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := claim(expired, "vi"); status != http.StatusGone || !strings.Contains(body, "thay bằng") {
		t.Errorf("the expired link once replaced: HTTP %d\n%s", status, body)
	}
	if status, body := claim(re.ClaimSecret, "vi"); status != http.StatusOK || !otpauthLink.MatchString(body) {
		t.Errorf("the link reissued: HTTP %d\n%s", status, body)
	}
}

// TestDeadClaimLinksInBrowser: the pages of a replaced and of an expired
// claim link in headless Chromium, on a phone and a desktop: a
// screenshot, axe-core, same-origin requests, no overflow; the Nu HTML
// Checker on both, in both languages.
func TestDeadClaimLinksInBrowser(t *testing.T) {
	e := newEnv(t)
	srv := serveLocal(t, e.app)
	br := testenv.StartBrowser(t)
	for i, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			ref, replaced, expired := e.deadLinks(t, e.browser(t), []string{"001198007211", "001198007212"}[i])
			for _, c := range []struct{ name, secret string }{{"replaced", replaced}, {"linkexpired", expired}} {
				p := br.Open(t, vp, srv.URL+"/app/register/claim?ref="+ref, nil)
				testenv.Act(p, chromedp.SendKeys("#secret", c.secret))
				testenv.Act(p, chromedp.Click("#claim"))
				testenv.Act(p, chromedp.WaitVisible("#status"))
				flowTab(t, p, "claim-"+c.name)
				if got := text(p, "#status"); !strings.Contains(got, map[string]string{"replaced": "thay bằng", "linkexpired": "hết hạn"}[c.name]) {
					t.Errorf("the %s page says %q", c.name, got)
				}
			}
		})
	}
	dir := t.TempDir()
	var html []string
	for _, l := range []string{"vi", "en"} {
		b := e.browser(t)
		ref, replaced, expired := e.deadLinks(t, b, map[string]string{"vi": "001198007213", "en": "001198007214"}[l])
		for name, secret := range map[string]string{"replaced": replaced, "linkexpired": expired} {
			b.get("/app/register/claim?lang=" + l + "&ref=" + ref)
			b.post("/app/register/claim", url.Values{"csrf": {b.csrf()}, "ref": {ref}, "secret": {secret}})
			html = append(html, save(t, dir, "claim-"+name+"-"+l, b.last))
		}
	}
	testenv.CheckHTML(t, html...)
}
