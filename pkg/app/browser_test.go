package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/verify"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopBrowser()
	os.Exit(code)
}

// flowTab checks a page reached by a click in the tab p, as Check does
// but for the Nu checker (which reads a tab's first document): a
// screenshot, axe-core, same-origin requests, no overflow.
func flowTab(t *testing.T, p *testenv.Page, name string) {
	t.Helper()
	p.Screenshot(name)
	for _, v := range p.Axe() {
		t.Errorf("%s: axe: %v", name, v)
	}
	for _, r := range p.ForeignRequests() {
		t.Errorf("%s: a request to another origin: %s", name, r)
	}
	for _, o := range p.Overflows() {
		t.Errorf("%s: text overflows: %v", name, o)
	}
}

// serveLocal serves h over plain HTTP on localhost until t ends:
// Chromium counts it a secure context and keeps the app's Secure
// (__Host-) cookies, and trusts no test certificate.
func serveLocal(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	srv.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return srv
}

// signedPDF is the PDF the approved transaction tx signed, after
// checking its one signature verifies (pkg/verify: intact, not failed,
// to the test CA's root).
func (e *env) signedPDF(t *testing.T, tx string) []byte {
	t.Helper()
	ctx := context.Background()
	x, err := e.svc.ClientTransaction(ctx, e.client.ID, tx)
	if err != nil || len(x.Signatures) != 1 {
		t.Fatalf("the approved transaction: %v", err)
	}
	signed := x.Signatures[0].SignedPDF
	rep, err := verify.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), &verify.Options{Roots: e.roots})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Intact == nil || !*rep.Signatures[0].Intact || rep.Signatures[0].Indication == verify.TotalFailed {
		t.Fatalf("the signature made in the browser: %v %+v", err, rep)
	}
	return signed
}

// imageShown waits until the tab's page image has loaded and is drawn.
func imageShown(t *testing.T, p *testenv.Page) {
	t.Helper()
	ok := testenv.Act(p, chromedp.Poll[bool](`(() => { const i = document.querySelector("img.page"); return i && i.complete && i.naturalWidth === 900 })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if !ok {
		t.Fatal("the page image did not load")
	}
}

// text is the text of the element sel.
func text(p *testenv.Page, sel string) string {
	return testenv.Act(p, chromedp.Evaluate[string](`document.querySelector(`+"`"+sel+"`"+`).textContent`))
}

// fetchBytes fetches url in the tab p, as the page's own script would
// (same origin, its cookies), and returns the body.
func fetchBytes(t *testing.T, p *testenv.Page, url string) []byte {
	t.Helper()
	b64 := testenv.Act(p, chromedp.Evaluate[string](`fetch(`+"`"+url+"`"+`).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status))
		.then(b => btoa(String.fromCharCode(...new Uint8Array(b))))`, chromedp.EvalAwaitPromise))
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestAppInBrowser runs the citizen's flows in headless Chromium, on a
// phone and on a desktop, each with its own citizen: log in; the list;
// a SmartCA PDF request paged through (its images drawn from the held
// bytes) and approved through the form (the signature verifies); a
// hash-only request rejected; the history and "Tôi không thực hiện giao
// dịch này" (the next signature is refused); the check page with its
// report. Every page: a screenshot, axe-core's serious and critical rules,
// every request to the app's own origin, no text overflowing its box, and
// the Nu HTML Checker on each page opened as a document.
func TestAppInBrowser(t *testing.T) {
	e := newEnv(t)
	// Plain HTTP on localhost: Chromium counts it a secure context and
	// keeps its Secure (__Host-) cookies, and trusts no test certificate.
	srv := serveLocal(t, e.app)
	b := testenv.StartBrowser(t)
	var html []string
	for _, c := range e.sizes() {
		t.Run(c.vp.Name, func(t *testing.T) {
			ctx := context.Background()
			cccd := strings.TrimPrefix(c.en.NationalID, "CCCD:")
			pdfTx := e.submitPDF(t, c.en, "b-pdf-"+c.vp.Name, "Ký hợp đồng lao động số 12/2026", "hop-dong-lao-dong.pdf", twoPages())
			hashTx := e.submitHash(t, c.en, "b-hash-"+c.vp.Name, "Tờ khai thuế thu nhập cá nhân", "to-khai-thue.xml")

			// Log in through the form.
			p := b.Open(t, c.vp, srv.URL+"/app/login", nil)
			html = append(html, p.Check("login"))
			testenv.Act(p, chromedp.SendKeys("#cccd", cccd))
			testenv.Act(p, chromedp.SendKeys("#pin", pin))
			testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(p, chromedp.Click("#login"))
			testenv.Act(p, chromedp.WaitVisible(`a[href="/app/requests/`+pdfTx+`"]`))

			// The list, as a document of its own.
			lp := b.Open(t, c.vp, srv.URL+"/app/", nil)
			if got := text(lp, "main"); !strings.Contains(got, "Ký hợp đồng lao động số 12/2026") || !strings.Contains(got, "Cổng Dịch vụ công Quốc gia") {
				t.Errorf("the list shows %q", got)
			}
			html = append(html, lp.Check("requests"))
			en := b.Open(t, c.vp, srv.URL+"/app/?lang=en", nil)
			if lang := testenv.Act(en, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "en" {
				t.Errorf("?lang=en gives %q", lang)
			}
			html = append(html, en.Check("requests-en"))
			// Back to Vietnamese for the rest (the switch is kept in a cookie).
			b.Open(t, c.vp, srv.URL+"/app/?lang=vi", nil)

			// The PDF request: page 1, then page 2, each drawn on the server.
			rp := b.Open(t, c.vp, srv.URL+"/app/requests/"+pdfTx, nil)
			imageShown(t, rp)
			if got := text(rp, "#pageno"); got != "Trang 1 / 2" {
				t.Errorf("page number %q", got)
			}
			html = append(html, rp.Check("request-pdf"))
			testenv.Act(rp, chromedp.Click("#next"))
			testenv.Act(rp, chromedp.WaitVisible("#prev")) // only page 2 of 2 has one
			if got := text(rp, "#pageno"); got != "Trang 2 / 2" {
				t.Errorf("page number %q after Next", got)
			}
			imageShown(t, rp)
			flowTab(t, rp, "request-pdf-page2")
			// Approve through the form.
			testenv.Act(rp, chromedp.SendKeys("#pin", pin))
			testenv.Act(rp, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(rp, chromedp.Click("#approve"))
			testenv.Act(rp, chromedp.WaitVisible("#outcome"))
			if got := text(rp, "#outcome"); !strings.Contains(got, "đã được ký") {
				t.Fatalf("after approving: %q", got)
			}
			flowTab(t, rp, "signed")
			// The page after approving links the consent receipt; the
			// browser downloads it, and openssl verifies what it got.
			receiptURL := testenv.Act(rp, chromedp.Evaluate[string](`document.querySelector("a#receipt").href`))
			r, _ := signingtest.OpenReceipt(t, e.root, fetchBytes(t, rp, receiptURL))
			if r.TransactionID != pdfTx || !strings.Contains(r.Device.UserAgent, "Chrome") || r.Device.Address != "127.0.0.1" ||
				len(r.Documents) != 1 || r.Documents[0].Shown != "pages" || r.Documents[0].Name != "hop-dong-lao-dong.pdf" {
				t.Errorf("the receipt downloaded in the browser: %+v", r)
			}
			if receiptURL != srv.URL+"/app/receipts/"+r.ID {
				t.Errorf("the receipt link is %q", receiptURL)
			}
			signed := e.signedPDF(t, pdfTx)

			// The hash-only request says the document was not sent; it is
			// rejected by a POST the browser sends as a navigation, so the
			// page it answers is a document the Nu checker reads.
			hp := b.Open(t, c.vp, srv.URL+"/app/requests/"+hashTx, nil)
			if got := text(hp, ".nopdf"); !strings.Contains(got, "không gửi tài liệu này") {
				t.Errorf("hash-only: %q", got)
			}
			html = append(html, hp.Check("request-hash"))
			token := testenv.Act(hp, chromedp.Evaluate[string](`document.querySelector('form[action$="/reject"] input[name=csrf]').value`))
			rj := b.Open(t, c.vp, srv.URL+"/app/requests/"+hashTx+"/reject", &testenv.Post{ContentType: "application/x-www-form-urlencoded",
				Body: []byte(url.Values{"csrf": {token}}.Encode())})
			if got := text(rj, "#outcome"); !strings.Contains(got, "Không có gì được ký") {
				t.Errorf("after rejecting: %q", got)
			}
			html = append(html, rj.Check("rejected"))

			// The history, and "I did not do this".
			hi := b.Open(t, c.vp, srv.URL+"/app/history", nil)
			if got := text(hi, ".uses"); !strings.Contains(got, "hop-dong-lao-dong.pdf") || !strings.Contains(got, "Cổng Dịch vụ công Quốc gia") {
				t.Errorf("the history shows %q", got)
			}
			// Each signature links its consent receipt.
			if got := testenv.Act(hi, chromedp.Evaluate[string](`document.querySelector(".uses .receipt a").getAttribute("href")`)); got != "/app/receipts/"+r.ID {
				t.Errorf("the history links the receipt %q, want /app/receipts/%s", got, r.ID)
			}
			html = append(html, hi.Check("history"))
			// Installable: the service worker is active for /app/, and its
			// cache, after every page above, holds the shell and nothing else.
			scope := testenv.Act(hi, chromedp.Evaluate[string](`navigator.serviceWorker.ready.then(r => r.scope)`, chromedp.EvalAwaitPromise))
			if scope != srv.URL+"/app/" {
				t.Errorf("service worker scope %q", scope)
			}
			cached := testenv.Act(hi, chromedp.Evaluate[[]string](`caches.keys().then(names => Promise.all(names.map(n => caches.open(n).then(c => c.keys()))))
				.then(lists => lists.flat().map(r => new URL(r.url).pathname).sort())`, chromedp.EvalAwaitPromise))
			if strings.Join(cached, " ") != "/app/manifest.webmanifest /app/static/app.css /app/static/app.js /app/static/icon.svg" {
				t.Errorf("the service worker cached %v, want the shell only", cached)
			}
			testenv.Act(hi, chromedp.Click("button.danger"))
			testenv.Act(hi, chromedp.WaitVisible("#outcome"))
			if got := text(hi, "#outcome"); !strings.Contains(got, "tạm dừng ngay") {
				t.Fatalf("after the button: %q", got)
			}
			flowTab(t, hi, "suspended")
			next := e.submitHash(t, c.en, "b-after-"+c.vp.Name, "Tờ khai khác", "khac.xml")
			if _, err := e.svc.Approve(ctx, c.en.OwnerID, next, pin, e.otp(t, c.en)); err == nil {
				t.Error("a signature after the suspension was made")
			}

			// The check page: the report of the PDF signed above, shown
			// by the upload form, then as a document for the checker.
			cp := b.Open(t, c.vp, srv.URL+"/app/check", nil)
			html = append(html, cp.Check("check"))
			file := filepath.Join(t.TempDir(), "hop-dong-da-ky.pdf")
			if err := os.WriteFile(file, signed, 0o600); err != nil {
				t.Fatal(err)
			}
			testenv.Act(cp, chromedp.SetUploadFiles("#file", []string{file}))
			testenv.Act(cp, chromedp.Click("#check"))
			testenv.Act(cp, chromedp.WaitVisible("#verdict"))
			flowTab(t, cp, "report-form")
			token = testenv.Act(b.Open(t, c.vp, srv.URL+"/app/check", nil), chromedp.Evaluate[string](`document.querySelector('input[name=csrf]').value`))
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			mw.WriteField("csrf", token)
			fw, _ := mw.CreateFormFile("file", "hop-dong-da-ky.pdf")
			fw.Write(signed)
			mw.Close()
			rpt := b.Open(t, c.vp, srv.URL+"/app/check", &testenv.Post{ContentType: mw.FormDataContentType(), Body: body.Bytes()})
			if got := text(rpt, "main"); !strings.Contains(got, "hop-dong-da-ky.pdf") {
				t.Errorf("the report shows %q", got)
			}
			html = append(html, rpt.Check("report"))

			// Log out through the menu.
			testenv.Act(cp, chromedp.Click(".logout button"))
			testenv.Act(cp, chromedp.WaitVisible("#cccd"))
		})
	}
	testenv.CheckHTML(t, html...)
}
