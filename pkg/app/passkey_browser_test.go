package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
)

// passkeyServer is an env with passkeys on, its app and CSC API served on
// plain HTTP at http://localhost:PORT (a secure context to Chromium, and
// the WebAuthn origin the service was configured with before it started).
func passkeyServer(t *testing.T) (*env, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	e := newEnvOn(t, nil, origin)
	mux := http.NewServeMux()
	mux.Handle("/csc/v2/", csc.NewHandler(e.svc, &csc.Options{ConsentURL: app.ConsentPath}))
	mux.Handle(app.Path, e.app)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return e, origin
}

// navigate sends the tab p to u.
func navigate(p *testenv.Page, u string) { testenv.Act(p, chromedp.Navigate(u)) }

// alertText waits for the page's message and returns it.
func alertText(p *testenv.Page) string {
	testenv.Act(p, chromedp.WaitVisible(`main > p[role=alert]`))
	return text(p, `main > p[role=alert]`)
}

// Scripts an attacker runs in their own browser, on a page's passkey form.
const (
	// captureAnswer keeps the answer the page posts (in sessionStorage,
	// which outlives the navigation the post makes).
	captureAnswer = `HTMLFormElement.prototype.submit = (s => function() {
		const c = this.querySelector("input[name=credential]");
		if (c) sessionStorage.setItem("captured", c.value);
		s.call(this);
	})(HTMLFormElement.prototype.submit)`
	passkeyForm = `document.querySelector("form[data-passkey]")`
)

// passkeyVerdicts are the passkey verdicts in the owner's audited
// attempts, in order.
func passkeyVerdicts(t *testing.T, e *env, ownerID string) []string {
	t.Helper()
	evs, err := e.st.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Action != "owner.factors" || ev.Actor != "owner:"+ownerID {
			continue
		}
		var d map[string]any
		json.Unmarshal(ev.Details, &d)
		if d["factor"] == "passkey" {
			out = append(out, d["passkey"].(string))
		}
	}
	return out
}

// TestPasskeysInBrowser runs passkeys in headless Chromium with its
// virtual authenticator (DevTools' WebAuthn domain): the citizen logs in
// with PIN and code, adds a passkey (a wrong PIN first: refused), logs
// out, logs in with the passkey alone, approves a SmartCA PDF request
// with it (the signature verifies) and a CSC oauth2code request (the
// portal's signature verifies). Then the attacks, each refused and each
// an attempt like a wrong PIN: an answer for request A posted for B, an
// authenticator that did not verify its user, a replayed login answer;
// two wrong PINs more lock the owner, and the right passkey is then
// refused too; another owner's passkey answering the neighbour's request.
// Every new page: screenshots at both sizes, axe-core, same-origin
// requests, no overflow, the Nu checker.
func TestPasskeysInBrowser(t *testing.T) {
	e, base := passkeyServer(t)
	ctx := context.Background()
	en := e.citizen
	b := testenv.StartBrowser(t)
	var html []string
	checkBoth := func(name, path string) {
		for _, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
			html = append(html, b.Open(t, vp, base+path, nil).Check(name))
		}
	}

	p := b.Open(t, testenv.Phone, base+"/app/login", nil)
	auth := p.VirtualAuthenticator()
	login := func(en *signing.Enrolment) {
		testenv.Act(p, chromedp.SendKeys("#cccd", strings.TrimPrefix(en.NationalID, "CCCD:")))
		testenv.Act(p, chromedp.SendKeys("#pin", pin))
		testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, en)))
		testenv.Act(p, chromedp.Click("#login"))
		testenv.Act(p, chromedp.WaitVisible(`a[href="/app/passkeys"]`))
	}
	login(en)

	// Adding a passkey takes the PIN and a fresh code: a wrong PIN is refused.
	navigate(p, base+"/app/passkeys")
	testenv.Act(p, chromedp.SendKeys("#name", "Điện thoại của Mai"))
	testenv.Act(p, chromedp.SendKeys("#pin", "000000"))
	testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, en)))
	testenv.Act(p, chromedp.Click("#add"))
	if got := alertText(p); !strings.Contains(got, "Sai") {
		t.Fatalf("adding a passkey with a wrong PIN: %q", got)
	}
	navigate(p, base+"/app/passkeys")
	testenv.Act(p, chromedp.SendKeys("#name", "Điện thoại của Mai"))
	testenv.Act(p, chromedp.SendKeys("#pin", pin))
	testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, en)))
	testenv.Act(p, chromedp.Click("#add"))
	testenv.Act(p, chromedp.WaitVisible(`form[data-passkey=create] .passkey-go`))
	flowTab(t, p, "passkey-create-flow")
	testenv.Act(p, chromedp.Click(".passkey-go"))
	testenv.Act(p, chromedp.WaitVisible(".passkey-name"))
	if got := text(p, ".passkey-name"); got != "Điện thoại của Mai" {
		t.Fatalf("the passkey is listed as %q", got)
	}
	if n := len(p.Credentials(auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials, want 1", n)
	}
	flowTab(t, p, "passkey-added")
	checkBoth("passkeys", "/app/passkeys")
	// The creation page, as the answer to a POST, for the checker.
	for _, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		token := testenv.Act(b.Open(t, vp, base+"/app/passkeys", nil), chromedp.Evaluate[string](`document.querySelector('#add').form.csrf.value`))
		cp := b.Open(t, vp, base+"/app/passkeys/begin", &testenv.Post{ContentType: "application/x-www-form-urlencoded",
			Body: []byte(url.Values{"csrf": {token}, "name": {"Máy tính"}, "pin": {pin}, "otp": {e.otp(t, en)}}.Encode())})
		html = append(html, cp.Check("passkey-create"))
	}

	// Log out, and in again with the passkey alone (no CCCD typed).
	testenv.Act(p, chromedp.Click(".logout button"))
	testenv.Act(p, chromedp.WaitVisible(`form[data-passkey] .passkey-go`))
	flowTab(t, p, "login-passkey")
	checkBoth("login-passkey", "/app/login")
	testenv.Act(p, chromedp.Evaluate[any](captureAnswer))
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	testenv.Act(p, chromedp.WaitVisible(`a[href="/app/passkeys"]`))
	captured := testenv.Act(p, chromedp.Evaluate[string](`sessionStorage.getItem("captured")`))
	if !strings.Contains(captured, "authenticatorData") {
		t.Fatalf("no login answer captured: %q", captured)
	}

	// A SmartCA PDF request approved with the passkey.
	pdfTx := e.submitPDF(t, en, "pk-pdf", "Ký hợp đồng thuê nhà", "hop-dong-thue-nha.pdf", twoPages())
	navigate(p, base+"/app/requests/"+pdfTx)
	testenv.Act(p, chromedp.WaitVisible(`form[data-passkey] .passkey-go`))
	if got := text(p, `form[data-passkey] .passkey-go`); got != "Duyệt bằng khóa truy cập (passkey)" {
		t.Errorf("the passkey button says %q", got)
	}
	checkBoth("request-passkey", "/app/requests/"+pdfTx)
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	testenv.Act(p, chromedp.WaitVisible("#outcome"))
	if got := text(p, "#outcome"); !strings.Contains(got, "đã được ký") {
		t.Fatalf("after approving with the passkey: %q", got)
	}
	e.signedPDF(t, pdfTx)

	// A CSC oauth2code request approved with the passkey.
	portal, callback := e.portal(t, base, http.DefaultClient)
	d := sha256.Sum256([]byte("tờ khai thuế"))
	verifier, challenge := csc.NewPKCE()
	authorize := portal.AuthorizeURL(&csc.OAuthRequest{RedirectURI: callback, State: "s1", Challenge: challenge,
		CredentialID: en.CredentialID, Hashes: [][]byte{d[:]}, Description: "Tờ khai thuế quý 4/2026"})
	navigate(p, authorize)
	testenv.Act(p, chromedp.WaitVisible(`form[data-passkey] .passkey-go`))
	flowTab(t, p, "consent-passkey-flow")
	checkBoth("consent-passkey", app.ConsentPath+"?"+strings.SplitN(authorize, "?", 2)[1])
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	testenv.Act(p, chromedp.WaitVisible("#back"))
	back, err := url.Parse(testenv.Act(p, chromedp.Evaluate[string](`location.href`)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := portal.ExchangeCode(ctx, back.Query().Get("code"), verifier, callback)
	if err != nil {
		t.Fatalf("exchanging the code from %s: %v", back, err)
	}
	sigs, err := portal.SignHash(ctx, en.CredentialID, tr.AccessToken, [][]byte{d[:]}, crypto.SHA256, "")
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(en.Certificate.PublicKey.(*ecdsa.PublicKey), d[:], sigs[0]) {
		t.Error("the signature approved with a passkey through oauth2code does not verify")
	}

	// The attacks. An answer made for A, posted for B.
	txA, txB := e.submitHash(t, en, "pk-a", "Yêu cầu A", "a.xml"), e.submitHash(t, en, "pk-b", "Yêu cầu B", "b.xml")
	navigate(p, base+"/app/requests/"+txA)
	testenv.Act(p, chromedp.Evaluate[any](passkeyForm+`.action = "/app/requests/`+txB+`/approve"`))
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	if got := alertText(p); !strings.Contains(got, "không được chấp nhận") {
		t.Errorf("A's answer posted for B: %q", got)
	}
	for _, id := range []string{txA, txB} {
		if tx, err := e.svc.OwnerTransaction(ctx, en.OwnerID, id); err != nil || tx.Status != "pending" {
			t.Errorf("transaction %s after the misuse: %v %v", id, tx.Status, err)
		}
	}
	// An authenticator that did not verify its user (its page asked for
	// no verification).
	p.SetUserVerified(auth, false)
	navigate(p, base+"/app/requests/"+txA)
	testenv.Act(p, chromedp.Evaluate[any](`(f => { const o = JSON.parse(f.dataset.options); o.userVerification = "discouraged"; f.dataset.options = JSON.stringify(o) })(`+passkeyForm+`)`))
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	if got := alertText(p); !strings.Contains(got, "không xác minh bạn") {
		t.Errorf("a passkey without user verification: %q", got)
	}
	// (This tab went to the portal's origin above, as oauth2code does:
	// its requests are checked on the pages before.)
	p.Screenshot("passkey-no-uv")
	for _, v := range p.Axe() {
		t.Errorf("passkey-no-uv: axe: %v", v)
	}
	for _, o := range p.Overflows() {
		t.Errorf("passkey-no-uv: text overflows: %v", o)
	}
	p.SetUserVerified(auth, true)
	// The login answer captured above, replayed.
	navigate(p, base+"/app/")
	testenv.Act(p, chromedp.Click(".logout button"))
	testenv.Act(p, chromedp.WaitVisible(`form[data-passkey] .passkey-go`))
	testenv.Act(p, chromedp.Evaluate[any](`(f => { f.credential.value = sessionStorage.getItem("captured"); HTMLFormElement.prototype.submit.call(f) })(`+passkeyForm+`)`))
	if got := alertText(p); !strings.Contains(got, "không được chấp nhận") {
		t.Errorf("a replayed login answer: %q", got)
	}
	// Three failures; two wrong PINs make five: the lock holds against
	// the right passkey too.
	// A PIN check refused as busy (the argon2 gate full on a loaded
	// machine) spends no attempt: try again until two are denied.
	for denied := 0; denied < 2; {
		_, err := e.svc.Approve(ctx, en.OwnerID, txA, "000000", e.otp(t, en))
		switch signing.KindOf(err) {
		case signing.KindDenied:
			denied++
		case signing.KindBusy:
			time.Sleep(100 * time.Millisecond)
		case signing.KindLocked:
			denied = 2 // locked already: what the next step needs
		default:
			t.Fatalf("a wrong PIN: %v", err)
		}
	}
	// The login page still shows the replay's refusal: take it away, so
	// that the answer read is the one this click brings, not the last.
	testenv.Act(p, chromedp.Evaluate[any](`document.querySelectorAll("main > p[role=alert]").forEach(e => e.remove())`))
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	if got := alertText(p); !strings.Contains(got, "tạm khoá") {
		t.Errorf("the right passkey while locked: %q", got)
	}
	want := []string{"right", "right", "right", "unbound", "no_uv", "replayed"}
	if got := passkeyVerdicts(t, e, en.OwnerID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the citizen's passkey verdicts %v, want %v", got, want)
	}

	// Another owner's passkey: the neighbour (with a passkey of their own)
	// is shown their request; the page, changed to name no passkey,
	// gets the citizen's passkey from the tab's authenticator.
	nb := e.neighbor
	soft := signingtest.NewAuthenticator(base)
	opts, err := e.svc.BeginPasskeyRegistration(ctx, nb.OwnerID, signing.PINAndCode(pin, e.otp(t, nb)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := soft.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishPasskeyRegistration(ctx, nb.OwnerID, "Khoá của hàng xóm", resp); err != nil {
		t.Fatal(err)
	}
	navigate(p, base+"/app/login")
	login(nb)
	txN := e.submitHash(t, nb, "pk-n", "Yêu cầu của hàng xóm", "n.xml")
	navigate(p, base+"/app/requests/"+txN)
	testenv.Act(p, chromedp.Evaluate[any](`(f => { const o = JSON.parse(f.dataset.options); delete o.allowCredentials; f.dataset.options = JSON.stringify(o) })(`+passkeyForm+`)`))
	testenv.Act(p, chromedp.Click(`form[data-passkey] .passkey-go`))
	if got := alertText(p); !strings.Contains(got, "không được chấp nhận") {
		t.Errorf("another owner's passkey: %q", got)
	}
	if got := passkeyVerdicts(t, e, nb.OwnerID); strings.Join(got, " ") != "unknown" {
		t.Errorf("the neighbour's passkey verdicts %v, want [unknown]", got)
	}
	testenv.CheckHTML(t, html...)
}
