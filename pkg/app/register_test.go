package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

var (
	refField    = regexp.MustCompile(`<code id="ref">([^<]+)</code>`)
	secretField = regexp.MustCompile(`<code id="secret">([^<]+)</code>`)
	otpauthLink = regexp.MustCompile(`href="(otpauth://totp/[^"]+)"`)
)

// registerForm is a registration as the form sends it.
func registerForm(csrf, cccd, name string) url.Values {
	return url.Values{"csrf": {csrf}, "cccd": {cccd}, "name": {name}, "province": {"Hà Nội"}, "ward": {"Phường Hoàn Kiếm"},
		"phone": {"0901234567"}, "pin": {"482915"}, "pin2": {"482915"}, "consent": {"1"}}
}

// registerIn registers through the form and returns the reference and
// claim secret the page shows.
func (b *browser) registerIn(form url.Values) (ref, secret string) {
	b.t.Helper()
	status, _, body := b.post("/app/register", form)
	if status != http.StatusCreated {
		b.t.Fatalf("register: HTTP %d\n%s", status, body)
	}
	r, s := refField.FindStringSubmatch(body), secretField.FindStringSubmatch(body)
	if r == nil || s == nil {
		b.t.Fatalf("the registered page shows no reference or secret:\n%s", body)
	}
	return r[1], s[1]
}

// TestRegisterPages: the login page links the registration; the form
// refuses a post without consent, with two different PINs, with a bad
// CCCD (saying why), from another origin or without its CSRF token; a
// registration shows its reference and secret once, the citizen's name
// escaped; the claim page says a wrong secret is wrong, a pending
// registration waits, a refusal's reason (escaped), and once approved
// hands over the second factor once — with which, and the PIN chosen,
// the citizen logs in; another registration's secret claims nothing.
func TestRegisterPages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	b := e.browser(t)
	if _, body := b.get("/app/login"); !strings.Contains(body, `href="/app/register"`) || !strings.Contains(body, `href="/app/register/claim"`) {
		t.Fatalf("the login page does not link the registration:\n%s", body)
	}
	if status, _ := b.get("/app/register"); status != http.StatusOK || !strings.Contains(b.last, `name="consent"`) || !strings.Contains(b.last, "Hồ Chí Minh") {
		t.Fatalf("register page: %d\n%s", status, b.last)
	}
	csrf := b.csrf()
	hostile := `<script>alert(1)</script>`
	for _, c := range []struct {
		name   string
		mod    func(url.Values)
		status int
		says   string
	}{
		{"no consent", func(f url.Values) { f.Del("consent") }, http.StatusBadRequest, "cần đồng ý"},
		{"PINs differ", func(f url.Values) { f.Set("pin2", "482916") }, http.StatusBadRequest, "không khớp"},
		{"bad CCCD", func(f url.Values) { f.Set("cccd", "12") }, http.StatusBadRequest, "12 digits"},
		{"no CSRF", func(f url.Values) { f.Del("csrf") }, http.StatusForbidden, ""},
	} {
		f := registerForm(csrf, "001198007001", "Ngô Thị Lan")
		c.mod(f)
		status, _, body := b.post("/app/register", f)
		if status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: HTTP %d\n%s", c.name, status, body)
		}
		if status == http.StatusBadRequest && (strings.Contains(body, "482915") || !strings.Contains(body, `value="Ngô Thị Lan"`)) {
			t.Errorf("%s: the form came back without the name, or with the PIN", c.name)
		}
	}
	if status, _, _ := b.postFrom("/app/register", registerForm(csrf, "001198007001", "Ngô Thị Lan"), "https://evil.example", "cross-site"); status != http.StatusForbidden {
		t.Errorf("a registration from another origin: HTTP %d", status)
	}

	ref, secret := b.registerIn(registerForm(csrf, "001198007001", hostile))
	if strings.Contains(b.last, hostile) || !strings.Contains(b.last, html.EscapeString(hostile)) {
		t.Errorf("the registered page does not escape the name:\n%s", b.last)
	}
	if status, _, body := b.post("/app/register", registerForm(csrf, "001198007001", "Ngô Thị Lan")); status != http.StatusConflict || !strings.Contains(body, "đang chờ duyệt") {
		t.Errorf("a second registration of one CCCD: HTTP %d\n%s", status, body)
	}
	claim := func(ref, secret string) (int, string) {
		b.get("/app/register/claim?ref=" + url.QueryEscape(ref))
		status, _, body := b.post("/app/register/claim", url.Values{"csrf": {b.csrf()}, "ref": {ref}, "secret": {secret}})
		return status, body
	}
	if status, body := claim(ref, "AAAA"+secret[4:]); status != http.StatusNotFound || !strings.Contains(body, "không đúng") {
		t.Errorf("a wrong secret: HTTP %d\n%s", status, body)
	}
	if status, body := claim(ref, secret); status != http.StatusOK || !strings.Contains(body, "đang chờ cán bộ") || strings.Contains(body, "otpauth") {
		t.Errorf("a pending registration: HTTP %d\n%s", status, body)
	}

	// Refused, with a hostile reason.
	ref2, secret2 := b.registerIn(registerForm(csrf, "001198007002", "Ngô Thị Lan"))
	if _, err := e.svc.RefuseRegistration(ctx, ref2, "officer:o", `<img src=x onerror=alert(2)> ảnh mờ`); err != nil {
		t.Fatal(err)
	}
	if status, body := claim(ref2, secret2); status != http.StatusOK || strings.Contains(body, "<img src=x") ||
		!strings.Contains(body, "&lt;img src=x onerror=alert(2)&gt; ảnh mờ") {
		t.Errorf("a refusal: HTTP %d\n%s", status, body)
	}

	// Approved: the second factor, once; not to another's secret.
	ref3, secret3 := b.registerIn(registerForm(csrf, "001198007003", "Ngô Thị Lan"))
	if _, err := e.svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: ref3, Actor: "officer:o",
		EvidenceKind: signing.EvidenceCCCDCard, EvidenceRef: "video"}); err != nil {
		t.Fatal(err)
	}
	if status, body := claim(ref3, secret2); status != http.StatusNotFound || strings.Contains(body, "otpauth") {
		t.Errorf("another registration's secret: HTTP %d\n%s", status, body)
	}
	status, body := claim(ref3, strings.ToLower(secret3))
	m := otpauthLink.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil || !strings.Contains(body, `<svg class="qr"`) {
		t.Fatalf("the claim: HTTP %d\n%s", status, body)
	}
	if status, body := claim(ref3, secret3); status != http.StatusOK || strings.Contains(body, "otpauth") || !strings.Contains(body, "đã được nhận") {
		t.Errorf("a second claim: HTTP %d\n%s", status, body)
	}
	en := &signing.Enrolment{NationalID: "CCCD:001198007003", TOTPURI: html.UnescapeString(m[1])}
	b2 := e.browser(t)
	b2.get("/app/login")
	status, loc, body := b2.post("/app/login", url.Values{"csrf": {b2.csrf()}, "cccd": {"001198007003"}, "pin": {"482915"}, "otp": {e.otp(t, en)}})
	if status != http.StatusSeeOther || loc != "/app/" {
		t.Fatalf("login with the claimed factor: HTTP %d %s\n%s", status, loc, body)
	}
	r, err := e.svc.Registration(ctx, ref3)
	if err != nil || r.Status != store.RegistrationClaimed {
		t.Errorf("after the claim: %+v %v", r, err)
	}
}

// TestRegisterFlood: registrations and claims from one address pass a
// bucket of their own before any work: over its burst, 429 with
// Retry-After, and nothing recorded.
func TestRegisterFlood(t *testing.T) {
	e := newEnvWith(t, func(o *app.Options) {
		o.RegisterLimit = httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: 3}, nil)
	})
	b := e.browser(t)
	b.get("/app/register")
	csrf := b.csrf()
	var last int
	for i := range 5 {
		last, _, _ = b.post("/app/register", registerForm(csrf, "00119800710"+string(rune('0'+i)), "Ngô Thị Lan"))
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("the 5th registration from one address over a burst of 3: HTTP %d", last)
	}
	list, err := e.svc.Registrations(context.Background(), "", 0)
	if err != nil || len(list) != 3 {
		t.Errorf("%d registrations recorded, want the 3 let through (%v)", len(list), err)
	}
	for range 3 {
		b.post("/app/register/claim", url.Values{"csrf": {csrf}, "ref": {list[0].ID}, "secret": {"guess"}})
	}
	if status, _, _ := b.post("/app/register/claim", url.Values{"csrf": {csrf}, "ref": {list[0].ID}, "secret": {"guess"}}); status != http.StatusTooManyRequests {
		t.Errorf("the 4th claim over a burst of 3: HTTP %d", status)
	}
}
