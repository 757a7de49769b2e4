package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// TestHeaders: every answer has the strict CSP and the cookie rules; the
// shell's assets are the app's own.
func TestHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	resp, err := b.c.Get(e.srv.URL + "/app/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); got != app.CSP || strings.Contains(got, "unsafe") {
		t.Errorf("CSP %q", got)
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(app.CSP, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", resp.Header)
	}
	var csrf *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == app.CSRFCookie {
			csrf = c
		}
	}
	if csrf == nil || !csrf.Secure || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Path != "/" || csrf.Domain != "" {
		t.Errorf("CSRF cookie %+v", csrf)
	}
	for _, p := range []string{"/app/static/app.css", "/app/static/app.js", "/app/sw.js", "/app/manifest.webmanifest", "/app/static/icon.svg"} {
		status, body := b.get(p)
		body = strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, "") // a name, not a place
		if status != http.StatusOK || len(body) == 0 || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("%s: HTTP %d, or it names another origin", p, status)
		}
	}
}

// TestLoginSession: the right factors give a session cookie (Secure,
// HttpOnly, SameSite=Strict, __Host-); logout ends it on the server, so
// the copied cookie is worthless; the idle and absolute timeouts end it.
func TestLoginSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	if status, _ := b.get("/app/"); status != http.StatusSeeOther {
		t.Fatalf("the requests page without a session: HTTP %d, want a redirect to the login", status)
	}
	// Session fixation: a session cookie planted before login is not
	// what login hands out, and is not accepted.
	u, _ := url.Parse(e.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: app.SessionCookie, Value: "planted-by-an-attacker", Path: "/", Secure: true}})
	csrfBefore := b.cookie(app.CSRFCookie)
	b.login(e.citizen)
	sess := b.cookie(app.SessionCookie)
	if sess == "" || sess == "planted-by-an-attacker" {
		t.Fatalf("session cookie %q after login", sess)
	}
	if c := b.cookie(app.CSRFCookie); c == csrfBefore {
		t.Error("the CSRF cookie was not renewed at login")
	}
	if status, body := b.get("/app/"); status != http.StatusOK || !strings.Contains(body, "Yêu cầu ký đang chờ") {
		t.Fatalf("requests page: HTTP %d", status)
	}
	// Another browser holding a copy of the cookie works until logout...
	thief := e.browser(t)
	thief.jar.SetCookies(u, []*http.Cookie{{Name: app.SessionCookie, Value: sess, Path: "/", Secure: true}})
	if status, _ := thief.get("/app/"); status != http.StatusOK {
		t.Fatalf("copied cookie before logout: HTTP %d", status)
	}
	if status, loc, _ := b.post("/app/logout", url.Values{"csrf": {b.csrf()}}); status != http.StatusSeeOther || loc != "/app/login" {
		t.Fatalf("logout: HTTP %d to %s", status, loc)
	}
	// ...and not after: the token is revoked in the database.
	thief.jar.SetCookies(u, []*http.Cookie{{Name: app.SessionCookie, Value: sess, Path: "/", Secure: true}})
	if status, _ := thief.get("/app/"); status != http.StatusSeeOther {
		t.Errorf("copied cookie after logout: HTTP %d, want a redirect to the login", status)
	}

	t.Run("idle", func(t *testing.T) {
		b := e.browser(t)
		b.login(e.citizen)
		e.now.Add(int64(app.DefaultIdleTimeout - time.Minute))
		if status, _ := b.get("/app/"); status != http.StatusOK {
			t.Fatalf("within the idle timeout: HTTP %d", status)
		}
		e.now.Add(int64(app.DefaultIdleTimeout + time.Second))
		if status, _ := b.get("/app/"); status != http.StatusSeeOther {
			t.Errorf("after the idle timeout: HTTP %d, want a redirect to the login", status)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		b := e.browser(t)
		b.login(e.citizen)
		for range 7 { // used every 9 minutes: never idle, 63 minutes in all
			e.now.Add(int64(9 * time.Minute))
			b.get("/app/")
		}
		if status, _ := b.get("/app/"); status != http.StatusSeeOther {
			t.Errorf("after the absolute timeout: HTTP %d, want a redirect to the login", status)
		}
	})
	t.Run("forged cookie", func(t *testing.T) {
		b := e.browser(t)
		b.login(e.citizen)
		v := []byte(b.cookie(app.SessionCookie))
		v[len(v)/2] ^= 1
		b.jar.SetCookies(u, []*http.Cookie{{Name: app.SessionCookie, Value: string(v), Path: "/", Secure: true}})
		if status, _ := b.get("/app/"); status != http.StatusSeeOther {
			t.Errorf("a changed cookie: HTTP %d", status)
		}
	})
}

// TestCSRF: a POST from another site, or without the token, or with the
// token of another browser, is refused, and does nothing.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.citizen)
	tx := e.submitHash(t, e.citizen, "csrf-1", "Tờ khai", "to-khai.xml")
	b.get("/app/requests/" + tx)
	token := b.csrf()
	other := e.browser(t)
	other.get("/app/login")
	for _, c := range []struct {
		name         string
		form         url.Values
		origin, site string
	}{
		{"cross-site POST with the right token", url.Values{"csrf": {token}}, "https://evil.example", "cross-site"},
		{"cross-site by Sec-Fetch-Site alone", url.Values{"csrf": {token}}, "", "cross-site"},
		{"same-site sibling", url.Values{"csrf": {token}}, "", "same-site"},
		{"no token", url.Values{}, e.srv.URL, "same-origin"},
		{"another browser's token", url.Values{"csrf": {other.csrf()}}, e.srv.URL, "same-origin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, _ := b.postFrom("/app/requests/"+tx+"/reject", c.form, c.origin, c.site)
			if status != http.StatusForbidden {
				t.Errorf("HTTP %d, want 403", status)
			}
		})
	}
	list, err := e.svc.OwnerTransactions(context.Background(), e.citizen.OwnerID, true)
	if err != nil || len(list) != 1 {
		t.Fatalf("the request is no longer pending after refused POSTs: %v, %d", err, len(list))
	}
	// Login CSRF: a cross-site login form is refused too.
	if status, _, _ := other.postFrom("/app/login", url.Values{"csrf": {other.csrf()}, "cccd": {"079203001234"}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}},
		"https://evil.example", "cross-site"); status != http.StatusForbidden {
		t.Errorf("cross-site login: HTTP %d", status)
	}
	// A token from before login is no good after it (bound to the session).
	pre := e.browser(t)
	pre.get("/app/login")
	preToken := pre.csrf()
	pre.login(e.citizen)
	if status, _, _ := pre.post("/app/requests/"+tx+"/reject", url.Values{"csrf": {preToken}}); status != http.StatusForbidden {
		t.Errorf("a pre-login token after login: HTTP %d", status)
	}
}

// TestApprovePDF: the request page shows the portal, the description, the
// document's name and fingerprint, and pages through PNGs drawn from the
// held bytes; approving with PIN and code signs through the one path and
// the signed PDF verifies.
func TestApprovePDF(t *testing.T) {
	e := newEnv(t)
	doc := twoPages()
	tx := e.submitPDF(t, e.citizen, "pdf-1", "Ký hợp đồng lao động", "hop-dong.pdf", doc)
	b := e.browser(t)
	b.login(e.citizen)
	_, body := b.get("/app/")
	for _, want := range []string{"Cổng Dịch vụ công Quốc gia", "Ký hợp đồng lao động", "/app/requests/" + tx} {
		if !strings.Contains(body, want) {
			t.Errorf("the requests page lacks %q", want)
		}
	}
	sum := sha256.Sum256(doc)
	fp := fmt.Sprintf("%X %X", sum[0:2], sum[2:4])
	status, body := b.get("/app/requests/" + tx)
	if status != http.StatusOK {
		t.Fatalf("request page: HTTP %d\n%s", status, body)
	}
	for _, want := range []string{"hop-dong.pdf", fp, "Trang 1 / 2", "/app/requests/" + tx + "/docs/0/pages/1", "?doc=0&amp;page=2"} {
		if !strings.Contains(body, want) {
			t.Errorf("the request page lacks %q", want)
		}
	}
	for pg := 1; pg <= 2; pg++ {
		resp, err := b.c.Get(fmt.Sprintf("%s/app/requests/%s/docs/0/pages/%d", e.srv.URL, tx, pg))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Header.Get("Cache-Control") != "no-store" || img.Bounds().Dx() != 900 {
			t.Fatalf("page %d: %v, %s", pg, err, resp.Header.Get("Cache-Control"))
		}
	}
	if status, _ := b.get("/app/requests/" + tx + "/docs/0/pages/3"); status != http.StatusNotFound {
		t.Errorf("page 3 of 2: HTTP %d", status)
	}
	b.get("/app/requests/" + tx)
	// A wrong code is refused, with the one answer for every wrong factor.
	status, _, body = b.post("/app/requests/"+tx+"/approve", url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {"000000"}})
	if status != http.StatusForbidden || !strings.Contains(body, "Sai số CCCD, mã PIN hoặc mã xác thực") {
		t.Fatalf("wrong code: HTTP %d", status)
	}
	b.get("/app/requests/" + tx)
	status, _, body = b.post("/app/requests/"+tx+"/approve", url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}})
	if status != http.StatusOK || !strings.Contains(body, "đã được ký") {
		t.Fatalf("approve: HTTP %d\n%s", status, body)
	}
	x, err := e.svc.ClientTransaction(context.Background(), e.client.ID, tx)
	if err != nil || len(x.Signatures) != 1 || len(x.Signatures[0].SignedPDF) == 0 {
		t.Fatalf("the transaction after approval: %v", err)
	}
	signed := x.Signatures[0].SignedPDF
	rep, err := verify.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), &verify.Options{Roots: e.roots})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Intact == nil || !*rep.Signatures[0].Intact || rep.Signatures[0].Indication == verify.TotalFailed {
		t.Fatalf("the signed PDF: %v %+v", err, rep)
	}
	// The check page reads it back, in Vietnamese.
	b.get("/app/check")
	status, report := b.upload("signed.pdf", signed)
	if status != http.StatusOK || !strings.Contains(report, "signed.pdf") || !strings.Contains(report, `lang="vi"`) || !strings.Contains(report, "id=\"verdict\"") {
		t.Errorf("check page: HTTP %d\n%s", status, report)
	}
}

// upload posts a file to the check page, CSRF field first.
func (b *browser) upload(name string, doc []byte) (int, string) {
	b.t.Helper()
	status, _, body := b.uploadTo("/app/check", name, doc)
	return status, body
}

// uploadTo posts a file to path as the app's upload forms do, the CSRF
// field of the last page first; the status, Location and body.
func (b *browser) uploadTo(path, name string, doc []byte) (int, string, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", b.csrf())
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(doc)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.e.srv.URL)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	b.last = out.String()
	return resp.StatusCode, resp.Header.Get("Location"), b.last
}

// TestCheckBounded: the check page refuses a file over the engine's
// limit and a file that is no signed PDF, and needs its CSRF token.
func TestCheckBounded(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.get("/app/check")
	if status, _ := b.upload("big.pdf", bytes.Repeat([]byte("%PDF-"), 1<<20/5+10)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: HTTP %d", status)
	}
	b.get("/app/check")
	if status, body := b.upload("plain.pdf", twoPages()); status != http.StatusBadRequest || !strings.Contains(body, "không có chữ ký") {
		t.Errorf("unsigned: HTTP %d", status)
	}
	other := e.browser(t)
	other.get("/app/check")
	b.last = other.last // another browser's token
	if status, _ := b.upload("plain.pdf", twoPages()); status != http.StatusForbidden {
		t.Errorf("another browser's token: HTTP %d", status)
	}
}

// TestHashOnlyAndReject: a request of hashes only says plainly that the
// portal did not send the document; rejecting it signs nothing.
func TestHashOnlyAndReject(t *testing.T) {
	e := newEnv(t)
	tx := e.submitHash(t, e.citizen, "hash-1", "Tờ khai thuế", "to-khai.xml")
	b := e.browser(t)
	b.login(e.citizen)
	_, body := b.get("/app/requests/" + tx)
	if !strings.Contains(body, "Cổng dịch vụ không gửi tài liệu này") || strings.Contains(body, "/docs/0/pages/") {
		t.Errorf("the hash-only page does not say the document was not sent:\n%s", body)
	}
	status, _, body := b.post("/app/requests/"+tx+"/reject", url.Values{"csrf": {b.csrf()}})
	if status != http.StatusOK || !strings.Contains(body, "Không có gì được ký") {
		t.Fatalf("reject: HTTP %d", status)
	}
	x, _ := e.svc.ClientTransaction(context.Background(), e.client.ID, tx)
	if x.Status != "rejected" {
		t.Errorf("status %s after reject", x.Status)
	}
}

// TestAnotherOwnersRequest: the neighbour's request, named by its ID, is
// not found — neither its page, nor its pages' images, nor approval.
func TestAnotherOwnersRequest(t *testing.T) {
	e := newEnv(t)
	tx := e.submitPDF(t, e.neighbor, "theirs", "Hợp đồng của người khác", "bi-mat.pdf", twoPages())
	b := e.browser(t)
	b.login(e.citizen)
	for _, p := range []string{"/app/requests/" + tx, "/app/requests/" + tx + "/docs/0/pages/1"} {
		if status, body := b.get(p); status != http.StatusNotFound || strings.Contains(body, "bi-mat") {
			t.Errorf("%s: HTTP %d", p, status)
		}
	}
	b.get("/app/")
	for _, action := range []string{"approve", "reject"} {
		if status, _, _ := b.post("/app/requests/"+tx+"/"+action, url.Values{"csrf": {b.csrf()}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}}); status != http.StatusNotFound {
			t.Errorf("%s: HTTP %d", action, status)
		}
	}
	x, _ := e.svc.ClientTransaction(context.Background(), e.client.ID, tx)
	if x.Status != "pending" {
		t.Errorf("the neighbour's request is %s", x.Status)
	}
}

// TestHostileText: a description and document names a portal wrote with
// HTML, control and bidirectional characters (stored before the API's
// edge refused them, as an old database may hold) are shown inert:
// escaped for HTML, and every such character written visibly.
func TestHostileText(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.citizen)
	// The service refuses them at Submit (display.Text)...
	_, _, err := e.svc.Submit(context.Background(), &signing.SubmitRequest{ClientID: e.client.ID, ClientRef: "h0", NationalID: e.citizen.NationalID,
		Description: "Ký\x1b[2J", Documents: []signing.Document{{DocID: "a.pdf", Hash: make([]byte, 32)}}})
	if err == nil {
		t.Fatal("a description with an escape sequence was accepted")
	}
	// ...and HTML is text like any other: it must come out inert.
	tx := e.submitHash(t, e.citizen, "h1", `<script>alert(1)</script><img src=x onerror=alert(2)>"'`, `<b>hoa-don</b>.pdf`)
	_, body := b.get("/app/requests/" + tx)
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>hoa-don"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&lt;b&gt;hoa-don&lt;/b&gt;.pdf") {
		t.Errorf("the hostile text is not shown escaped:\n%s", body)
	}
	// A row written before the edge refused control and bidirectional
	// characters: stored as is, shown with each written visibly.
	row, err := e.st.GetTransaction(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	old := *row
	old.ID, old.ClientRef = "tx-old-row", "old-row"
	old.Description = "Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\nfake line"
	old.Documents = bytes.Replace(row.Documents, []byte(`\u003cb\u003ehoa-don\u003c/b\u003e.pdf`), []byte(`invoice\u202efdp.exe`), 1)
	if bytes.Equal(old.Documents, row.Documents) {
		t.Fatalf("the document name is not where the test looks: %s", row.Documents)
	}
	if _, _, err := e.st.CreateTransaction(context.Background(), &old); err != nil {
		t.Fatal(err)
	}
	_, body = b.get("/app/requests/tx-old-row")
	for _, bad := range []string{"\x1b", "\u202e", "\nfake line"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q raw", bad)
		}
	}
	for _, want := range []string{`Ký\x1b[2J`, `invoice\u202efdp.exe`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not show %q visibly:\n%s", want, body)
		}
	}
}

// TestLockoutFromApp: wrong logins through the app count towards the
// owners' lock, and while it holds even the right factors are refused,
// from the app as from the owners' API (the one rule).
func TestLockoutFromApp(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for i := range 5 {
		b.get("/app/login")
		status, _, body := b.post("/app/login", url.Values{"csrf": {b.csrf()}, "cccd": {"079203001234"}, "pin": {"246813"}, "otp": {e.otp(t, e.citizen)}})
		if status != http.StatusForbidden || !strings.Contains(body, "Sai số CCCD") {
			t.Fatalf("wrong PIN %d: HTTP %d", i+1, status)
		}
	}
	b.get("/app/login")
	status, _, body := b.post("/app/login", url.Values{"csrf": {b.csrf()}, "cccd": {"079203001234"}, "pin": {pin}, "otp": {e.otp(t, e.citizen)}})
	if status != http.StatusTooManyRequests || !strings.Contains(body, "tạm khoá") {
		t.Fatalf("the right factors under the lock: HTTP %d", status)
	}
	if _, _, err := e.svc.OwnerLogin(context.Background(), e.citizen.NationalID, pin, e.otp(t, e.citizen)); err == nil {
		t.Error("the owners' API logged in under the lock the app set")
	}
}

// TestHistoryAndDisown: the history lists the signature with its portal,
// document and hash; "Tôi không thực hiện giao dịch này" suspends the
// certificate at once, is audited, and the next signature is refused.
func TestHistoryAndDisown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := e.submitHash(t, e.citizen, "hist-1", "Tờ khai", "to-khai-2026.xml")
	if _, err := e.svc.Approve(ctx, e.citizen.OwnerID, tx, pin, e.otp(t, e.citizen)); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.login(e.citizen)
	_, body := b.get("/app/history")
	h := sha256.Sum256([]byte("hist-1"))
	for _, want := range []string{"Cổng Dịch vụ công Quốc gia", "to-khai-2026.xml", fmt.Sprintf("%X %X", h[0:2], h[2:4]), "Tôi không thực hiện giao dịch này", "Đang hoạt động"} {
		if !strings.Contains(body, want) {
			t.Errorf("the history lacks %q", want)
		}
	}
	// The neighbour's history does not show it.
	nb := e.browser(t)
	nb.login(e.neighbor)
	if _, nbody := nb.get("/app/history"); strings.Contains(nbody, "to-khai-2026.xml") {
		t.Error("the neighbour sees the citizen's signature")
	}
	// The neighbour cannot suspend the citizen's certificate.
	cred := e.citizen.CredentialID
	if status, _, _ := nb.post("/app/disown", url.Values{"csrf": {nb.csrf()}, "credential": {cred}, "event": {"1"}}); status != http.StatusNotFound {
		t.Errorf("the neighbour's disown of the citizen's credential: HTTP %d", status)
	}
	b.get("/app/history")
	m := regexp.MustCompile(`name="event" value="(\d+)"`).FindStringSubmatch(b.last)
	if m == nil {
		t.Fatal("no event in the history's form")
	}
	status, _, body := b.post("/app/disown", url.Values{"csrf": {b.csrf()}, "credential": {cred}, "event": {m[1]}})
	if status != http.StatusOK || !strings.Contains(body, "tạm dừng ngay") {
		t.Fatalf("disown: HTTP %d\n%s", status, body)
	}
	if _, body := b.get("/app/history"); !strings.Contains(body, "Đã tạm dừng") {
		t.Error("the history does not show the certificate suspended")
	}
	// The next signature is refused by the pre-signing check.
	next := e.submitHash(t, e.citizen, "hist-2", "Tờ khai khác", "khac.xml")
	if _, err := e.svc.Approve(ctx, e.citizen.OwnerID, next, pin, e.otp(t, e.citizen)); err == nil {
		t.Fatal("a signature after the suspension was made")
	}
	// Audited: the owner's statement, and the CA's suspension.
	events, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var disowned, suspended bool
	for _, ev := range events {
		disowned = disowned || (ev.Action == "owner.disown" && ev.Outcome == "ok" && ev.Actor == "owner:"+e.citizen.OwnerID && strings.Contains(string(ev.Details), `"disputed_event":`+m[1]))
		suspended = suspended || (ev.Action == "cert.suspend" && ev.Outcome == "ok")
	}
	if !disowned || !suspended {
		t.Errorf("audit: owner.disown %v, cert.suspend %v", disowned, suspended)
	}
}

// TestRateLimits: the login, as the owners' API's, passes the per-source
// and per-national-ID buckets before any argon2 work: over them, 429
// with Retry-After, and the owner's attempts are not spent.
func TestRateLimits(t *testing.T) {
	e := newEnvWith(t, func(o *app.Options) {
		o.Limits = &httpedge.Limits{Source: httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: 3}, nil),
			Client: httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: 100}, nil)}
	})
	b := e.browser(t)
	b.get("/app/login")
	token := b.csrf()
	var last int
	for range 4 {
		last, _, _ = b.post("/app/login", url.Values{"csrf": {token}, "cccd": {"079203001234"}, "pin": {"246813"}, "otp": {"000000"}})
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("the 4th login from one address over a burst of 3: HTTP %d", last)
	}
	o, err := e.st.GetOwner(context.Background(), e.citizen.OwnerID)
	if err != nil || o.PINFailures != 3 {
		t.Errorf("attempts counted: %d, want the 3 let through (%v)", o.PINFailures, err)
	}
}
